import { describe, expect, it } from 'vitest';
import {
  fingerprint, fromHex, generateKeyPair, isAcceptablePublicKey, publicKeyOf, sign, signedBytes, toHex, verify,
} from './ed25519.ts';

// RFC 8032 section 7.1, test 1 (empty message).
const RFC_SECRET = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC_SIG =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

describe('ed25519', () => {
  it('matches the RFC 8032 vector', () => {
    const secret = fromHex(RFC_SECRET);
    expect(toHex(publicKeyOf(secret))).toBe(RFC_PUBLIC);
    expect(toHex(sign(new Uint8Array(), secret))).toBe(RFC_SIG);
    expect(verify(fromHex(RFC_SIG), new Uint8Array(), fromHex(RFC_PUBLIC))).toBe(true);
  });

  it('rejects a signature over other bytes, by another key, or malformed', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    const msg = signedBytes('test/v1', { x: 1 });
    const sig = sign(msg, a.secretKey);
    expect(verify(sig, msg, a.publicKey)).toBe(true);
    expect(verify(sig, signedBytes('test/v1', { x: 2 }), a.publicKey)).toBe(false);
    expect(verify(sig, signedBytes('other/v1', { x: 1 }), a.publicKey)).toBe(false);
    expect(verify(sig, msg, b.publicKey)).toBe(false);
    expect(verify(sig.subarray(0, 63), msg, a.publicKey)).toBe(false);
    expect(verify(sig, msg, new Uint8Array(31))).toBe(false);
  });

  it('rejects a malleable signature (S + L) that ZIP-215 style checks might accept', () => {
    const kp = generateKeyPair();
    const msg = new Uint8Array([1, 2, 3]);
    const sig = sign(msg, kp.secretKey);
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
    const bumped = s + L;
    const forged = sig.slice();
    let v = bumped;
    for (let i = 0; i < 32; i++) {
      forged[32 + i] = Number(v & 0xffn);
      v >>= 8n;
    }
    expect(v).toBe(0n); // S + L still fits in 32 bytes, so only the strict rule stops it
    expect(verify(forged, msg, kp.publicKey)).toBe(false);
  });

  it('refuses small-order and non-canonical public keys', () => {
    const identity = new Uint8Array(32);
    identity[0] = 1; // the neutral point, order 1
    expect(isAcceptablePublicKey(identity)).toBe(false);
    const nonCanonical = new Uint8Array(32).fill(0xff);
    nonCanonical[31] = 0x7f; // y = 2^255 - 1 >= p
    expect(isAcceptablePublicKey(nonCanonical)).toBe(false);
    expect(isAcceptablePublicKey(generateKeyPair().publicKey)).toBe(true);
  });

  it('gives a stable short fingerprint', () => {
    const pub = fromHex(RFC_PUBLIC);
    expect(fingerprint(pub)).toMatch(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/);
    expect(fingerprint(pub)).toBe(fingerprint(fromHex(RFC_PUBLIC)));
    expect(fingerprint(pub)).not.toBe(fingerprint(generateKeyPair().publicKey));
  });
});

describe('public keys with a small-order component', () => {
  it('are refused, though the point is on the curve and not itself of small order', async () => {
    const ed = await import('@noble/ed25519');
    const honest = generateKeyPair().publicKey;
    // An order-2 point: (0, -1).
    const order2 = ed.Point.fromHex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    const mixed = ed.Point.fromBytes(honest).add(order2).toBytes();
    expect(isAcceptablePublicKey(honest)).toBe(true);
    expect(isAcceptablePublicKey(mixed)).toBe(false);
  });
});
