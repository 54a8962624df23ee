// Holds one browser engine's WebCrypto Ed25519 to the project's one signature rule. The page
// answers every edge-case vector with its own WebCrypto (BoringSSL in Chromium, NSS in Firefox);
// the strict wrapper of src/crypto/backends.ts then runs here, in Node, on exactly those answers.
// So the wrapper that would put WebCrypto on the signing path is checked against the engines it
// would meet, and a disagreement between two engines would show as a wrong verdict in one.
import type { Page } from '@playwright/test';
import { webCryptoVerifier } from '../src/crypto/backends.ts';
import { edgeVectors } from '../src/crypto/edge-vectors.ts';
import { toHex } from '../src/core/bytes.ts';

/** What the engine said about one vector: its verdict, or where its WebCrypto refused to work. */
type RawAnswer = boolean | 'import-refused' | 'verify-threw';

/** How one engine did on the vectors, with and without the wrapper. */
export interface EngineVerdicts {
  /** Vectors checked. */
  total: number;
  /** Vectors where the engine's bare WebCrypto gave a different verdict from the rule, by name. */
  bareDisagrees: string[];
  /** Vectors where the wrapper over the engine gave a different verdict from the rule, by name. */
  wrappedDisagrees: string[];
  /** Signatures the engine itself accepted (0 would mean WebCrypto never really ran). */
  engineAccepted: number;
  /** Verdicts the wrapper took from the engine's "yes" rather than from the reference. */
  wrapperTookEngine: number;
  /** Questions the wrapper asked that the page was never asked (must be 0, or the check is hollow). */
  unasked: number;
}

const key = (publicKey: string, message: string, signature: string): string => `${publicKey}/${message}/${signature}`;

/** Runs every edge-case vector through `page`'s WebCrypto and scores it, bare and wrapped. */
export async function webCryptoVerdicts(page: Page): Promise<EngineVerdicts> {
  const vectors = edgeVectors();
  const cases = vectors.map((v) => ({ publicKey: toHex(v.publicKey), message: toHex(v.message), signature: toHex(v.signature) }));
  const answers: RawAnswer[] = await page.evaluate(async (all) => {
    const bytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
    const out: (boolean | 'import-refused' | 'verify-threw')[] = [];
    for (const c of all) {
      let k: CryptoKey;
      try {
        k = await crypto.subtle.importKey('raw', bytes(c.publicKey), { name: 'Ed25519' }, false, ['verify']);
      } catch {
        out.push('import-refused');
        continue;
      }
      try {
        out.push(await crypto.subtle.verify({ name: 'Ed25519' }, k, bytes(c.signature), bytes(c.message)));
      } catch {
        out.push('verify-threw');
      }
    }
    return out;
  }, cases);

  // A SubtleCrypto that answers as the engine did: the wrapper cannot tell it from the page's own.
  const byCase = new Map(cases.map((c, i) => [key(c.publicKey, c.message, c.signature), answers[i]!]));
  const refusedKeys = new Set(cases.filter((_, i) => answers[i] === 'import-refused').map((c) => c.publicKey));
  // A question the page was never asked would make the stub throw, the wrapper fall back to the
  // reference, and the check pass without the engine: such questions are counted and must be none.
  let unasked = 0;
  const asEngine = {
    importKey: async (format: string, data: Uint8Array) => {
      const hex = toHex(data);
      if (format !== 'raw' || !cases.some((c) => c.publicKey === hex)) {
        unasked++;
        throw new Error(`the page was not asked to import this key as ${format}`);
      }
      if (refusedKeys.has(hex)) throw new Error('the engine refused this key');
      return { hex };
    },
    verify: async (_alg: unknown, k: { hex: string }, signature: Uint8Array, message: Uint8Array) => {
      const answer = byCase.get(key(k.hex, toHex(message), toHex(signature)));
      if (answer === undefined) unasked++;
      if (typeof answer !== 'boolean') throw new Error(`the engine gave no verdict (${answer ?? 'not asked'})`);
      return answer;
    },
  } as unknown as SubtleCrypto;
  const wrapped = webCryptoVerifier(asEngine);

  const result: EngineVerdicts = { total: vectors.length, bareDisagrees: [], wrappedDisagrees: [], engineAccepted: 0, wrapperTookEngine: 0, unasked: 0 };
  for (const [i, v] of vectors.entries()) {
    const bare = answers[i] === true;
    if (bare) result.engineAccepted++;
    if (bare !== v.expected) result.bareDisagrees.push(v.name);
    if ((await wrapped.verifyAsync(v.publicKey, v.message, v.signature)) !== v.expected) result.wrappedDisagrees.push(v.name);
  }
  result.wrapperTookEngine = wrapped.stats.platformAccepted;
  result.unasked = unasked;
  return result;
}
