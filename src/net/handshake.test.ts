import { describe, expect, it } from 'vitest';
import { generateKeyPair, randomBytes, toHex } from '../crypto/ed25519.ts';
import { dtlsFingerprint, signHandshake, verifyHandshake, type HandshakeContext } from './handshake.ts';

const alice = generateKeyPair();
const bob = generateKeyPair();
const base: HandshakeContext = {
  room: 'lunch',
  signer: toHex(alice.publicKey),
  verifier: toHex(bob.publicKey),
  challenge: randomBytes(32),
  signerDtls: 'sha-256 AA:BB',
  verifierDtls: 'sha-256 CC:DD',
};

describe('handshake', () => {
  it('verifies an honest response', () => {
    expect(verifyHandshake(base, signHandshake(base, alice.secretKey))).toBe(true);
  });

  it.each([
    ['another room', { room: 'dinner' }],
    ['a replayed response to an old challenge', { challenge: randomBytes(32) }],
    ['a relay in the middle (different DTLS on the verifier side)', { verifierDtls: 'sha-256 EE:FF' }],
    ['a relay in the middle (different DTLS on the signer side)', { signerDtls: 'sha-256 EE:FF' }],
    ['a response aimed at another verifier', { verifier: toHex(generateKeyPair().publicKey) }],
  ])('rejects %s', (_name, change) => {
    const sig = signHandshake(base, alice.secretKey);
    expect(verifyHandshake({ ...base, ...change }, sig)).toBe(false);
  });

  it('rejects a response signed by a key other than the claimed peer id', () => {
    expect(verifyHandshake(base, signHandshake(base, bob.secretKey))).toBe(false);
  });

  it('reads the DTLS fingerprint from an SDP and refuses ambiguous ones', () => {
    const line = 'a=fingerprint:sha-256 ab:cd:ef';
    expect(dtlsFingerprint(`v=0\r\n${line}\r\nm=application\r\n${line}\r\n`)).toBe('sha-256 AB:CD:EF');
    expect(dtlsFingerprint('v=0\r\n')).toBeNull();
    expect(dtlsFingerprint(`${line}\na=fingerprint:sha-256 00:11\n`)).toBeNull();
  });
});
