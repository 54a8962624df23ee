// Hand-built Ed25519 edge cases with the verdict the project's one signature rule (strict RFC 8032
// plus the roster-key rule, see ./ed25519.ts) must give each. Test support only, never bundled:
// the unit tests hold every verifier to them, and the mixed-browser e2e test holds each engine's
// WebCrypto, behind the strict wrapper of ./backends.ts, to them.
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { concat } from '../core/bytes.ts';
import { fromHex, toHex } from './ed25519.ts';

/** The field prime p = 2^255 - 19. */
export const P = 2n ** 255n - 19n;
/** The prime order L of the base point. */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;
/** The base point. */
export const B = ed.Point.BASE;

/** Little-endian bytes as an integer. */
export const le = (b: Uint8Array): bigint => {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!);
  return x;
};
/** An integer below 2^256 as 32 little-endian bytes. */
export const toLE32 = (x: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (x !== 0n) throw new Error('does not fit in 32 bytes');
  return out;
};
/** UTF-8 bytes of a string. */
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const challenge = (R: Uint8Array, A: Uint8Array, M: Uint8Array): bigint => le(sha512(concat(R, A, M))) % L;
/** R || S with S = r + k·a (mod L), k = H(R || A || M): a signature made with the scalar a directly. */
export const forge = (a: bigint, A: Uint8Array, R: Uint8Array, r: bigint, M: Uint8Array): Uint8Array =>
  concat(R, toLE32((r + challenge(R, A, M) * a) % L));
/** The signature with its S replaced by `s` (any 256-bit value, canonical or not). */
export const withS = (sig: Uint8Array, s: bigint): Uint8Array => concat(sig.subarray(0, 32), toLE32(s));
/** A copy with one bit flipped (bit 0 is the low bit of byte 0). */
export const flipBit = (bytes: Uint8Array, bit: number): Uint8Array => {
  const out = bytes.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
};
/** A deterministic scalar in [1, L) from a label. */
export const scalar = (label: string): bigint => (le(sha512(utf8(label))) % (L - 1n)) + 1n;

/** The eight small-order points (order 1, 2, 4, 4, 8, 8, 8, 8), canonically encoded. */
export const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2: (0, -1)
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  '0000000000000000000000000000000000000000000000000000000000000080', // order 4
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
].map(fromHex);
/** The neutral element's canonical encoding. */
export const IDENTITY = SMALL_ORDER[0]!;

/** Non-canonical encodings: y >= p (y = p + y'), and x = 0 with the sign bit set. */
export function nonCanonicalEncodings(): { name: string; bytes: Uint8Array; smallOrder: boolean }[] {
  const out: { name: string; bytes: Uint8Array; smallOrder: boolean }[] = [];
  for (let y = 0n; y < 19n; y++) {
    for (const signBit of [false, true]) {
      const bytes = toLE32(P + y);
      if (signBit) bytes[31]! |= 0x80;
      let point: ed.Point;
      try {
        point = ed.Point.fromBytes(bytes, true); // the lenient decoder: which of these are points at all
      } catch {
        continue;
      }
      out.push({ name: `y=p+${y}${signBit ? ',sign' : ''}`, bytes, smallOrder: point.isSmallOrder() });
    }
  }
  const identitySign = IDENTITY.slice();
  identitySign[31]! |= 0x80;
  out.push({ name: 'identity with sign bit', bytes: identitySign, smallOrder: true });
  const minusOneSign = SMALL_ORDER[1]!.slice();
  minusOneSign[31]! |= 0x80;
  out.push({ name: '(0,-1) with sign bit', bytes: minusOneSign, smallOrder: true });
  return out;
}

/** RFC 8032 section 7.1: tests 1, 2, 3 and "SHA(abc)". */
export const RFC = [
  {
    name: 'test 1', secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'test 2', secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'test 3', secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'SHA(abc)', secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    public: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message: toHex(sha512(utf8('abc'))),
    signature: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

/** One case: the inputs and the verdict the signature rule must give. */
export interface Vector {
  name: string;
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
  expected: boolean;
}

/** Every hand-built edge case, with the verdict strict RFC 8032 plus the roster rule must give. */
export function edgeVectors(): Vector[] {
  const vectors: Vector[] = [];
  // T0 is the identity, so some small-order cases repeat earlier ones byte for byte: each is kept
  // once, under its first name, so that counts of cases mean distinct inputs.
  const seen = new Map<string, boolean>();
  const add = (name: string, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, expected: boolean) => {
    const id = `${toHex(publicKey)}/${toHex(message)}/${toHex(signature)}`;
    const before = seen.get(id);
    if (before !== undefined) {
      if (before !== expected) throw new Error(`edge case “${name}” repeats an earlier one with the opposite verdict`);
      return;
    }
    seen.set(id, expected);
    vectors.push({ name, publicKey, message, signature, expected });
  };

  for (const t of RFC) {
    const pk = fromHex(t.public);
    const msg = fromHex(t.message);
    const sig = fromHex(t.signature);
    add(`RFC 8032 ${t.name}`, pk, msg, sig, true);
    const s = le(sig.subarray(32));
    add(`RFC 8032 ${t.name}, S + L (malleable)`, pk, msg, withS(sig, s + L), false);
    add(`RFC 8032 ${t.name}, wrong message`, pk, concat(msg, Uint8Array.of(0)), sig, false);
  }

  // A torsion-free key whose scalar we know, to build signatures by hand.
  const a = scalar('key a');
  const A = B.multiply(a);
  const Ab = A.toBytes();
  const msg = utf8('lunch at noon');
  const r = scalar('nonce r');
  const Rb = B.multiply(r).toBytes();
  const good = forge(a, Ab, Rb, r, msg);
  add('hand-made signature', Ab, msg, good, true);
  add('S = L', Ab, msg, withS(good, L), false);
  add('S = L - 1 (canonical, wrong)', Ab, msg, withS(good, L - 1n), false);
  add('S = 0 (canonical, wrong)', Ab, msg, withS(good, 0n), false);
  add('S = 2^253', Ab, msg, withS(good, 2n ** 253n), false);
  add('S = 2^256 - 1', Ab, msg, withS(good, 2n ** 256n - 1n), false);
  add('S + 2L', Ab, msg, withS(good, le(good.subarray(32)) + 2n * L), false);
  add('S with the top bit set', Ab, msg, withS(good, le(good.subarray(32)) | (1n << 255n)), false);
  add('signature 63 bytes', Ab, msg, good.subarray(0, 63), false);
  add('signature 65 bytes', Ab, msg, concat(good, Uint8Array.of(0)), false);
  add('public key 31 bytes', Ab.subarray(0, 31), msg, good, false);
  add('empty signature', Ab, msg, new Uint8Array(0), false);

  // S = 0 with the identity as R: SB - kA = identity only if kA = 0 (never for this key).
  add('R = identity, S = 0, proper key', Ab, msg, concat(IDENTITY, new Uint8Array(32)), false);
  // R = identity and S = k·a: SB - kA = identity; both equations hold.
  add('R = identity, S = k·a', Ab, msg, forge(a, Ab, IDENTITY, 0n, msg), true);

  // R with a small-order component (R = rB + T) and small-order R (R = T, S = k·a): the cofactored
  // equation holds, the cofactorless one does not (unless T is the identity).
  for (const [i, T] of SMALL_ORDER.entries()) {
    const Tp = ed.Point.fromBytes(T, false);
    const RT = B.multiply(r).add(Tp).toBytes();
    add(`R = rB + T${i}`, Ab, msg, forge(a, Ab, RT, r, msg), true);
    add(`R = T${i}, S = k·a`, Ab, msg, forge(a, Ab, T, 0n, msg), true);
    add(`R = T${i}, S = 0`, Ab, msg, concat(T, new Uint8Array(32)), false);
  }

  // Small-order public keys: "anyone can sign". With A = T and R = identity, S = 0: SB - kA = -kT,
  // which is the identity whenever k ≡ 0 mod ord(T) — always for T = identity. The roster rule refuses
  // all of them regardless of the signature.
  for (const [i, T] of SMALL_ORDER.entries()) {
    for (const [j, R] of SMALL_ORDER.entries()) {
      add(`small-order key T${i}, R = T${j}, S = 0`, T, msg, concat(R, new Uint8Array(32)), false);
    }
    add(`small-order key T${i}, honest-looking signature`, T, msg, good, false);
    // A signature "by" the small-order key that satisfies the cofactored equation for every message.
    const Tp = ed.Point.fromBytes(T, false);
    const Rforged = B.multiply(r).add(Tp).toBytes();
    add(`small-order key T${i}, R = rB + T, S = r`, T, msg, concat(Rforged, toLE32(r)), false);
    add(`small-order key T${i}, R = rB, S = r`, T, msg, concat(Rb, toLE32(r)), false);
  }

  // Non-canonical encodings, as public keys and as R.
  for (const nc of nonCanonicalEncodings()) {
    add(`non-canonical key ${nc.name}, R = identity, S = 0`, nc.bytes, msg, concat(IDENTITY, new Uint8Array(32)), false);
    add(`non-canonical key ${nc.name}, honest-looking signature`, nc.bytes, msg, good, false);
    // A non-canonical R that decodes (leniently) to a point: S made for those very R bytes.
    // When it is small order, S = k·a makes [8](SB - kA - R) = 0, which ZIP-215 would accept.
    add(`non-canonical R ${nc.name}, S = k·a`, Ab, msg, forge(a, Ab, nc.bytes, 0n, msg), false);
    if (!nc.smallOrder) {
      // A large-order R whose discrete log nobody knows: only garbage can be made with it.
      add(`non-canonical R ${nc.name}, S = 1`, Ab, msg, concat(nc.bytes, toLE32(1n)), false);
    }
  }

  // Mixed-order (torsioned) public keys A' = aB + T: canonical and not small order, but the key rule
  // refuses them (they have a small-order component), so nothing signed under them verifies —
  // although the cofactored equation alone would accept every signature made with a.
  for (const [i, T] of SMALL_ORDER.slice(1).entries()) {
    const Am = A.add(ed.Point.fromBytes(T, false)).toBytes();
    for (let m = 0; m < 8; m++) {
      const M = utf8(`mixed ${i} ${m}`);
      const rm = scalar(`mixed nonce ${i} ${m}`);
      add(`mixed-order key aB + T${i + 1}, message ${m}`, Am, M, forge(a, Am, B.multiply(rm).toBytes(), rm, M), false);
    }
    add(`mixed-order key aB + T${i + 1}, S + L`, Am, msg, withS(forge(a, Am, Rb, r, msg), le(forge(a, Am, Rb, r, msg).subarray(32)) + L), false);
  }
  return vectors;
}
