import { describe, expect, it } from 'vitest';
import { Adversary, STRATEGIES, type Strategy } from './adversaries.ts';
import type { Effect } from './effects.ts';
import { Cluster, type Node } from './harness.ts';
import type { LunchOp } from './lunch.ts';
import {
  batchDigest, encodeWire, signBody, type CommitBody, type PrePrepareBody, type PrepareBody, type RequestBody, type Signed, type Wire,
} from './messages.ts';
import { Replica } from './replica.ts';

const proposal = (place: string): LunchOp => ({ kind: 'propose', place, time: '12:30' });

function withLiar(n: number, liar: number, strategy: Strategy): Cluster {
  return new Cluster(n, {
    real: true,
    wrap: (replica, m, c) =>
      m.index === liar ? new Adversary(strategy, { replica, secretKey: m.secretKey, suite: c.suite, roster: c.roster }) : replica,
  });
}

/** Two replicas holding one key, each hearing a different half of the room. */
class Twins implements Node {
  readonly me: number;
  constructor(private readonly a: Replica, private readonly b: Replica) {
    this.me = a.me;
  }
  step(from: number, bytes: Uint8Array): Effect[] {
    return from % 2 === 0 ? this.a.step(from, bytes) : this.b.step(from, bytes);
  }
  tick(now: number): Effect[] {
    return [...this.a.tick(now), ...this.b.tick(now)];
  }
  request(op: LunchOp): Effect[] {
    return this.a.request(op);
  }
  snapshot() {
    return this.a.snapshot();
  }
}

function withTwins(n: number, twin: number): Cluster {
  return new Cluster(n, {
    real: true,
    wrap: (replica, m, c) =>
      m.index === twin ? new Twins(replica, new Replica({ roster: c.roster, me: m.index, secretKey: m.secretKey, suite: c.suite })) : replica,
  });
}

/** Agreement, liveness for every honest request, and no honest member proven faulty. */
function expectHonestAgree(c: Cluster, honest: number[], requests: number): void {
  const logs = honest.map((m) => c.executed(m).flatMap((e) => e.requests.map((r) => `${e.seq}/${r.member}/${r.counter}`)));
  for (const log of logs) expect(log).toEqual(logs[0]);
  for (const m of honest) {
    const decided = c.executed(m).flatMap((e) => e.requests).filter((r) => honest.includes(r.member));
    expect(decided).toHaveLength(requests);
    for (const e of c.evidence(m)) expect(honest).not.toContain(e.member);
  }
  const states = honest.map((m) => Buffer.from((c.nodes[m] as Replica).snapshot().lunchBytes).toString('hex'));
  for (const s of states) expect(s).toBe(states[0]);
}

describe('an equivocating primary', () => {
  it('is proven faulty at every honest member, replaced, and lunch is still agreed', () => {
    const c = withLiar(4, 0, 'equivocate');
    c.request(1, proposal('Thai Palace'));
    c.request(2, proposal('Pizza'));
    c.run(40_000);
    for (const m of [1, 2, 3]) {
      expect(c.evidence(m).map((e) => e.member)).toEqual([0]);
      expect((c.nodes[m] as Replica).snapshot()).toMatchObject({ proven: [0] });
      expect((c.nodes[m] as Replica).snapshot().view).toBeGreaterThan(0);
    }
    expectHonestAgree(c, [1, 2, 3], 2);
  });
});

describe('every adversary, as primary and as backup, with n = 4', () => {
  for (const strategy of STRATEGIES) {
    for (const [role, liar] of [['primary', 0], ['backup', 2]] as const) {
      it(`${strategy} as ${role}: honest members agree and decide`, () => {
        const c = withLiar(4, liar, strategy);
        const honest = [0, 1, 2, 3].filter((m) => m !== liar);
        for (const m of honest) c.request(m, proposal(`Place ${m}`));
        c.run(60_000);
        expectHonestAgree(c, honest, honest.length);
      });
    }
  }
});

describe('a false accusation', () => {
  it('is shown as a claim and changes nothing', () => {
    const c = withLiar(4, 3, 'false-accuse');
    c.request(0, proposal('Thai Palace'));
    c.run(10_000);
    for (const m of [0, 1, 2]) {
      const claims = c.effects.filter((e) => e.at === m && e.effect.kind === 'claim');
      expect(claims.length).toBeGreaterThan(0);
      expect(c.evidence(m)).toEqual([]);
      expect((c.nodes[m] as Replica).snapshot().drops['bad-proof']).toBeGreaterThan(0);
      expect((c.nodes[m] as Replica).snapshot().view).toBe(0);
    }
    expectHonestAgree(c, [0, 1, 2], 1);
  });
});

describe('Twins (two replicas sharing one key)', () => {
  for (const [role, twin] of [['primary', 0], ['backup', 1]] as const) {
    it(`as ${role}: honest members still agree and decide`, () => {
      const c = withTwins(4, twin);
      const honest = [0, 1, 2, 3].filter((m) => m !== twin);
      for (const m of honest) c.request(m, proposal(`Place ${m}`));
      c.run(60_000);
      expectHonestAgree(c, honest, honest.length);
    });
  }
});

describe('beyond f: two colluding liars out of four', () => {
  it('can split the honest members, and both liars end up proven faulty at each of them', () => {
    // The guarantees hold for at most f liars. With f + 1 the honest members may decide
    // differently; what the product still shows is who lied, with proof.
    const c = new Cluster(4, { real: true });
    const [p0, p1] = [c.members[0]!.secretKey, c.members[1]!.secretKey];
    const room = c.roster.room;
    const req = (place: string, counter: number) =>
      signBody<RequestBody>(c.suite, p1, { t: 'request', room, from: 1, counter, op: proposal(place) });
    const version = (batch: Signed<RequestBody>[]) => {
      const digest = batchDigest(batch);
      const pp = signBody<PrePrepareBody>(c.suite, p0, { t: 'pre-prepare', room, from: 0, view: 0, seq: 1, digest });
      const prepare = signBody<PrepareBody>(c.suite, p1, { t: 'prepare', room, from: 1, view: 0, seq: 1, digest });
      const commit = (key: Uint8Array, from: number) => signBody<CommitBody>(c.suite, key, { t: 'commit', room, from, view: 0, seq: 1, digest });
      return [
        { k: 'pre-prepare', pp, batch },
        { k: 'prepare', prepare, pp },
        { k: 'commit', commit: commit(p0, 0) },
        { k: 'commit', commit: commit(p1, 1) },
      ] as Wire[];
    };
    const a = version([req('Pizza', 1)]);
    const b = version([req('Sushi', 1)]);
    for (const m of a) c.collect(0, [{ kind: 'send', to: 2, type: m.k, message: m, bytes: encodeWire(m) }]);
    for (const m of b) c.collect(0, [{ kind: 'send', to: 3, type: m.k, message: m, bytes: encodeWire(m) }]);
    // The liars' replicas themselves take no further part: only what was crafted above goes out.
    c.deliverAll((m) => m.to === 2 || m.to === 3);
    c.down.add(0);
    c.down.add(1);
    c.run(30_000);
    const first = (m: number) => c.executed(m)[0]?.requests.map((r) => r.op);
    expect(first(2)).toEqual([proposal('Pizza')]);
    expect(first(3)).toEqual([proposal('Sushi')]);
    for (const m of [2, 3]) expect((c.nodes[m] as Replica).snapshot().proven).toEqual([0, 1]);
  });
});

describe('an equivocating backup', () => {
  it('is proven faulty at every honest member once its conflicting prepares and commits meet', () => {
    const c = withLiar(4, 2, 'equivocate');
    c.request(1, proposal('Thai Palace'));
    c.run(10_000);
    for (const m of [0, 1, 3]) expect((c.nodes[m] as Replica).snapshot().proven).toEqual([2]);
    expectHonestAgree(c, [0, 1, 3], 1);
  });
});
