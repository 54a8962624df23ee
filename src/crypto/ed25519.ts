// The one place that signs and verifies. Everything else goes through these helpers so that the
// whole project applies a single verification rule: strict RFC 8032 (noble's `zip215: false`).
// If two tabs could disagree on whether a signature is valid, a liar could craft one that only
// some of them accept.
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { encode } from 'cborg';
import { toHex } from '../core/bytes.ts';

ed.hashes.sha512 = sha512;

export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

export interface KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function generateKeyPair(): KeyPair {
  const { secretKey, publicKey } = ed.keygen();
  return { secretKey, publicKey };
}

export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return ed.getPublicKey(secretKey);
}

const acceptable = new Map<string, boolean>();

/**
 * True when the bytes are a canonical encoding of a curve point in the prime-order subgroup: not
 * of small order and with no small-order component (an honest key, aB, never has one; a key
 * with one lets different verification equations disagree). Cached per key: it costs a scalar
 * multiplication.
 */
export function isAcceptablePublicKey(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_BYTES) return false;
  const key = ed.etc.bytesToHex(publicKey);
  const known = acceptable.get(key);
  if (known !== undefined) return known;
  let ok: boolean;
  try {
    const point = ed.Point.fromBytes(publicKey, false);
    // fromBytes accepts some non-canonical y encodings; re-encoding catches them.
    ok = !point.isSmallOrder() && point.isTorsionFree() && equalBytes(point.toBytes(), publicKey);
  } catch {
    ok = false;
  }
  if (acceptable.size > 10_000) acceptable.clear();
  acceptable.set(key, ok);
  return ok;
}

/**
 * Canonical, domain-separated bytes to sign: deterministic CBOR of [domain, payload].
 * The domain names the protocol, its version and the purpose, so a signature made for one
 * purpose can never be replayed as another.
 */
export function signedBytes(domain: string, payload: unknown): Uint8Array {
  return encode([domain, payload]);
}

export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return ed.sign(message, secretKey);
}

/** Never throws: malformed keys or signatures simply do not verify. */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false;
  if (!isAcceptablePublicKey(publicKey)) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Lowercase hex (the one helper in src/core/bytes.ts, offered here beside fromHex). */
export { toHex };

export function fromHex(hex: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error('expected lowercase hex');
  return ed.etc.hexToBytes(hex);
}

export function randomBytes(length: number): Uint8Array {
  return ed.etc.randomBytes(length);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * A short, human-comparable fingerprint of a public key: the first 8 bytes of its SHA-256,
 * as four groups of four hex digits ("3fa2 91c0 …"), meant to be read aloud.
 */
export function fingerprint(publicKey: Uint8Array): string {
  const hex = toHex(sha256(publicKey).subarray(0, 8));
  return hex.match(/.{4}/g)!.join(' ');
}

/** The core's signing interface (see src/core/suite.ts) backed by this module's strict rules. */
export const ed25519Suite = {
  name: 'ed25519',
  sign: (secretKey: Uint8Array, message: Uint8Array): Uint8Array => sign(message, secretKey),
  verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => verify(signature, message, publicKey),
} as const;
