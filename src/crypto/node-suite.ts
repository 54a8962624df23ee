// Ed25519 through node:crypto (OpenSSL), for Node only: the benchmark and the simulator. The
// browser bundle must never import this file (see ./backends.ts for why and for the browser path).
//
// Accepts exactly what the reference `ed25519Suite` accepts: node:crypto's verdict sits behind
// the strict pre-checks, and its "no" is re-checked by the reference (OpenSSL is cofactorless,
// noble's strict branch is cofactored; see backends.ts). Signing is byte-identical to noble.
import * as nodeCrypto from 'node:crypto';
import type { CryptoSuite } from '../core/suite.ts';
import { sign as nobleSign } from './ed25519.ts';
import {
  BytesCache, PKCS8_ED25519_PREFIX, SPKI_ED25519_PREFIX, newStats, strictVerifier, withPrefix, type StrictVerifierStats,
} from './backends.ts';

export interface NodeSuite extends CryptoSuite {
  /** How often pre-checks refused, OpenSSL accepted, and the reference had to decide. */
  readonly stats: StrictVerifierStats;
}

function publicKeyObject(publicKey: Uint8Array): nodeCrypto.KeyObject | null {
  try {
    return nodeCrypto.createPublicKey({ key: Buffer.from(withPrefix(SPKI_ED25519_PREFIX, publicKey)), format: 'der', type: 'spki' });
  } catch {
    return null; // OpenSSL refuses to decode it; the reference decides
  }
}

function privateKeyObject(secretKey: Uint8Array): nodeCrypto.KeyObject | null {
  if (secretKey.length !== 32) return null;
  try {
    return nodeCrypto.createPrivateKey({ key: Buffer.from(withPrefix(PKCS8_ED25519_PREFIX, secretKey)), format: 'der', type: 'pkcs8' });
  } catch {
    return null;
  }
}

/** A CryptoSuite backed by node:crypto; KeyObjects are built once per key and cached. */
export function nodeSuite(): NodeSuite {
  const stats = newStats();
  const publicKeys = new BytesCache<nodeCrypto.KeyObject | null>();
  // Secret keys are cached by object identity only (the replica passes the same array every time),
  // so their bytes never become map keys.
  const secretKeys = new WeakMap<Uint8Array, { copy: Uint8Array; key: nodeCrypto.KeyObject | null }>();

  const platformVerify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => {
    const key = publicKeys.get(publicKey, publicKeyObject);
    return key !== null && nodeCrypto.verify(null, message, key, signature);
  };
  const verify = strictVerifier(platformVerify, stats);

  const secretKeyObject = (secretKey: Uint8Array): nodeCrypto.KeyObject | null => {
    const hit = secretKeys.get(secretKey);
    if (hit && hit.copy.length === secretKey.length && hit.copy.every((b, i) => b === secretKey[i])) return hit.key;
    const key = privateKeyObject(secretKey);
    secretKeys.set(secretKey, { copy: secretKey.slice(), key });
    return key;
  };

  return {
    name: 'ed25519-node',
    stats,
    sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
      const key = secretKeyObject(secretKey);
      // Anything OpenSSL cannot import goes to noble, which throws or signs as the reference does.
      if (key === null) return nobleSign(message, secretKey);
      return new Uint8Array(nodeCrypto.sign(null, message, key));
    },
    verify,
  };
}
