import { describe, expect, it } from 'vitest';
import * as v from 'valibot';
import { sameBytes } from './bytes.ts';
import {
  applyLunch,
  currentDecision,
  decodeLunchState,
  encodeLunchState,
  initialLunch,
  LunchOpSchema,
  nameProblem,
  sameName,
  SEAT_NAMES,
  tally,
  type LunchEvent,
  type LunchOp,
  type LunchState,
  type RequestRef,
} from './lunch.ts';
import { quorumFor } from './quorum.ts';
import { decode, encode } from 'cborg';

/** Drives a state through requests, numbering each member's requests like the log would. */
class Script {
  state: LunchState;
  events: LunchEvent[] = [];
  private counters: number[];
  constructor(n: number) {
    this.state = initialLunch(n);
    this.counters = Array(n).fill(0);
  }
  run(member: number, op: LunchOp): RequestRef {
    const counter = this.counters[member] ?? 0;
    this.counters[member] = counter + 1;
    const ref = { member, counter };
    const result = applyLunch(this.state, member, ref, op);
    this.state = result.state;
    this.events = result.events;
    return ref;
  }
  propose(member: number, place = 'Pho', time = '12:30'): RequestRef {
    return this.run(member, { kind: 'propose', place, time });
  }
  vote(member: number, proposal: RequestRef, choice: 'join' | 'decline' = 'join'): LunchEvent[] {
    this.run(member, { kind: 'vote', proposal, choice });
    return this.events;
  }
  kinds(): string[] {
    return this.events.map((e) => e.kind);
  }
}

const ignoredReason = (events: LunchEvent[]): string => {
  expect(events).toHaveLength(1);
  const [e] = events;
  if (e?.kind !== 'ignored') throw new Error(`expected ignored, got ${JSON.stringify(events)}`);
  return e.reason;
};

describe('initialLunch', () => {
  it('accepts n = 3f+1 >= 4 only', () => {
    for (const n of [4, 7, 10]) {
      expect(initialLunch(n)).toEqual({ n, names: SEAT_NAMES.slice(0, n), round: 1, asked: [], proposals: [], decisions: [] });
    }
    for (const n of [0, 1, 3, 5, 6, 8, 4.5, NaN, -2]) expect(() => initialLunch(n)).toThrow(RangeError);
  });
});

describe('applyLunch', () => {
  it('reaches a decision with n = 4 once 3 members join', () => {
    const s = new Script(4);
    const p = s.propose(0, '  Pho Saigon ', '12:30');
    expect(s.events).toEqual([{ kind: 'proposed', ref: p, round: 1, place: 'Pho Saigon', time: '12:30' }]);
    s.vote(0, p);
    s.vote(1, p, 'decline');
    s.vote(2, p);
    expect(currentDecision(s.state)).toBeNull();
    expect(tally(s.state, p)).toEqual({ join: 2, decline: 1 });
    expect(s.vote(3, p)).toEqual([
      { kind: 'voted', member: 3, proposal: p, choice: 'join', changed: true },
      { kind: 'decided', round: 1, proposal: p, place: 'Pho Saigon', time: '12:30', joined: [0, 2, 3] },
    ]);
    expect(currentDecision(s.state)).toEqual({ round: 1, proposal: p, joined: [0, 2, 3] });
  });

  it('keeps the first proposal to reach q even if another reaches q later', () => {
    const s = new Script(4);
    const a = s.propose(0, 'Tacos');
    const b = s.propose(1, 'Sushi');
    for (const m of [0, 1]) s.vote(m, b);
    for (const m of [0, 1]) s.vote(m, a);
    expect(tally(s.state, b).join).toBe(2);
    s.vote(2, a);
    expect(s.kinds()).toEqual(['voted', 'decided']);
    expect(s.state.decisions).toEqual([{ round: 1, proposal: a, joined: [0, 1, 2] }]);
  });

  it('takes no vote in a decided round: the decision and the votes it was made of stay as they were', () => {
    const s = new Script(4);
    const p = s.propose(0);
    const other = s.propose(3, 'Sushi');
    for (const m of [1, 2]) s.vote(m, p);
    const decided = s.state;
    // A going member declines, a member who was not going joins, someone joins another place.
    for (const [m, ref, choice] of [[1, p, 'decline'], [3, p, 'join'], [1, other, 'join'], [2, other, 'join']] as const) {
      const ref2 = s.run(m, { kind: 'vote', proposal: ref, choice });
      expect(s.events).toEqual([{ kind: 'ignored', reason: 'round 1 is already decided', request: ref2 }]);
      expect(s.state).toBe(decided);
    }
    expect(currentDecision(s.state)?.joined).toEqual([0, 1, 2]);
    expect(s.state.proposals[0]?.votes).toEqual(['join', 'join', 'join', null]);
    expect(tally(s.state, other)).toEqual({ join: 1, decline: 0 });
    // Still final once the room has moved on.
    s.run(3, { kind: 'new-round' });
    expect(ignoredReason(s.vote(1, p, 'decline'))).toBe('round 1 is already decided');
  });

  it('counts the proposer as going: proposing is joining', () => {
    const s = new Script(4);
    const p = s.propose(2, 'Ramen');
    expect(s.state.proposals[0]?.votes).toEqual([null, null, 'join', null]);
    expect(tally(s.state, p)).toEqual({ join: 1, decline: 0 });
    s.vote(0, p);
    expect(s.vote(3, p)).toContainEqual({ kind: 'decided', round: 1, proposal: p, place: 'Ramen', time: '12:30', joined: [0, 2, 3] });
    // The proposer's own Join is no change; a proposer may still back out before the decision.
    const t = new Script(4);
    const q = t.propose(1);
    expect(t.vote(1, q)).toEqual([{ kind: 'voted', member: 1, proposal: q, choice: 'join', changed: false }]);
    t.vote(1, q, 'decline');
    expect(tally(t.state, q)).toEqual({ join: 0, decline: 1 });
  });

  it('ignores votes on unknown proposals and on proposals of earlier rounds', () => {
    const s = new Script(4);
    const old = s.propose(0);
    expect(ignoredReason(s.vote(1, { member: 3, counter: 9 }))).toMatch(/unknown proposal/);
    for (const m of [2, 0, 1]) s.run(m, { kind: 'new-round' });
    expect(s.events).toEqual([{ kind: 'asked', member: 1, round: 1, asked: [0, 1, 2] }, { kind: 'round-started', round: 2 }]);
    const before = s.state;
    expect(ignoredReason(s.vote(1, old))).toMatch(/earlier round/);
    expect(s.state).toBe(before);
  });

  it('ignores proposals after a decision until a new round, which can decide afresh', () => {
    const s = new Script(4);
    const p = s.propose(0);
    for (const m of [1, 2, 3]) s.vote(m, p);
    s.propose(1, 'Too late');
    expect(ignoredReason(s.events)).toBe('round 1 is already decided; start a new round to propose');
    expect(s.state.proposals).toHaveLength(1);

    s.run(3, { kind: 'new-round' });
    expect(currentDecision(s.state)).toBeNull();
    const q = s.propose(1, 'Curry', '13:05');
    expect(s.state.proposals.map((x) => x.round)).toEqual([1, 2]);
    s.vote(3, q);
    expect(s.vote(0, q)).toContainEqual({ kind: 'decided', round: 2, proposal: q, place: 'Curry', time: '13:05', joined: [0, 1, 3] });
    expect(s.state.decisions.map((d) => d.round)).toEqual([1, 2]);
  });

  it('needs 5 joins with n = 7', () => {
    const s = new Script(7);
    const p = s.propose(6);
    for (const m of [0, 1, 2]) s.vote(m, p);
    s.vote(4, p, 'decline');
    s.vote(5, p, 'decline');
    expect(currentDecision(s.state)).toBeNull();
    s.vote(5, p); // changed mind: the fifth join, the proposer's counted, decides
    expect(s.kinds()).toEqual(['voted', 'decided']);
    expect(currentDecision(s.state)?.joined).toEqual([0, 1, 2, 5, 6]);
  });

  it("counts a member's last vote only", () => {
    const s = new Script(4);
    const p = s.propose(0);
    s.vote(1, p);
    s.vote(1, p, 'decline');
    s.vote(1, p);
    s.vote(1, p);
    expect(s.events).toEqual([{ kind: 'voted', member: 1, proposal: p, choice: 'join', changed: false }]);
    s.vote(2, p, 'decline');
    expect(tally(s.state, p)).toEqual({ join: 2, decline: 1 });
    expect(s.state.proposals[0]?.votes).toEqual(['join', 'join', 'decline', null]);
  });

  it('ignores malformed requests with a reason and never throws', () => {
    const s = new Script(4);
    const p = s.propose(0);
    const start = s.state;
    const bad: [number, unknown, unknown][] = [
      [0, { member: 0, counter: 5 }, { kind: 'propose', place: '   ', time: '12:00' }],
      [0, { member: 0, counter: 5 }, { kind: 'propose', place: 'x'.repeat(61), time: '12:00' }],
      [0, { member: 0, counter: 5 }, { kind: 'propose', place: 'Bar\nBaz', time: '12:00' }],
      [0, { member: 0, counter: 5 }, { kind: 'propose', place: 'Bar\uD800', time: '12:00' }],
      [0, { member: 0, counter: 5 }, { kind: 'propose', place: 'Bar', time: '24:00' }],
      [0, { member: 0, counter: 5 }, { kind: 'propose', place: 'Bar', time: '9:30' }],
      [0, { member: 0, counter: 5 }, { kind: 'propose', place: 'Bar', time: '12:30', extra: 1 }],
      [0, { member: 0, counter: 5 }, { kind: 'propose', place: 42, time: '12:30' }],
      [0, { member: 0, counter: 5 }, { kind: 'vote', proposal: p, choice: 'maybe' }],
      [0, { member: 0, counter: 5 }, { kind: 'vote', proposal: { member: 0 }, choice: 'join' }],
      [0, { member: 0, counter: 5 }, { kind: 'vote', proposal: { member: -1, counter: 0 }, choice: 'join' }],
      [0, { member: 0, counter: 5 }, { kind: 'dance' }],
      [0, { member: 0, counter: 5 }, null],
      [0, { member: 0, counter: 5 }, 'new-round'],
      [0, { member: 0, counter: 5 }, { kind: 'new-round', round: 7 }],
      [4, { member: 4, counter: 0 }, { kind: 'new-round' }],
      [-1, { member: -1, counter: 0 }, { kind: 'new-round' }],
      [1.5, { member: 1.5, counter: 0 }, { kind: 'new-round' }],
      [1, { member: 2, counter: 0 }, { kind: 'new-round' }],
      [1, { member: 1, counter: -1 }, { kind: 'new-round' }],
      [1, { member: 1, counter: 0.5 }, { kind: 'new-round' }],
      [1, null, { kind: 'new-round' }],
      [0, p, { kind: 'propose', place: 'Duplicate ref', time: '12:00' }],
      [0, { member: 0, counter: 5 }, { kind: 'name', name: '   ' }],
      [0, { member: 0, counter: 5 }, { kind: 'name', name: 'x'.repeat(33) }],
      [0, { member: 0, counter: 5 }, { kind: 'name', name: 'Ja\nmes' }],
      [0, { member: 0, counter: 5 }, { kind: 'name', name: 'Ja\u2028mes' }],
      [0, { member: 0, counter: 5 }, { kind: 'name', name: 'Ja\uDC00' }],
      [0, { member: 0, counter: 5 }, { kind: 'name', name: 42 }],
      [0, { member: 0, counter: 5 }, { kind: 'name', name: 'Dana', extra: 1 }],
      [0, { member: 0, counter: 5 }, { kind: 'name', name: ' bryan ' }],
      [0, { member: 0, counter: 5 }, { get kind(): string { throw new Error('boom'); } }],
    ];
    for (const [member, ref, op] of bad) {
      const result = applyLunch(start, member, ref as RequestRef, op as LunchOp);
      expect(result.state).toBe(start);
      expect(ignoredReason(result.events)).not.toBe('');
    }
    const dance = applyLunch(start, 0, { member: 0, counter: 5 }, { kind: 'dance' } as unknown as LunchOp);
    expect(ignoredReason(dance.events)).toMatch(/malformed op/);
  });

  it('does not mutate its input', () => {
    const s = new Script(4);
    const p = s.propose(0);
    for (const m of [0, 1]) s.vote(m, p);
    const frozen = structuredClone(s.state);
    const bytes = encodeLunchState(s.state);
    const input = s.state;
    s.vote(2, p);
    s.vote(2, p, 'decline');
    s.propose(3);
    s.run(3, { kind: 'new-round' });
    expect(input).toEqual(frozen);
    expect(encodeLunchState(input)).toEqual(bytes);
    expect(s.state.decisions).toHaveLength(1);
  });

  it('encodes equal histories equally and different ones differently', () => {
    const history = (placeB: string, lastChoice: 'join' | 'decline') => {
      const s = new Script(4);
      const a = s.propose(0, 'Tacos');
      s.propose(1, placeB);
      s.vote(2, a, lastChoice);
      return encodeLunchState(s.state);
    };
    expect(history('Sushi', 'join')).toEqual(history('Sushi', 'join'));
    expect(history('Sushi', 'join')).not.toEqual(history('Sushi', 'decline'));
    expect(history('Sushi', 'join')).not.toEqual(history('Sush', 'join'));
    const s = new Script(4);
    const before = encodeLunchState(s.state);
    s.run(0, { kind: 'new-round' });
    expect(encodeLunchState(s.state)).not.toEqual(before);
  });
});

describe('names', () => {
  it('start as the seat names, distinct in every room size', () => {
    expect(initialLunch(4).names).toEqual(['James', 'Bryan', 'Rich', 'Chris']);
    const ten = initialLunch(10).names;
    expect(ten).toHaveLength(10);
    for (const [i, a] of ten.entries()) for (const b of ten.slice(i + 1)) expect(sameName(a, b)).toBe(false);
  });

  it('refuse invisible and direction-changing characters, which would let one name pass for another', () => {
    for (const name of ['Rich\u200b', 'Rich\u3164', 'Rich\u2800', '\u202eRich', 'Ri\u00adch', 'Rich\ufe0f', '\ufeffBob', 'Bo\ufeffb', 'Rich\u200d', '\u200cRich']) {
      expect(nameProblem(name), JSON.stringify(name)).not.toBeNull();
      const s = new Script(4);
      s.run(1, { kind: 'name', name });
      expect(s.events[0]?.kind).toBe('ignored');
      expect(s.state.names[1]).toBe('Bryan');
    }
    expect(nameProblem('Zoë 🍕')).toBeNull();
  });

  it('and places refuse a byte-order mark: CBOR drops one at the start of a string, so the signed request would verify nowhere', () => {
    // Why: a request is verified by encoding what was decoded, and this is what decoding gives.
    expect(decode(encode('\ufeffBob'))).toBe('Bob');
    expect(v.safeParse(LunchOpSchema, { kind: 'propose', place: '\ufeffSushi', time: '12:00' }).success).toBe(false);
    expect(v.safeParse(LunchOpSchema, { kind: 'name', name: '\ufeffBob' }).success).toBe(false);
  });

  it('change by an ordered op, trimmed, and the change is told', () => {
    const s = new Script(4);
    s.run(2, { kind: 'name', name: '  Dana ' });
    expect(s.events).toEqual([{ kind: 'renamed', member: 2, from: 'Rich', name: 'Dana' }]);
    expect(s.state.names).toEqual(['James', 'Bryan', 'Dana', 'Chris']);
    // A member may change the case of its own name; the old one is then free for the others.
    s.run(2, { kind: 'name', name: 'DANA' });
    expect(s.state.names[2]).toBe('DANA');
    s.run(3, { kind: 'name', name: 'Rich' });
    expect(s.state.names).toEqual(['James', 'Bryan', 'DANA', 'Rich']);
  });

  it('stay distinct: a name another member holds, in any case and spacing, is refused with a reason', () => {
    const s = new Script(4);
    s.run(0, { kind: 'name', name: 'Dana' });
    const before = s.state;
    for (const wanted of ['Dana', 'dana', '  DANA\u3000', 'bryan']) {
      const ref = s.run(3, { kind: 'name', name: wanted });
      const holder = wanted.toLowerCase().includes('bryan') ? 'Bryan' : 'Dana';
      expect(s.events).toEqual([{ kind: 'ignored', reason: `the name “${wanted.trim()}” is already taken by ${holder}`, request: ref }]);
      expect(s.state).toBe(before);
    }
    expect(sameName('Émile', 'ÉMILE')).toBe(true);
    expect(sameName('Σοφία', 'σοφία')).toBe(true);
    expect(sameName('Dana', 'Dan a')).toBe(false);
  });

  it('are bounded in code points, not graphemes, and carry no control characters', () => {
    const family = '👩‍👩‍👧'; // one grapheme, five code points
    expect(nameProblem(family.repeat(6))).toBeNull(); // 30 code points
    expect(nameProblem(family.repeat(7))).toMatch(/at most 32 characters \(this one has 35\)/);
    expect(nameProblem('x'.repeat(32))).toBeNull();
    expect(nameProblem(` ${'x'.repeat(32)}\u00a0`)).toBeNull();
    expect(nameProblem(' '.repeat(64) + 'x')).toMatch(/spaces included/);
    expect(nameProblem('a\tb')).toMatch(/control/);
    expect(nameProblem('\u3000')).toMatch(/empty/);
  });
});

describe('new rounds', () => {
  it('need 2f + 1 members asking while the round is undecided: one member cannot throw a proposal away', () => {
    const s = new Script(4);
    const p = s.propose(0);
    s.vote(1, p);
    s.run(3, { kind: 'new-round' });
    expect(s.events).toEqual([{ kind: 'asked', member: 3, round: 1, asked: [3] }]);
    // Asking again counts once.
    const again = s.run(3, { kind: 'new-round' });
    expect(s.events).toEqual([{ kind: 'ignored', reason: 'you already asked for a new round in round 1', request: again }]);
    s.run(0, { kind: 'new-round' });
    expect(s.state.round).toBe(1);
    expect(s.state.asked).toEqual([0, 3]);
    const twoAsked = s.state;
    // The proposal is still open: it can still decide, and after that moving on is free.
    s.vote(2, p);
    expect(currentDecision(s.state)?.proposal).toEqual(p);
    s.run(2, { kind: 'new-round' });
    expect(s.events).toEqual([{ kind: 'round-started', round: 2 }]);
    // Without the decision, a third member asking is a quorum; the asks of a round end with it.
    const t = applyLunch(twoAsked, 1, { member: 1, counter: 7 }, { kind: 'new-round' });
    expect(t.events).toEqual([{ kind: 'asked', member: 1, round: 1, asked: [0, 1, 3] }, { kind: 'round-started', round: 2 }]);
    expect(t.state.round).toBe(2);
    expect(t.state.asked).toEqual([]);
    const u = applyLunch(t.state, 3, { member: 3, counter: 7 }, { kind: 'new-round' });
    expect(u.events).toEqual([{ kind: 'asked', member: 3, round: 2, asked: [3] }]);
  });

  it('start at once after a decision, whoever asks', () => {
    const s = new Script(7);
    const p = s.propose(0);
    for (const m of [1, 2, 3, 4]) s.vote(m, p);
    expect(currentDecision(s.state)).not.toBeNull();
    s.run(6, { kind: 'new-round' });
    expect(s.events).toEqual([{ kind: 'round-started', round: 2 }]);
    expect(currentDecision(s.state)).toBeNull();
  });

  it('need five of seven asking when undecided', () => {
    const s = new Script(7);
    for (const m of [0, 1, 2, 3]) s.run(m, { kind: 'new-round' });
    expect(s.state.round).toBe(1);
    s.run(6, { kind: 'new-round' });
    expect(s.state.round).toBe(2);
  });
});

describe('LunchOpSchema', () => {
  it('accepts well-formed ops and rejects the rest', () => {
    const good: unknown[] = [
      { kind: 'propose', place: 'Bánh mì 🥖', time: '00:00' },
      { kind: 'propose', place: 'x'.repeat(60), time: '23:59' },
      { kind: 'vote', proposal: { member: 3, counter: 0 }, choice: 'decline' },
      { kind: 'new-round' },
      { kind: 'name', name: 'Zoë 👩‍🍳' },
    ];
    const bad: unknown[] = [
      { kind: 'name', name: '' },
      { kind: 'name', name: 'a\u0000' },
      { kind: 'name' },
      { kind: 'propose', place: '', time: '12:00' },
      { kind: 'propose', place: 'a\u0007', time: '12:00' },
      { kind: 'propose', place: 'Ok', time: '12:60' },
      { kind: 'vote', proposal: { member: 0, counter: 1, x: 1 }, choice: 'join' },
      { kind: 'vote', proposal: { member: 0, counter: 2 ** 53 }, choice: 'join' },
      { kind: 'vote', proposal: { member: '0', counter: 1 }, choice: 'join' },
      { kind: 'new-round', extra: true },
      {},
    ];
    for (const op of good) expect(v.is(LunchOpSchema, op)).toBe(true);
    for (const op of bad) expect(v.is(LunchOpSchema, op)).toBe(false);
  });
});

// A small seeded PRNG (mulberry32) so the random histories are reproducible.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('random histories', () => {
  const places = ['Pho', ' Tacos ', 'Sushi', '', 'x'.repeat(61), 'Tab\there', 'Ramen'];
  const times = ['12:00', '12:30', '25:00', 'noon', '13:15'];

  function randomRequest(rand: () => number, state: LunchState, counters: number[]): [number, RequestRef, LunchOp] {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const n = state.n;
    const member = rand() < 0.03 ? pick([-1, n, 0.5]) : Math.floor(rand() * n);
    const ref = { member: rand() < 0.03 ? (member + 1) % n : member, counter: counters[member] ?? 0 };
    if (member >= 0 && member < n) counters[member] = ref.counter + 1;
    // Votes mostly go to the current round's proposals, so that decisions actually happen.
    const current = state.proposals.filter((p) => p.round === state.round).map((p) => p.ref);
    const known = rand() < 0.8 && current.length > 0 ? current : state.proposals.map((p) => p.ref);
    const roll = rand();
    let op: unknown;
    if (roll < 0.15) op = { kind: 'propose', place: pick(places), time: pick(times) };
    else if (roll < 0.9) {
      const proposal = known.length > 0 && rand() < 0.95 ? pick(known) : { member: Math.floor(rand() * n), counter: 99 };
      op = { kind: 'vote', proposal, choice: rand() < 0.75 ? 'join' : rand() < 0.9 ? 'decline' : 'meh' };
    }
    else if (roll < 0.93) op = { kind: 'new-round' };
    else if (roll < 0.95) op = { kind: 'name', name: pick(['Dana', 'dana ', 'James', 'Bryan', ' Rich', 'Eve', '', 'Zoë']) };
    else op = pick([null, 7, { kind: 'vote' }, { kind: 'new-round', x: 1 }, { kind: 'lunch!' }, []]);
    return [member, ref, op as LunchOp];
  }

  const joinsAt = (state: LunchState, ref: RequestRef) => tally(state, ref).join;

  for (const n of [4, 7, 10]) {
    it(`replicas agree and decisions are sound (n = ${n})`, () => {
      const { q } = quorumFor(n);
      let decisions = 0;
      for (let seed = 1; seed <= 25; seed++) {
        const rand = prng(seed * 1000 + n);
        let a = initialLunch(n);
        let b = initialLunch(n);
        const counters = Array<number>(n).fill(0);
        for (let step = 0; step < 300; step++) {
          const where = `seed ${seed} step ${step}`;
          const [member, ref, op] = randomRequest(rand, a, counters);
          const before = encodeLunchState(a);
          const ra = applyLunch(a, member, ref, op);
          const rb = applyLunch(b, member, structuredClone(ref), structuredClone(op));
          // Plain checks per step, expect() only on failure: vitest assertions are slow in a hot loop.
          if (!sameBytes(encodeLunchState(a), before)) expect.fail(`input mutated at ${where}`);
          if (!sameBytes(encodeLunchState(rb.state), encodeLunchState(ra.state))) expect.fail(`replicas diverged at ${where}`);
          if (JSON.stringify(rb.events) !== JSON.stringify(ra.events)) expect(rb.events).toEqual(ra.events);

          const after = ra.state;
          if (new Set(after.names.map((x) => x.toLowerCase().trim())).size !== n) expect.fail(`names clash at ${where}`);
          if (after.round !== a.round && currentDecision(a) === null && a.asked.length + 1 < q) {
            expect.fail(`round left without a decision or a quorum asking at ${where}`);
          }
          for (const d of a.decisions) {
            const i = a.proposals.findIndex((x) => x.round === d.round && x.ref.member === d.proposal.member && x.ref.counter === d.proposal.counter);
            if (after.proposals[i]?.votes.join() !== a.proposals[i]?.votes.join()) expect.fail(`a decided round's votes changed at ${where}`);
          }
          for (const e of ra.events) {
            if (e.kind === 'proposed' && currentDecision(a) !== null) {
              expect.fail(`proposal accepted in a decided round at ${where}`);
            }
            if (e.kind === 'proposed' && after.proposals.at(-1)?.votes[e.ref.member] !== 'join') {
              expect.fail(`proposer not joined at ${where}`);
            }
            if (e.kind !== 'decided') continue;
            decisions++;
            // First to reach q this round: the round was undecided and nobody had q joins before this step.
            const firstToQuorum =
              currentDecision(a) === null && a.proposals.every((p) => p.round !== a.round || joinsAt(a, p.ref) < q);
            const sound =
              joinsAt(ra.state, e.proposal) >= q &&
              e.joined.length === joinsAt(ra.state, e.proposal) &&
              e.joined.every((m, i) => i === 0 || (e.joined[i - 1] ?? Infinity) < m) &&
              e.round === ra.state.round;
            if (!firstToQuorum || !sound) expect.fail(`unsound decision at ${where}: ${JSON.stringify(e)}`);
          }
          a = ra.state;
          b = rb.state;
        }
        const rounds = a.decisions.map((d) => d.round);
        expect(rounds.every((r, i) => i === 0 || (rounds[i - 1] ?? Infinity) < r)).toBe(true); // at most one per round
        for (const d of a.decisions) {
          const p = a.proposals.find((x) => x.ref.member === d.proposal.member && x.ref.counter === d.proposal.counter);
          expect(p?.round).toBe(d.round);
        }
      }
      expect(decisions).toBeGreaterThan(25); // the histories really exercise decisions
    });
  }
});

describe('decodeLunchState', () => {
  it('inverts encodeLunchState and refuses anything else', () => {
    let s = initialLunch(4);
    s = applyLunch(s, 1, { member: 1, counter: 1 }, { kind: 'propose', place: 'Pizza', time: '12:00' }).state;
    for (const m of [0, 1, 2]) s = applyLunch(s, m, { member: m, counter: 5 }, { kind: 'vote', proposal: { member: 1, counter: 1 }, choice: 'join' }).state;
    const bytes = encodeLunchState(s);
    expect(decodeLunchState(bytes, 4)).toEqual(s);
    expect(decodeLunchState(bytes, 7)).toBeNull();
    expect(decodeLunchState(bytes.subarray(0, bytes.length - 1), 4)).toBeNull();
    expect(decodeLunchState(new Uint8Array([0xa0]), 4)).toBeNull();
  });

  it('refuses states no history could make', () => {
    const s = new Script(4);
    const p = s.propose(1, 'Pizza');
    s.run(3, { kind: 'name', name: 'Dana' });
    s.run(2, { kind: 'new-round' });
    const good = s.state;
    expect(decodeLunchState(encodeLunchState(good), 4)).toEqual(good);
    const broken: [string, LunchState][] = [
      ['two members alike', { ...good, names: ['James', 'Bryan', 'Rich', 'james'] }],
      ['an untrimmed name', { ...good, names: ['James', 'Bryan', 'Rich', 'Dana '] }],
      ['too few names', { ...good, names: ['James', 'Bryan', 'Rich'] }],
      ['a quorum that asked and stayed', { ...good, asked: [0, 1, 2] }],
      ['asks out of order', { ...good, asked: [2, 0] }],
      ['an ask from outside the room', { ...good, asked: [4] }],
      ['votes for another room size', { ...good, proposals: good.proposals.map((x) => ({ ...x, votes: [...x.votes, null] })) }],
      ['a proposal in a later round', { ...good, proposals: good.proposals.map((x) => ({ ...x, round: 2 })) }],
      ['a proposer who is not its sender', { ...good, proposals: good.proposals.map((x) => ({ ...x, proposer: 0 })) }],
      ['a decision without the joins', { ...good, decisions: [{ round: 1, proposal: p, joined: [1] }] }],
      ['a round before the first', { ...good, round: 0, proposals: good.proposals.map((x) => ({ ...x, round: 0 })) }],
    ];
    for (const [why, state] of broken) expect(decodeLunchState(encodeLunchState(state), 4), why).toBeNull();
    // Earlier formats, whose rules were different, are not read as this one.
    expect(decodeLunchState(encode([1, 4, 0, [], []]), 4)).toBeNull();
    expect(decodeLunchState(encode([2, 4, good.names, 0, [], [], []]), 4)).toBeNull();
  });
});
