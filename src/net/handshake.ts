// Proof of key possession between two tabs over their fresh data channel.
//
// Each side sends a random challenge; the other signs it together with the room, both peer ids and
// both DTLS certificate fingerprints taken from the SDPs. Binding the fingerprints is what defeats
// a signaling server that relays in the middle: it would have to terminate DTLS itself, so the
// fingerprints each end sees would differ from the ones the honest peer signed. Binding the fresh
// challenge defeats replay of an old handshake.
import { signedBytes, sign, verify, fromHex } from '../crypto/ed25519.ts';

export const HANDSHAKE_DOMAIN = 'byzantine-lunch/handshake/v1';
export const CHALLENGE_BYTES = 32;

export interface HandshakeContext {
  readonly room: string;
  /** Hex public key of the member who signs. */
  readonly signer: string;
  /** Hex public key of the member who checks. */
  readonly verifier: string;
  /** The verifier's challenge. */
  readonly challenge: Uint8Array;
  /** DTLS fingerprint of the signer's end, as the signer's own SDP states it. */
  readonly signerDtls: string;
  /** DTLS fingerprint of the verifier's end. */
  readonly verifierDtls: string;
}

export function handshakeBytes(c: HandshakeContext): Uint8Array {
  return signedBytes(HANDSHAKE_DOMAIN, {
    room: c.room,
    signer: c.signer,
    verifier: c.verifier,
    challenge: c.challenge,
    signerDtls: c.signerDtls,
    verifierDtls: c.verifierDtls,
  });
}

export function signHandshake(c: HandshakeContext, secretKey: Uint8Array): Uint8Array {
  return sign(handshakeBytes(c), secretKey);
}

/** The signer's peer id is its public key, so the id itself says which key must have signed. */
export function verifyHandshake(c: HandshakeContext, signature: Uint8Array): boolean {
  return verify(signature, handshakeBytes(c), fromHex(c.signer));
}

/**
 * The DTLS certificate fingerprint an SDP announces, normalised to "sha-256 AB:CD:…".
 * Returns null when there is none or when sections disagree (a session uses one certificate).
 */
export function dtlsFingerprint(sdp: string): string | null {
  const found = new Set<string>();
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/.exec(line);
    if (m) found.add(`${m[1]!.toLowerCase()} ${m[2]!.toUpperCase()}`);
  }
  return found.size === 1 ? [...found][0]! : null;
}
