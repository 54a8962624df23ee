// The RoomView and the proof dialog as pure functions of what the tab knows.
import { describe, expect, it } from 'vitest';
import { initialLunch } from '../core/lunch.ts';
import { signBody, type Proof } from '../core/messages.ts';
import { Replica } from '../core/replica.ts';
import { ed25519Suite, generateKeyPair, toHex } from '../crypto/ed25519.ts';
import { Chronicle } from './chronicle.ts';
import { Observations } from './observations.ts';
import { presentProof, presentRoom, type RoomFacts } from './present.ts';
import { rosterFingerprint } from './roster.ts';

const pairs = Array.from({ length: 4 }, () => generateKeyPair()).sort((a, b) => toHex(a.publicKey).localeCompare(toHex(b.publicKey)));
const keys = pairs.map((p) => toHex(p.publicKey));
const coreRoster = { room: 'r', keys: pairs.map((p) => p.publicKey) };

function facts(over: Partial<RoomFacts> = {}): RoomFacts {
  return {
    size: 4,
    keys: keys.slice(0, 2),
    me: keys[0]!,
    roster: null,
    running: false,
    snap: undefined,
    verified: new Set([keys[1]!]),
    names: { of: (id) => `name of ${keys.indexOf(id)}`, fingerprintOf: (id) => `fp ${keys.indexOf(id)}` },
    kept: new Chronicle(4),
    malicious: { enabled: false, strategy: 'equivocate' },
    problem: null,
    refused: null,
    ...over,
  };
}

describe('presentRoom', () => {
  it('shows a gathering room: who is here so far, no roster, no protocol state', () => {
    const view = presentRoom(facts());
    expect(view.phase).toBe('gathering');
    expect(view.rosterFingerprint).toBeNull();
    expect(view.members.map((m) => [m.name, m.fingerprint, m.isMe, m.connected, m.primary])).toEqual([
      ['name of 0', 'fp 0', true, true, false],
      ['name of 1', 'fp 1', false, true, false],
    ]);
    expect(view.panel).toMatchObject({ view: 0, primary: '', lastCounts: {}, retransmissions: 0 });
  });

  it('shows a running room: the primary from the replica’s view, and this member’s own votes', () => {
    const replica = new Replica({ roster: coreRoster, me: 2, secretKey: pairs[2]!.secretKey, suite: ed25519Suite, now: 0 });
    const roster = { v: 1 as const, room: 'r', n: 4, keys, fingerprint: rosterFingerprint('r', 4, keys), me: 2, fixedAt: 0 };
    const view = presentRoom(facts({ keys, me: keys[2]!, roster, running: true, snap: replica.snapshot(), verified: new Set([keys[0]!]) }));
    expect(view.phase).toBe('running');
    expect(view.rosterFingerprint).toBe(roster.fingerprint);
    expect(view.members.map((m) => [m.isMe, m.connected, m.primary])).toEqual([
      [false, true, true], [false, false, false], [true, true, false], [false, false, false],
    ]);
    expect(view.panel.primary).toBe('name of 0');
    expect(view.proposals).toEqual([]);
    expect(view.round).toBe(initialLunch(4).round);
  });
});

describe('presentRoom: what this tab observed, and why the room stalls', () => {
  const roster = { v: 1 as const, room: 'r', n: 4, keys, fingerprint: rosterFingerprint('r', 4, keys), me: 2, fixedAt: 0 };

  it('shows a silent link as silent, what a member sent, and who is missing for a quorum', () => {
    const replica = new Replica({ roster: coreRoster, me: 2, secretKey: pairs[2]!.secretKey, suite: ed25519Suite, now: 0 });
    const seen = new Observations(4, 2, 0);
    seen.effect({ kind: 'received', from: 1, type: 'garbage', at: { view: null, seq: null, request: null, digest: null }, dropped: 'not-cbor' }, 9000);
    seen.effect({ kind: 'received', from: 0, type: 'status', at: { view: 0, seq: null, request: null, digest: null }, dropped: null, signer: 0 }, 9500);
    const view = presentRoom(facts({
      keys, me: keys[2]!, roster, running: true, snap: replica.snapshot(), verified: new Set([keys[0]!, keys[1]!]),
      seen: { now: 10_000, members: seen.members(), replacing: null, ownWaiting: null },
    }));
    // Member 0 was heard from just now; member 1 only sent garbage, but that is something; member 3 is gone.
    expect(view.members.map((m) => [m.connected, m.silentFor])).toEqual([[true, null], [true, null], [true, null], [false, null]]);
    expect(view.members[1]!.observed).toEqual([{ kind: 'malformed', text: 'sent 1 garbled message' }]);
    expect(view.stall).toEqual([]);

    const later = presentRoom(facts({
      keys, me: keys[2]!, roster, running: true, snap: replica.snapshot(), verified: new Set([keys[0]!, keys[1]!]),
      seen: { now: 16_000, members: seen.members(), replacing: null, ownWaiting: null },
    }));
    expect(later.members.map((m) => m.silentFor)).toEqual([6500, 7000, null, null]);
    expect(later.stall).toEqual(['Needs 3 of 4 online — waiting for 2 of name of 0, name of 1 and name of 3']);
  });

  it('shows no observations before the roster is fixed', () => {
    const seen = new Observations(4, 0, 0);
    const view = presentRoom(facts({ seen: { now: 60_000, members: seen.members(), replacing: null, ownWaiting: null } }));
    expect(view.members.every((m) => m.silentFor === null && m.observed.length === 0)).toBe(true);
    expect(view.stall).toEqual([]);
  });
});

describe('presentProof', () => {
  const prepare = (digest: number) =>
    signBody(ed25519Suite, pairs[3]!.secretKey, { t: 'prepare' as const, room: 'r', from: 3, view: 0, seq: 5, digest: new Uint8Array(32).fill(digest) });

  it('checks a proof again and says what the member signed twice', () => {
    const proof = { a: prepare(1), b: prepare(2) } as Proof;
    const shown = presentProof(3, proof, coreRoster, 'Di');
    expect(shown.verdict.ok).toBe(true);
    expect(shown.verdict.reason).toBe(`Both signatures verify: Di signed two different messages for ${shown.slot}.`);
    expect(shown.first).toContain(toHex(proof.a.sig));
  });

  it('tells the proof in plain words, naming the accused as the dialog does', () => {
    const shown = presentProof(3, { a: prepare(1), b: prepare(2) } as Proof, coreRoster, 'Di', () => 'someone else');
    expect(shown.story.headline).toMatch(/^Di vouched for two different proposals as step 5/);
    expect(shown.story.first).not.toBe(shown.story.second);
    expect(shown.story.why).toContain('signature');
  });

  it('refuses two copies of one message', () => {
    const a = prepare(1);
    expect(presentProof(3, { a, b: a } as Proof, coreRoster, 'Di').verdict).toEqual({ ok: false, reason: 'the two messages are the same' });
  });
});
