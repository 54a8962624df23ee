import { describe, expect, it } from 'vitest';
import { fingerprint, generateKeyPair, toHex } from '../crypto/ed25519.ts';
import { Names } from './names.ts';

describe('Names', () => {
  const [me, peer, stranger] = [generateKeyPair(), generateKeyPair(), generateKeyPair()].map((k) => toHex(k.publicKey)) as [string, string, string];
  const names = new Names({ agreed: (id) => (id === peer ? 'Bo' : id === me ? 'Ann' : null) });

  it('names a seated member as agreed, and one without a seat by its fingerprint', () => {
    expect(names.of(me)).toBe('Ann');
    expect(names.of(peer)).toBe('Bo');
    expect(names.of(stranger)).toBe(`member ${names.fingerprintOf(stranger).slice(0, 4)}`);
  });

  it('names by roster index, and an index without a member by its number', () => {
    expect(names.at([peer, me], 1)).toBe('Ann');
    expect(names.at([peer, me], 5)).toBe('member 5');
    expect(names.at(undefined, 0)).toBe('member 0');
  });

  it('gives the key’s fingerprint, the same on every call', () => {
    const f = names.fingerprintOf(peer);
    expect(names.fingerprintOf(peer)).toBe(f);
    expect(f).toBe(fingerprint(Uint8Array.from(peer.match(/../g)!.map((h) => parseInt(h, 16)))));
  });
});
