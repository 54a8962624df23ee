// The fast backends must accept exactly what the reference (noble, strict RFC 8032, roster-key
// rule) accepts. Every vector is checked against both and against its expected verdict.
import * as nodeCrypto from 'node:crypto';
import * as ed from '@noble/ed25519';
import { describe, expect, it } from 'vitest';
import { concat } from '../core/bytes.ts';
import {
  detectWebCryptoEd25519, isAcceptablePublicKeyCached, isCanonicalPointEncoding, isCanonicalScalar, passesStrictPrechecks,
  SPKI_ED25519_PREFIX, webCryptoVerifier, withPrefix,
} from './backends.ts';
import { ed25519Suite, fromHex, generateKeyPair, isAcceptablePublicKey, publicKeyOf, randomBytes, sign, toHex } from './ed25519.ts';
import { nodeSuite } from './node-suite.ts';
import { B, edgeVectors, flipBit, IDENTITY, L, le, nonCanonicalEncodings, P, RFC, scalar, SMALL_ORDER, toLE32, utf8, type Vector } from './edge-vectors.ts';

describe('strict pre-checks', () => {
  it('recognises canonical scalars', () => {
    expect(isCanonicalScalar(toLE32(0n))).toBe(true);
    expect(isCanonicalScalar(toLE32(L - 1n))).toBe(true);
    expect(isCanonicalScalar(toLE32(L))).toBe(false);
    expect(isCanonicalScalar(toLE32(L + 1n))).toBe(false);
    expect(isCanonicalScalar(toLE32(2n ** 253n))).toBe(false);
    expect(isCanonicalScalar(toLE32(2n ** 252n))).toBe(true);
    for (let i = 0; i < 2000; i++) {
      const s = le(randomBytes(32)) >> BigInt(i % 5); // mostly around L's size
      expect(isCanonicalScalar(toLE32(s))).toBe(s < L);
    }
  });

  it('agrees with noble strict decoding on which encodings are canonical (for points that decode)', () => {
    const encodings = [
      ...SMALL_ORDER,
      ...nonCanonicalEncodings().map((e) => e.bytes),
      B.toBytes(),
      B.multiply(scalar('x')).toBytes(),
      toLE32(P - 1n), // (0, -1) is a point
      toLE32(P - 2n),
    ];
    for (const bytes of encodings) {
      let lenient = true;
      try {
        ed.Point.fromBytes(bytes, true);
      } catch {
        lenient = false;
      }
      if (!lenient) continue; // not a point at all: nothing to compare
      let strict = true;
      try {
        ed.Point.fromBytes(bytes, false);
      } catch {
        strict = false;
      }
      expect(isCanonicalPointEncoding(bytes), toHex(bytes)).toBe(strict);
    }
  });

  it('caches the roster-key rule without changing it', () => {
    const pk = generateKeyPair().publicKey;
    expect(isAcceptablePublicKeyCached(pk)).toBe(true);
    expect(isAcceptablePublicKeyCached(pk)).toBe(true);
    const mutated = pk; // the same object changed in place must be re-checked
    const saved = mutated.slice();
    mutated.set(IDENTITY);
    expect(isAcceptablePublicKeyCached(mutated)).toBe(false);
    mutated.set(saved);
    expect(isAcceptablePublicKeyCached(mutated)).toBe(true);
    for (const T of SMALL_ORDER) expect(isAcceptablePublicKeyCached(T)).toBe(false);
    expect(passesStrictPrechecks(pk, new Uint8Array(), new Uint8Array(64))).toBe(true);
  });
});

describe('nodeSuite accepts exactly what the reference accepts', () => {
  const suite = nodeSuite();
  const vectors = edgeVectors();

  it(`agrees on ${vectors.length} edge-case vectors, each with its expected verdict`, () => {
    const wrong: string[] = [];
    for (const v of vectors) {
      const ref = ed25519Suite.verify(v.publicKey, v.message, v.signature);
      const fast = suite.verify(v.publicKey, v.message, v.signature);
      if (ref !== v.expected || fast !== v.expected) wrong.push(`${v.name}: expected ${v.expected}, reference ${ref}, node ${fast}`);
    }
    expect(wrong).toEqual([]);
  });

  it('documents where raw OpenSSL (without pre-checks and fallback) would disagree', () => {
    const raw = (v: Vector): boolean | 'refused-key' => {
      try {
        const key = nodeCrypto.createPublicKey({ key: Buffer.from(withPrefix(SPKI_ED25519_PREFIX, v.publicKey)), format: 'der', type: 'spki' });
        return nodeCrypto.verify(null, v.message, key, v.signature);
      } catch {
        return 'refused-key';
      }
    };
    const acceptedMore = vectors.filter((v) => v.publicKey.length === 32 && v.signature.length === 64 && !v.expected && raw(v) === true);
    const acceptedLess = vectors.filter((v) => v.publicKey.length === 32 && v.signature.length === 64 && v.expected && raw(v) !== true);
    // OpenSSL does not check the key: small-order keys sign anything (R = identity, S = 0).
    expect(acceptedMore.map((v) => v.name)).toContain('small-order key T0, R = T0, S = 0');
    expect(acceptedMore.every((v) => ['small-order key', 'non-canonical key', 'mixed-order key'].some((p) => v.name.startsWith(p)))).toBe(true);
    // OpenSSL is cofactorless: torsion in R or in the key makes it refuse what noble accepts.
    expect(acceptedLess.map((v) => v.name)).toContain('R = rB + T4');
    expect(acceptedLess.map((v) => v.name)).toContain('R = T1, S = k·a');
    expect(acceptedLess.every((v) => v.name.startsWith('R = '))).toBe(true);
    // Only the reference fallback got those right.
    expect(suite.stats.fallbackAccepted).toBeGreaterThan(0);
  });

  it('never throws on malformed input', () => {
    const weird: unknown[] = [undefined, null, 'abc', 42, {}, [], new Uint8Array(0), new Uint8Array(100), new Uint16Array(32)];
    const kp = generateKeyPair();
    const sig = sign(new Uint8Array(), kp.secretKey);
    for (const x of weird) {
      expect(suite.verify(x as Uint8Array, new Uint8Array(), sig)).toBe(false);
      expect(suite.verify(kp.publicKey, new Uint8Array(), x as Uint8Array)).toBe(false);
      expect(suite.verify(kp.publicKey, x as Uint8Array, sig)).toBe(ed25519Suite.verify(kp.publicKey, x as Uint8Array, sig));
    }
  });

  it('agrees on thousands of random keys, messages and signatures with bit flips', () => {
    const rounds = 400;
    let checked = 0;
    const wrong: string[] = [];
    const check = (name: string, pk: Uint8Array, msg: Uint8Array, sig: Uint8Array, expected: boolean) => {
      checked++;
      const ref = ed25519Suite.verify(pk, msg, sig);
      const fast = suite.verify(pk, msg, sig);
      if (ref !== expected || fast !== expected) wrong.push(`${name}: expected ${expected}, reference ${ref}, node ${fast}`);
    };
    for (let i = 0; i < rounds; i++) {
      const kp = generateKeyPair();
      const msg = randomBytes(i % 97);
      const sig = sign(msg, kp.secretKey);
      check(`random ${i}`, kp.publicKey, msg, sig, true);
      check(`random ${i}, sig bit`, kp.publicKey, msg, flipBit(sig, (i * 37) % 512), false);
      check(`random ${i}, R bit`, kp.publicKey, msg, flipBit(sig, (i * 13) % 256), false);
      check(`random ${i}, S bit`, kp.publicKey, msg, flipBit(sig, 256 + ((i * 11) % 256)), false);
      check(`random ${i}, key bit`, flipBit(kp.publicKey, (i * 29) % 256), msg, sig, false);
      if (msg.length > 0) check(`random ${i}, message bit`, kp.publicKey, flipBit(msg, (i * 7) % (msg.length * 8)), sig, false);
      check(`random ${i}, random signature`, kp.publicKey, msg, randomBytes(64), false);
      // Random 32 bytes as a key: about half decode to points; none of them signed this.
      check(`random ${i}, random key`, randomBytes(32), msg, sig, false);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(3000);
  }, 120_000);

  it('signs byte-identically to noble', () => {
    for (const t of RFC) {
      expect(toHex(suite.sign(fromHex(t.secret), fromHex(t.message)))).toBe(t.signature);
    }
    for (let i = 0; i < 200; i++) {
      const { secretKey } = generateKeyPair();
      const msg = randomBytes(i * 3);
      expect(toHex(suite.sign(secretKey, msg))).toBe(toHex(sign(msg, secretKey)));
      expect(suite.verify(publicKeyOf(secretKey), msg, suite.sign(secretKey, msg))).toBe(true);
    }
  });

  it('keeps signing correctly when a cached secret key array changes in place', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    const key = a.secretKey.slice();
    const msg = utf8('x');
    expect(toHex(suite.sign(key, msg))).toBe(toHex(sign(msg, a.secretKey)));
    key.set(b.secretKey);
    expect(toHex(suite.sign(key, msg))).toBe(toHex(sign(msg, b.secretKey)));
  });
});

describe('webCryptoVerifier', () => {
  it('detects WebCrypto Ed25519 in this Node', async () => {
    expect(await detectWebCryptoEd25519()).toBe(true);
    expect(await detectWebCryptoEd25519(null)).toBe(false);
  });

  it('agrees with the reference on every edge-case vector', async () => {
    const web = webCryptoVerifier();
    const wrong: string[] = [];
    for (const v of edgeVectors()) {
      const fast = await web.verifyAsync(v.publicKey, v.message, v.signature);
      if (fast !== v.expected) wrong.push(`${v.name}: expected ${v.expected}, webcrypto ${fast}`);
    }
    expect(wrong).toEqual([]);
    expect(web.stats.platformAccepted).toBeGreaterThan(0);
  });

  it('signs byte-identically to noble (PKCS#8 import of the seed)', async () => {
    const web = webCryptoVerifier();
    for (const t of RFC) expect(toHex(await web.signAsync(fromHex(t.secret), fromHex(t.message)))).toBe(t.signature);
    for (let i = 0; i < 50; i++) {
      const { secretKey, publicKey } = generateKeyPair();
      const msg = randomBytes(i);
      const sig = await web.signAsync(secretKey, msg);
      expect(toHex(sig)).toBe(toHex(sign(msg, secretKey)));
      expect(await web.verifyAsync(publicKey, msg, sig)).toBe(true);
      expect(await web.verifyAsync(publicKey, msg, flipBit(sig, i))).toBe(false);
    }
  });

  it('falls back to the reference when WebCrypto is missing', async () => {
    const web = webCryptoVerifier(null);
    const kp = generateKeyPair();
    const msg = utf8('no webcrypto');
    const sig = await web.signAsync(kp.secretKey, msg);
    expect(toHex(sig)).toBe(toHex(sign(msg, kp.secretKey)));
    expect(await web.verifyAsync(kp.publicKey, msg, sig)).toBe(true);
    expect(await web.verifyAsync(SMALL_ORDER[0]!, msg, concat(IDENTITY, new Uint8Array(32)))).toBe(false);
  });
});

it('the key rule refuses the mixed-order keys in the vectors (a small-order component)', () => {
  const A = B.multiply(scalar('key a'));
  expect(isAcceptablePublicKey(A.toBytes())).toBe(true);
  for (const T of SMALL_ORDER.slice(1)) expect(isAcceptablePublicKey(A.add(ed.Point.fromBytes(T, false)).toBytes())).toBe(false);
});
