import { describe, expect, it } from 'vitest';
import { Adversary, STRATEGIES, type Strategy } from './adversaries.ts';
import type { Effect } from './effects.ts';
import { Cluster, type Node } from './harness.ts';
import type { LunchOp } from './lunch.ts';
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
