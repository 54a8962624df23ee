// The transcript: each kind of line, in the scene's voices and in the protocol's terms, and three
// errors seen in use, checked where they showed (whole rooms, as the UI reads them): rounds
// numbered unlike the heading, a member complaining about itself, and restored lines without names
// or with the reload's time.
import { afterEach, describe, expect, it } from 'vitest';
import type { ViewChangeReason } from '../core/effects.ts';
import { applyLunch, initialLunch } from '../core/lunch.ts';
import { signBody, type Proof } from '../core/messages.ts';
import type { WalRecord } from '../core/wal.ts';
import { ed25519Suite, generateKeyPair, toHex } from '../crypto/ed25519.ts';
import type { RoomRoster, RoomStore } from '../storage/room-store.ts';
import { LunchRoom } from './room.ts';
import { narrate, narrateExecution, narrateMalice, shown, tell, type NarrationContext, type Story } from './transcript.ts';

const names = ['Ann', 'Bo', 'Cy', 'Di'];
const name = (m: number) => names[m]!;
const proposed = applyLunch(initialLunch(4), 2, { member: 2, counter: 1 }, { kind: 'propose', place: 'Thai Palace', time: '12:30' });

function ctx(claims = 1, restored = false): NarrationContext {
  return { me: 1, n: 4, lunch: proposed.state, claimsAgainst: () => claims, restored };
}
const say = (s: Story) => tell(s, name, 4);
const texts = (stories: Story[]) => stories.filter(shown).map((s) => say(s).text);

describe('requests, vouching, confirming and the decision', () => {
  it('tells a proposal as an announcement, then who vouched and who confirmed the step', () => {
    const stories = narrateExecution(
      { kind: 'executed', seq: 3, view: 0, events: proposed.events, requests: [{ member: 2, counter: 1, op: { kind: 'propose', place: 'Thai Palace', time: '12:30' } }] },
      { vouched: [1, 3], confirmed: [0, 1, 3] },
      proposed.state,
    );
    expect(stories.map((s) => say(s).kind)).toEqual(['request', 'vouch', 'confirm']);
    expect(texts(stories)).toEqual([
      'Cy: “Lunch, everyone! How about Thai Palace at 12:30?”',
      'Bo and Di: “We heard step 3 the same way — we vouch for it.”',
      'Ann, Bo and Di: “Enough of us vouched: step 3 stands.”',
    ]);
    expect(say(stories[0]!).technical).toBe('seq 3, view 0: executed request 2:1 from Cy (member 2): propose “Thai Palace” at 12:30.');
    expect(say(stories[1]!).technical).toBe('seq 3: PREPARE for the executed batch from Bo (member 1), Di (member 3) (as seen by this tab).');
    expect(say(stories[2]!).technical).toContain('COMMIT');
  });

  it('tells one voucher in the singular, and no vouching for a step that carried nothing to tell', () => {
    const one = narrateExecution(
      { kind: 'executed', seq: 3, view: 0, events: proposed.events, requests: [{ member: 2, counter: 1, op: { kind: 'propose', place: 'Thai Palace', time: '12:30' } }] },
      { vouched: [1], confirmed: [] },
      proposed.state,
    );
    expect(texts(one).at(-1)).toBe('Bo: “I heard step 3 the same way — I vouch for it.”');
    const advance = narrateExecution(
      { kind: 'executed', seq: 4, view: 0, events: [], requests: [{ member: 3, counter: 2, op: { kind: 'advance' } }] },
      { vouched: [1, 2], confirmed: [0, 1, 2] },
      proposed.state,
    );
    expect(advance).toEqual([]);
  });

  it('tells a vote by the place it is for, a repeated vote as such, the decision it brings last, and a late vote as refused', () => {
    const ref = { member: 2, counter: 1 };
    let lunch = proposed.state;
    // The proposer's own join counts: two more decide.
    const votes = [[0, 1], [0, 2], [1, 1]].map(([m, counter]) => {
      const applied = applyLunch(lunch, m!, { member: m!, counter: counter! }, { kind: 'vote', proposal: ref, choice: 'join' });
      lunch = applied.state;
      return { request: { member: m!, counter: counter!, op: { kind: 'vote', proposal: ref, choice: 'join' } as const }, events: applied.events };
    });
    const stories = narrateExecution(
      { kind: 'executed', seq: 5, view: 0, requests: votes.map((v) => v.request), events: votes.flatMap((v) => v.events) },
      { vouched: [], confirmed: [] },
      lunch,
    );
    expect(texts(stories)).toEqual([
      'Ann: “Count me in for Thai Palace.”',
      'Ann: “Still in for Thai Palace.”',
      'Bo: “Count me in for Thai Palace.”',
      'Lunch is decided: Thai Palace at 12:30. Ann, Bo and Cy are off to lunch.',
    ]);
    // Vouching and confirming no one's message has reached yet is kept, to show once one does, but not shown.
    expect(stories.map((s) => s.kind)).toEqual(['voted', 'voted', 'voted', 'vouched', 'confirmed', 'decided']);
    expect(shown(stories[3]!)).toBe(false);
    expect(say(stories[5]!).kind).toBe('decision');
    expect(say(stories[5]!).technical).toBe('seq 5: proposal 2:1 reached 3 joins; round 1 is decided (joined: 0, 1, 2).');
    const declined = applyLunch(lunch, 3, { member: 3, counter: 2 }, { kind: 'vote', proposal: ref, choice: 'decline' });
    expect(texts(narrateExecution(
      {
        kind: 'executed', seq: 6, view: 0, events: declined.events,
        requests: [{ member: 3, counter: 2, op: { kind: 'vote', proposal: ref, choice: 'decline' } }],
      },
      { vouched: [], confirmed: [] },
      declined.state,
    ))).toEqual(['Di’s request changes nothing: round 1 is already decided.']);
  });

  it('tells an ask for a new round with how many asked, and the ask that completes the quorum as the new round', () => {
    let lunch = proposed.state;
    const asks = [0, 1, 3].map((m) => {
      const applied = applyLunch(lunch, m, { member: m, counter: 2 }, { kind: 'new-round' });
      lunch = applied.state;
      return { request: { member: m, counter: 2, op: { kind: 'new-round' } as const }, events: applied.events };
    });
    const stories = narrateExecution(
      { kind: 'executed', seq: 8, view: 0, requests: asks.map((a) => a.request), events: asks.flatMap((a) => a.events) },
      { vouched: [], confirmed: [] },
      lunch,
    );
    expect(texts(stories)).toEqual([
      'Ann: “Can we start over?” 1 of 3 have asked to leave round 1.',
      'Bo: “Can we start over?” 2 of 3 have asked to leave round 1.',
      'Di: “Can we start over?” 3 of 3 have asked to leave round 1.',
      'Di: “Let us choose lunch again.” Round 2 begins.',
    ]);
    expect(say(stories[0]!).technical).toBe('seq 8, view 0: executed request 0:2 from Ann (member 0): new-round asked in round 1 by Ann (member 0) (3 needed).');
  });

  it('tells a rename in the old name’s voice', () => {
    const renamed = applyLunch(proposed.state, 1, { member: 1, counter: 2 }, { kind: 'name', name: 'Bob' });
    const stories = narrateExecution(
      { kind: 'executed', seq: 9, view: 0, events: renamed.events, requests: [{ member: 1, counter: 2, op: { kind: 'name', name: 'Bob' } }] },
      { vouched: [], confirmed: [] },
      renamed.state,
    );
    expect(texts(stories)).toEqual([`${proposed.state.names[1]}: “Call me Bob from now on.”`]);
  });

  it('tells a new round by the number the heading shows, a request that changed nothing with its reason, and a recovery request', () => {
    const decided = { ...proposed.state, decisions: [{ round: 1, proposal: { member: 2, counter: 1 }, joined: [0, 1, 2] }] };
    const late = applyLunch(decided, 3, { member: 3, counter: 4 }, { kind: 'propose', place: 'Sushi', time: '13:00' });
    const next = applyLunch(decided, 1, { member: 1, counter: 3 }, { kind: 'new-round' });
    const stories = narrateExecution(
      {
        kind: 'executed', seq: 7, view: 1, events: [...late.events, ...next.events],
        requests: [
          { member: 3, counter: 4, op: { kind: 'propose', place: 'Sushi', time: '13:00' } },
          { member: 2, counter: 5, op: { kind: 'recover', nonce: new Uint8Array(16) } },
          { member: 1, counter: 3, op: { kind: 'new-round' } },
        ],
      },
      { vouched: [], confirmed: [] },
      next.state,
    );
    expect(texts(stories)).toEqual([
      'Di’s request changes nothing: round 1 is already decided; start a new round to propose.',
      'Cy: “I lost my records. Agree on where I stand, and until then I vouch for nothing.”',
      `Bo: “Let us choose lunch again.” Round ${next.state.round} begins.`,
    ]);
    expect(stories.filter(shown).map((s) => say(s).kind)).toEqual(['info', 'request', 'request']);
    expect(say(stories[2]!).technical).toBe(`seq 7, view 1: executed request 1:3 from Bo (member 1): new-round; the lunch state is now in round ${next.state.round}.`);
  });
});

describe('view changes', () => {
  const change = (me: number, why: ViewChangeReason, view = 0, to = 1) =>
    say(narrate({ kind: 'view', view, changing: true, to, why }, { ...ctx(), me })[0]!);

  it('says why this member gives up on the view, in its own voice, and who keeps order next', () => {
    expect(change(1, 'primary-silent').text).toBe('Bo: “I have not heard from Ann in too long — I ask for view 1, with me keeping order.”');
    expect(change(2, 'request-late').text).toBe('Cy: “Requests have waited too long under Ann — I ask for view 1, with Bo keeping order.”');
    expect(change(2, 'view-change-late', 0, 2).text).toBe('Cy: “View 1 under Bo has not started in time — I ask for view 2, with me keeping order.”');
    expect(change(3, 'others-asked').text).toBe('Di: “Others have given up on Ann, and I join them — I ask for view 1, with Bo keeping order.”');
    expect(change(3, 'primary-proven').text).toBe('Di: “Ann is proven faulty and cannot keep order — I ask for view 1, with Bo keeping order.”');
    expect(change(3, 'request-late').kind).toBe('view');
    expect(change(3, 'request-late').technical).toBe('VIEW-CHANGE from Di (member 3): leaving view 0 for view 1 (primary Bo (member 1)); reason: request-late.');
  });

  it('never has a member complain about itself: the primary steps aside, the next leader speaks of its own view', () => {
    expect(change(0, 'request-late').text).toBe('Ann: “Requests are stuck while I keep order — I ask for view 1, with Bo keeping order.”');
    expect(change(0, 'others-asked').text).toBe('Ann: “Others want someone else to keep order, so I step aside — I ask for view 1, with Bo keeping order.”');
    expect(change(1, 'view-change-late', 0, 2).text).toBe('Bo: “View 1, which I was to lead, has not started in time — I ask for view 2, with Cy keeping order.”');
    for (const me of [0, 1, 2, 3]) {
      for (const why of ['request-late', 'primary-silent', 'view-change-late', 'others-asked', 'primary-proven'] as const) {
        for (const view of [0, 1, 2, 3]) {
          const { text } = change(me, why, view, view + 1);
          expect(text.slice(text.indexOf(':') + 1)).not.toContain(name(me));
        }
      }
    }
  });

  it('tells a new view in the voice of the member who keeps order in it', () => {
    const line = say(narrate({ kind: 'view', view: 2, changing: false }, ctx())[0]!);
    expect(line).toEqual({ kind: 'view', text: 'Cy: “I keep order now.” View 2 begins.', technical: 'NEW-VIEW from Cy (member 2): view 2 entered.' });
  });
});

describe('proofs, accusations and catching up', () => {
  it('tells an equivocation as what the liar did, then this member holding the proof', () => {
    const { secretKey } = generateKeyPair();
    const body = (seq: number, digest: number) => ({ t: 'prepare', room: 'r', from: 3, view: 0, seq, digest: new Uint8Array(32).fill(digest) }) as const;
    const proof: Proof = { a: signBody(ed25519Suite, secretKey, body(4, 1)), b: signBody(ed25519Suite, secretKey, body(4, 2)) };
    const lines = narrate({ kind: 'evidence', member: 3, slot: 'prepare/0/4', proof }, ctx()).map(say);
    expect(lines.map((l) => l.kind)).toEqual(['evidence', 'evidence']);
    expect(lines[0]!.text).toBe('Di vouched for two different proposals as step 4, and signed both.');
    expect(lines[1]!.text).toBe('Bo: “Di is faulty, and I can prove it: two messages Di signed for one step. Anyone can check them.”');
    expect(lines[1]!.technical).toBe('EVIDENCE against Di (member 3) for prepare/0/4: both signatures verified; passed on by Bo (member 1).');
    const own = narrate({ kind: 'evidence', member: 1, slot: 'prepare/0/4', proof }, ctx()).map(say);
    expect(own[1]!.text).toBe('The others hold proof against Bo: two messages Bo signed for one step.');
  });

  it('tells only the first claim against a member, as the accuser’s word without proof, and nothing for messages', () => {
    const claim = { kind: 'claim', accuser: 0, accused: 3, reason: 'made up' } as const;
    expect(narrate(claim, ctx(1)).map(say)).toEqual([{
      kind: 'claim', text: 'Ann: “Di is faulty!” — said without proof, so nothing changes.', technical: 'claim without proof by Ann (member 0) against Di (member 3): made up.',
    }]);
    expect(narrate(claim, ctx(2))).toEqual([]);
    expect(narrate({ kind: 'received', from: 0, type: 'commit', at: { view: 0, seq: 1, request: null, digest: null }, dropped: null }, ctx())).toEqual([]);
  });

  it('tells a state transfer as catching up from the others, and a restored checkpoint as this member’s own', () => {
    expect(texts(narrate({ kind: 'state', seq: 16, lunch: proposed.state }, ctx()))).toEqual(['Bo: “I fell behind; I take the lunch plan the others certified at step 16.”']);
    expect(texts(narrate({ kind: 'state', seq: 16, lunch: proposed.state }, ctx(1, true)))).toEqual(['Bo picks up from its own stored checkpoint at step 16.']);
  });

  it('tells the roster, a restore, and turning malicious, changing strategy and turning honest, and nothing else', () => {
    expect(say({ kind: 'roster', n: 4, fingerprint: 'ab12 cd34' }).text).toBe('Everyone is here: the roster is fixed with 4 members, fingerprint ab12 cd34.');
    expect(say({ kind: 'restored', records: 12 }).text).toBe('Restored from 12 stored record(s).');
    const honest = { enabled: false, strategy: 'equivocate' };
    const lying = { enabled: true, strategy: 'equivocate' };
    expect(say(narrateMalice(honest, lying)!).text).toBe('This tab now acts maliciously: equivocate.');
    expect(say(narrateMalice(lying, { enabled: true, strategy: 'silent' })!).text).toBe('This tab now acts maliciously: silent.');
    expect(say(narrateMalice(lying, honest)!).text).toBe('This tab is honest again.');
    expect(narrateMalice(lying, lying)).toBeNull();
    expect(narrateMalice(honest, { enabled: false, strategy: 'silent' })).toBeNull();
  });

  it('names members as they are named when the line is shown, not when it was kept', () => {
    const story: Story = { kind: 'claim', accuser: 0, accused: 3, reason: 'x' };
    expect(tell(story, (m) => `member ${m}`, 4).text).toContain('member 0');
    expect(tell(story, name, 4).text).toContain('Ann');
  });
});

// ---- Whole rooms, wired by hand: the errors as they showed in the tabs ----

function memoryStore(): RoomStore {
  const rosters = new Map<string, RoomRoster>();
  const records = new Map<string, WalRecord[]>();
  return {
    loadRoster: async (_room, member) => rosters.get(member) ?? null,
    saveRoster: async (_room, member, roster) => void rosters.set(member, roster),
    appendRecords: async (_room, member, batch) => void records.set(member, [...(records.get(member) ?? []), ...batch]),
    loadRecords: async (_room, member) => ({ records: [...(records.get(member) ?? [])], corrupt: 0 }),
    compact: async () => ({ stableSeq: null, removed: 0, kept: 0 }),
    wipe: async () => {},
    close: async () => {},
  };
}


/** Four rooms on one hand-driven network and one clock; `hold` keeps back what it picks. */
class Room4 {
  readonly keys = Array.from({ length: 4 }, () => generateKeyPair());
  readonly ids = this.keys.map((k) => toHex(k.publicKey));
  readonly stores = this.ids.map(() => memoryStore());
  readonly clock = { now: 1_000 };
  readonly queue: { from: string; to: string; bytes: Uint8Array }[] = [];
  rooms: LunchRoom[] = [];
  hold: (p: { from: string; to: string }) => boolean = () => false;

  room(i: number): LunchRoom {
    const id = this.ids[i]!;
    return new LunchRoom({
      room: 'voices', size: 4,
      me: { id, secretKey: this.keys[i]!.secretKey },
      peers: {
        verified: () => this.ids.filter((x) => x !== id),
        send: (to, bytes) => void this.queue.push({ from: id, to, bytes }),
      },
      store: this.stores[i]!, onChange: () => {}, now: () => this.clock.now,
    });
  }

  async start(): Promise<void> {
    this.rooms = this.ids.map((_, i) => this.room(i));
    for (const r of this.rooms) await r.start();
    await this.settle();
  }

  /** The room of the member at roster index `m` (rosters are sorted by key). */
  at(m: number): LunchRoom {
    return this.rooms[this.ids.indexOf([...this.ids].sort()[m]!)]!;
  }

  async settle(): Promise<void> {
    for (let idle = 0; idle < 5;) {
      await new Promise((r) => setTimeout(r, 0));
      const batch = this.queue.splice(0).filter((p) => !this.hold(p));
      if (batch.length === 0) idle++;
      else idle = 0;
      for (const p of batch) this.rooms[this.ids.indexOf(p.to)]?.receive(p.from, p.bytes);
    }
  }

  stop(): void {
    for (const r of this.rooms) r.stop();
  }
}

let world: Room4 | null = null;
afterEach(() => {
  world?.stop();
  world = null;
});

/** The name the room shows for its own member. */
const ownName = (r: LunchRoom) => r.view().members.find((m) => m.isMe)!.name;

describe('the transcript in a room', () => {
  it('numbers a new round as the heading does', async () => {
    world = new Room4();
    await world.start();
    world.at(0).propose('Thai Palace', '12:30');
    await world.settle();
    const ref = world.at(0).view().proposals[0]!.ref;
    for (const m of [1, 2]) world.at(m).vote(ref, 'join');
    await world.settle();
    world.at(1).newRound();
    await world.settle();
    for (const r of world.rooms) {
      const view = r.view();
      expect(view.round).toBe(2);
      const said = view.transcript.map((l) => l.text).filter((t) => /round \d/i.test(t));
      expect(said).toHaveLength(1);
      expect([...said[0]!.matchAll(/round (\d+)/gi)].map((m) => Number(m[1]))).toEqual([view.round]);
    }
  });

  it('never has a member complain about itself when it asks to change view', async () => {
    world = new Room4();
    await world.start();
    const primary = world.ids.indexOf([...world.ids].sort()[0]!);
    // Nothing the primary sends arrives, so a request times out everywhere, the primary's own tab included.
    world.hold = (p) => p.from === world!.ids[primary];
    world.at(1).propose('Ramen Spot', '12:20');
    await world.settle();
    world.clock.now += 20_000;
    await new Promise((r) => setTimeout(r, 600));
    await world.settle();
    await new Promise((r) => setTimeout(r, 300));
    await world.settle();
    let viewLines = 0;
    for (const r of world.rooms) {
      const me = ownName(r);
      for (const line of r.view().transcript.filter((l) => l.kind === 'view' && l.text.startsWith(`${me}:`))) {
        viewLines++;
        expect(line.text.slice(me.length + 1)).not.toContain(me);
      }
    }
    expect(world.rooms[primary]!.view().transcript.some((l) => l.kind === 'view' && l.text.startsWith(`${ownName(world!.rooms[primary]!)}:`))).toBe(true);
    expect(viewLines).toBeGreaterThanOrEqual(4);
  });

  it('after a reload, tells restored lines with the agreed names, and without a made-up time', async () => {
    world = new Room4();
    await world.start();
    world.at(0).propose('Thai Palace', '12:30');
    await world.settle();
    const ref = world.at(0).view().proposals[0]!.ref;
    for (const m of [0, 1, 2]) world.at(m).vote(ref, 'join');
    await world.settle();
    expect(world.at(3).view().decision?.place).toBe('Thai Palace');

    // Member 3 reloads: a new room on the same storage, before it has heard from any peer.
    const i = world.rooms.indexOf(world.at(3));
    world.rooms[i]!.stop();
    world.clock.now += 60_000;
    world.rooms[i] = world.room(i);
    await world.rooms[i]!.start();
    const before = world.rooms[i]!.view().transcript;
    const restored = before.filter((l) => l.kind === 'request' || l.kind === 'decision');
    expect(restored.length).toBeGreaterThanOrEqual(4);
    for (const line of restored) expect(line.at).toBeNull();

    const after = world.rooms[i]!.view().transcript.filter((l) => l.kind === 'request' || l.kind === 'decision').map((l) => l.text);
    const proposer = ownName(world.at(0));
    expect(after.join('\n')).not.toMatch(/member [0-9a-f]{4}/);
    expect(after[0]).toBe(`${proposer}: “Lunch, everyone! How about Thai Palace at 12:30?”`);
    expect(after.at(-1)).toMatch(/^Lunch is decided: Thai Palace at 12:30\. .* are off to lunch\.$/);
    // The message diagrams' labels, rebuilt by the same restore, name the members too.
    expect(world.rooms[i]!.view().diagrams.map((d) => d.label).join('\n')).toContain(`${proposer} proposes Thai Palace`);
  });
});
