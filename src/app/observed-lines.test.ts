import { describe, expect, it } from 'vitest';
import { claimsAgainst, duration, listOf, observedLines, silentFor } from './observed-lines.ts';
import type { MemberSight } from './observations.ts';

const name = (i: number) => ['James', 'Bryan', 'Rich', 'Chris'][i] ?? `member ${i}`;
const sight = (over: Partial<MemberSight> = {}): MemberSight => ({
  member: 3, lastHeard: 0, misdeeds: { forged: 0, 'bad-proof': 0, malformed: 0, oversized: 0, invalid: 0, replayed: 0 },
  slowest: 0, slowTimes: 0, replaced: null, accused: [], accusedBy: new Map(), ...over,
});
const lines = (s: MemberSight, now = 0) => observedLines(s, { name, now, replacing: null }).map((l) => l.text);

describe('observed lines', () => {
  it('write durations and lists for people', () => {
    expect(duration(3499)).toBe('3.5 s');
    expect(duration(8000)).toBe('8 s');
    expect(duration(45_600)).toBe('45 s');
    expect(duration(300_000)).toBe('5 min');
    expect(listOf(['Rich'])).toBe('Rich');
    expect(listOf(['Rich', 'Chris'], 'or')).toBe('Rich or Chris');
    expect(listOf(['James', 'Rich', 'Chris'])).toBe('James, Rich and Chris');
  });

  it('say nothing of a member that did nothing wrong', () => {
    expect(lines(sight())).toEqual([]);
  });

  it('count each kind of bad traffic in words, with singulars', () => {
    const misdeeds = { forged: 3, 'bad-proof': 1, malformed: 2, oversized: 1, invalid: 2, replayed: 4 };
    expect(lines(sight({ misdeeds }))).toEqual([
      'sent 3 messages with forged signatures',
      'sent 1 “proof” that proves nothing',
      'resent 4 old messages signed by others',
      'sent 1 oversized message',
      'sent 2 garbled messages',
      'sent 2 messages that break the rules',
    ]);
  });

  it('name a slow primary with how long it kept requests waiting', () => {
    expect(lines(sight({ slowest: 3512, slowTimes: 1 }))).toEqual(['as primary, kept requests waiting 3.5 s']);
    expect(lines(sight({ slowest: 3512, slowTimes: 4 }))).toEqual(['as primary, kept requests waiting 3.5 s (4 times)']);
  });

  it('say why a primary was replaced', () => {
    expect(lines(sight({ replaced: { reason: { kind: 'silent', since: 0 }, heldMs: 8000 } }))).toEqual(['replaced as primary: silent for 8 s']);
    expect(lines(sight({ replaced: { reason: { kind: 'proven' }, heldMs: 0 } }))).toEqual(['replaced as primary: caught telling members different things']);
    expect(lines(sight({ replaced: { reason: { kind: 'unclear' }, heldMs: 0 } }))).toEqual(['replaced as primary']);
  });

  it('name the accuser, and mark the claim against its victim unproven', () => {
    expect(lines(sight({ accused: [0, 1] }))).toEqual(['accused James and Bryan without proof']);
    expect(claimsAgainst(sight({ member: 1, accusedBy: new Map([[3, 2]]) }), name)).toBe('2 unproven claims against (by Chris)');
    expect(claimsAgainst(sight(), name)).toBeNull();
  });

  it('call a connected member silent only once nothing arrived for five seconds', () => {
    expect(silentFor(sight({ lastHeard: 1000 }), true, false, 5999)).toBeNull();
    expect(silentFor(sight({ lastHeard: 1000 }), true, false, 6000)).toBe(5000);
    expect(silentFor(sight({ lastHeard: 1000 }), false, false, 60_000)).toBeNull();
    expect(silentFor(sight({ lastHeard: 1000 }), true, true, 60_000)).toBeNull();
  });
});
