import { describe, expect, it } from 'vitest';
import { fixRoster, rosterFingerprint } from './roster.ts';

describe('fixRoster', () => {
  it('waits for n − 1 verified peers, then numbers the keys in sorted order for every member alike', () => {
    expect(fixRoster('room', 4, 'cc', ['aa', 'dd'], 5)).toBeNull();
    const roster = fixRoster('room', 4, 'cc', ['dd', 'aa', 'bb'], 5)!;
    expect(roster).toEqual({
      v: 1, room: 'room', n: 4, keys: ['aa', 'bb', 'cc', 'dd'], me: 2, fixedAt: 5,
      fingerprint: rosterFingerprint('room', 4, ['aa', 'bb', 'cc', 'dd']),
    });
  });

  it('takes the first n − 1 verified peers when more are verified', () => {
    expect(fixRoster('room', 4, 'cc', ['ee', 'dd', 'aa', 'bb'], 0)!.keys).toEqual(['aa', 'cc', 'dd', 'ee']);
  });

  it('gives a fingerprint that changes with the room, the size and every key', () => {
    const f = rosterFingerprint('room', 4, ['aa', 'bb', 'cc', 'dd']);
    expect(f).toMatch(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/);
    expect(rosterFingerprint('other', 4, ['aa', 'bb', 'cc', 'dd'])).not.toBe(f);
    expect(rosterFingerprint('room', 7, ['aa', 'bb', 'cc', 'dd'])).not.toBe(f);
    expect(rosterFingerprint('room', 4, ['aa', 'bb', 'cc', 'de'])).not.toBe(f);
  });
});
