// Faster Ed25519 backends that accept exactly what the reference (`verify` in ./ed25519.ts,
// strict RFC 8032 = noble's `zip215: false`, plus the roster-key rule) accepts — no more, no less.
//
// Platform verifiers (OpenSSL behind node:crypto; BoringSSL, NSS or CryptoKit behind WebCrypto)
// do not all apply the same rule as noble. Measured against node:crypto (OpenSSL 3.0, see
// backends.test.ts), the differences are:
//
//  - OpenSSL accepts what the reference refuses: signatures under small-order public keys (the
//    "anyone can sign" case: A = a small-order point, R = identity, S = 0 verifies for every
//    message), because it does not check the key at all. Closed by pre-checks (below).
//  - The reference accepts what OpenSSL refuses: noble's strict branch still uses the
//    *cofactored* equation [8]SB = [8]R + [8]kA, while OpenSSL checks the cofactorless
//    SB - kA == R by comparing encodings. So signatures whose R has a small-order component
//    (R = rB + T), small-order R other than the identity, and most signatures under mixed-order
//    keys (A = aB + T, which the roster rule does not refuse) verify with noble and not with
//    OpenSSL. A member could craft such a signature on purpose to split the room. No pre-check
//    can make a verifier accept more, so a platform "no" is re-checked with the reference.
//
// The resulting rule: pre-checks (cheap byte tests, cached key check) → platform verify →
// on "no", the reference decides. Correct signatures (the normal case) cost one platform verify;
// invalid ones cost what they cost today with noble. This is exact as long as the platform never
// accepts a signature whose encodings pass the pre-checks and the cofactored equation fails —
// true of every correct cofactorless or cofactored implementation, since SB - kA == R implies
// [8]SB == [8]R + [8]kA.
//
// The browser: WebCrypto's verify is asynchronous, and the core's CryptoSuite is synchronous, so
// the replica keeps noble in the browser for now. `webCryptoVerifier()` wraps WebCrypto with the
// same pre-checks and fallback for async callers (and the benchmark, which measures both).
// This module never imports node:crypto; the Node suite lives in ./node-suite.ts.
import { isAcceptablePublicKey, sign as nobleSign, verify as referenceVerify, KEY_BYTES, SIGNATURE_BYTES } from './ed25519.ts';
import { toHex } from '../core/bytes.ts';

/** The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian bytes. */
const L_BYTES = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
]);

/** True when the 32 little-endian bytes at `offset` encode an integer below L (a canonical S). */
export function isCanonicalScalar(bytes: Uint8Array, offset = 0): boolean {
  for (let i = 31; i >= 0; i--) {
    const b = bytes[offset + i]!;
    const l = L_BYTES[i]!;
    if (b < l) return true;
    if (b > l) return false;
  }
  return false; // equal to L
}

/**
 * True when the 32 bytes at `offset` are a canonical point encoding as far as cheap byte tests can
 * tell: y (sign bit cleared) below p = 2^255 - 19, and not x = 0 with the sign bit set (x = 0 only
 * for y = 1 and y = p - 1). Whether y is on the curve at all is left to the verifier.
 */
export function isCanonicalPointEncoding(bytes: Uint8Array, offset = 0): boolean {
  const top = bytes[offset + 31]!;
  const sign = top & 0x80;
  const high = top & 0x7f;
  let middleAllFF = high === 0x7f;
  let middleAllZero = high === 0;
  for (let i = 1; i < 31; i++) {
    const b = bytes[offset + i]!;
    if (b !== 0xff) middleAllFF = false;
    if (b !== 0) middleAllZero = false;
  }
  const low = bytes[offset]!;
  // y >= p: 0x7f ff .. ff followed by a low byte >= 0xed (little-endian).
  if (middleAllFF && low >= 0xed) return false;
  if (sign) {
    if (middleAllZero && low === 0x01) return false; // y = 1, x = 0
    if (middleAllFF && low === 0xec) return false; // y = p - 1, x = 0
  }
  return true;
}

/** Bounded caches: a roster has a handful of keys; anything else just gets rebuilt. */
const CACHE_LIMIT = 4096;


/**
 * A cache keyed by byte content, with a fast path for the same Uint8Array object (the replica
 * passes the roster's key objects every time). The fast path re-checks the content, because a
 * Uint8Array can be changed after the fact.
 */
export class BytesCache<V> {
  private readonly byObject = new WeakMap<Uint8Array, { copy: Uint8Array; value: V }>();
  private readonly byHex = new Map<string, V>();

  get(key: Uint8Array, make: (key: Uint8Array) => V): V {
    const hit = this.byObject.get(key);
    if (hit && sameContent(hit.copy, key)) return hit.value;
    const h = toHex(key);
    let value = this.byHex.get(h);
    if (value === undefined && !this.byHex.has(h)) {
      value = make(key);
      if (this.byHex.size >= CACHE_LIMIT) this.byHex.clear();
      this.byHex.set(h, value);
    }
    this.byObject.set(key, { copy: key.slice(), value: value as V });
    return value as V;
  }
}

function sameContent(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const acceptableKeys = new BytesCache<boolean>();

/** `isAcceptablePublicKey` (canonical, not small order), cached per key. */
export function isAcceptablePublicKeyCached(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_BYTES) return false;
  return acceptableKeys.get(publicKey, isAcceptablePublicKey);
}

/**
 * Everything the reference refuses that a platform verifier might let through: wrong lengths,
 * S >= L (malleability), a non-canonical R, and unacceptable public keys (non-canonical or small
 * order). A false here is final; a true means "now ask the platform".
 */
export function passesStrictPrechecks(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false;
  if (!(message instanceof Uint8Array)) return false;
  if (!isCanonicalScalar(signature, 32)) return false;
  if (!isCanonicalPointEncoding(signature, 0)) return false;
  return isAcceptablePublicKeyCached(publicKey);
}

/** Counters for how often the reference had to decide (platform said no). */
export interface StrictVerifierStats {
  prechecksFailed: number;
  platformAccepted: number;
  fallbacks: number;
  fallbackAccepted: number;
}

export function newStats(): StrictVerifierStats {
  return { prechecksFailed: 0, platformAccepted: 0, fallbacks: 0, fallbackAccepted: 0 };
}

/**
 * The tail shared by every strict verifier, once the pre-checks passed and the platform answered:
 * a platform "yes" stands; a "no" (or a throw, passed in as `false`) is re-decided by the reference,
 * because cofactorless platforms refuse some signatures the (cofactored) reference accepts.
 */
function settleVerdict(
  platformAccepted: boolean,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  stats: StrictVerifierStats,
): boolean {
  if (platformAccepted) {
    stats.platformAccepted++;
    return true;
  }
  stats.fallbacks++;
  const verdict = referenceVerify(signature, message, publicKey);
  if (verdict) stats.fallbackAccepted++;
  return verdict;
}

/**
 * Wrap a fast synchronous platform verifier so that it accepts exactly what the reference accepts.
 * `platform` may throw; a throw counts as "no" (and then the reference decides).
 */
export function strictVerifier(
  platform: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean,
  stats: StrictVerifierStats = newStats(),
): (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean {
  return (publicKey, message, signature) => {
    if (!passesStrictPrechecks(publicKey, message, signature)) {
      stats.prechecksFailed++;
      return false;
    }
    let ok = false;
    try {
      ok = platform(publicKey, message, signature) === true;
    } catch {
      ok = false;
    }
    return settleVerdict(ok, publicKey, message, signature, stats);
  };
}

// ---- WebCrypto (browsers; Node has it too) ----

/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
export const PKCS8_ED25519_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
/** DER prefix of an SPKI Ed25519 public key; the 32-byte key follows. */
export const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

export function withPrefix(prefix: Uint8Array, key: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(prefix.length + key.length);
  out.set(prefix, 0);
  out.set(key, prefix.length);
  return out;
}

/** A copy backed by a plain ArrayBuffer, as WebCrypto's BufferSource wants. */
function buf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

const ED25519 = { name: 'Ed25519' } as const;

// RFC 8032 section 7.1, test 2 (one-byte message 0x72): a known-good signature for detection.
const PROBE_PUBLIC = '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c';
const PROBE_SIG =
  '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00';

function unhex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * True when this platform's WebCrypto verifies Ed25519 (Chrome 137+, Firefox 129+, Safari 17+,
 * Node 20): it must accept a known-good RFC 8032 signature and refuse a corrupted one.
 */
export async function detectWebCryptoEd25519(subtle: SubtleCrypto | null | undefined = globalThis.crypto?.subtle): Promise<boolean> {
  if (!subtle) return false;
  try {
    const key = await subtle.importKey('raw', unhex(PROBE_PUBLIC), ED25519, false, ['verify']);
    const msg = Uint8Array.of(0x72);
    const good = unhex(PROBE_SIG);
    const bad = good.slice();
    bad[0]! ^= 1;
    const [yes, no] = await Promise.all([subtle.verify(ED25519, key, good, msg), subtle.verify(ED25519, key, bad, msg)]);
    return yes === true && no === false;
  } catch {
    return false;
  }
}

export interface AsyncEd25519 {
  readonly name: string;
  /** Exactly the reference's verdict; never rejects (anything malformed is false). */
  verifyAsync(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** Byte-identical to the reference's signature (Ed25519 is deterministic). */
  signAsync(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  readonly stats: StrictVerifierStats;
}

/**
 * WebCrypto Ed25519 behind the strict pre-checks and the reference fallback. Keys are imported
 * once and cached (public keys as 'raw', secret seeds as PKCS#8). Call `detectWebCryptoEd25519`
 * first; without support (or with `null`) every call fails over to noble: correct, not faster.
 *
 * Not used by the replica: the core's CryptoSuite is synchronous and the browser keeps noble.
 */
export function webCryptoVerifier(subtle: SubtleCrypto | null | undefined = globalThis.crypto?.subtle): AsyncEd25519 {
  const stats = newStats();
  const publicKeys = new BytesCache<Promise<CryptoKey | null>>();
  const secretKeys = new WeakMap<Uint8Array, { copy: Uint8Array; key: Promise<CryptoKey | null> }>();

  const importPublic = (pk: Uint8Array): Promise<CryptoKey | null> =>
    subtle ? subtle.importKey('raw', buf(pk), ED25519, false, ['verify']).catch(() => null) : Promise.resolve(null);
  const importSecret = (sk: Uint8Array): Promise<CryptoKey | null> => {
    const hit = secretKeys.get(sk);
    if (hit && sameContent(hit.copy, sk)) return hit.key;
    const key = subtle && sk.length === 32
      ? subtle.importKey('pkcs8', withPrefix(PKCS8_ED25519_PREFIX, sk), ED25519, false, ['sign']).catch(() => null)
      : Promise.resolve(null);
    secretKeys.set(sk, { copy: sk.slice(), key });
    return key;
  };

  return {
    name: 'ed25519-webcrypto',
    stats,
    async verifyAsync(publicKey, message, signature) {
      if (!passesStrictPrechecks(publicKey, message, signature)) {
        stats.prechecksFailed++;
        return false;
      }
      let ok = false;
      try {
        const key = await publicKeys.get(publicKey, importPublic);
        if (key) ok = (await subtle!.verify(ED25519, key, buf(signature), buf(message))) === true;
      } catch {
        ok = false;
      }
      return settleVerdict(ok, publicKey, message, signature, stats);
    },
    async signAsync(secretKey, message) {
      const key = await importSecret(secretKey);
      if (!key) return nobleSign(message, secretKey);
      return new Uint8Array(await subtle!.sign(ED25519, key, buf(message)));
    },
  };
}
