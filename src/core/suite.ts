// Signing is injected into the core so that the same replica runs with real Ed25519 in the
// browser and in scripted tests, and with a fast stand-in in long seeded simulations.
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, toHex } from './bytes.ts';

/** A signature scheme: real Ed25519 (src/crypto/ed25519.ts) or the simulator's stand-in below. */
export interface CryptoSuite {
  readonly name: string;
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** Must never throw: anything malformed simply does not verify. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** SHA-256: the digest of batches and of checkpointed states. */
export function digest(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}

/**
 * NOT A SIGNATURE SCHEME — a simulator stand-in, far faster than Ed25519 in pure JS. A
 * "signature" is SHA-256 of the secret key and the message, twice over; checking it looks the
 * secret up in a registry that only this suite can read. Inside one simulation that is as
 * unforgeable as the real thing as long as adversary code signs only through the suite with its
 * own key, which is how the adversaries are written. Never use it outside the simulator.
 */
export class InsecureSimulationSuite implements CryptoSuite {
  readonly name = 'insecure-simulation-stand-in';
  private readonly secrets = new Map<string, Uint8Array>();

  /** A deterministic key pair for `label` (e.g. a member index, or a seed and an index). */
  keyPair(label: string): { secretKey: Uint8Array; publicKey: Uint8Array } {
    const secretKey = sha256(new TextEncoder().encode(`sim-secret/${label}`));
    const publicKey = sha256(secretKey);
    this.secrets.set(toHex(publicKey), secretKey);
    return { secretKey, publicKey };
  }

  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
    const h1 = sha256(concat(secretKey, message));
    const out = new Uint8Array(64);
    out.set(h1, 0);
    out.set(sha256(h1), 32);
    return out;
  }

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const secret = this.secrets.get(toHex(publicKey));
    if (!secret || !(signature instanceof Uint8Array) || signature.length !== 64) return false;
    const expected = this.sign(secret, message);
    for (let i = 0; i < 64; i++) if (expected[i] !== signature[i]) return false;
    return true;
  }
}


