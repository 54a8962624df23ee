import { describe, expect, it } from 'vitest';
import type { Effect, ExecutedRequest } from '../core/effects.ts';
import { encodeWire, type Wire } from '../core/messages.ts';
import { Replica } from '../core/replica.ts';
import { InsecureSimulationSuite } from '../core/suite.ts';
import { EventQueue } from './event-queue.ts';
import { Invariants, InvariantViolation, type Cast } from './invariants.ts';
import { VirtualNetwork } from './network.ts';
import type { NodeConfig, NodeSnapshot, SimNode } from './node.ts';
import { Prng } from './prng.ts';
import { scenarioNames } from './scenarios.ts';
import { formatFailure, runSeed, Simulation, type RunOptions } from './simulator.ts';

describe('Prng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const draw = (seed: number | string) => {
      const r = new Prng(seed);
      return Array.from({ length: 50 }, () => r.nextU32());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw('lunch')).toEqual(draw('lunch'));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(0)).not.toEqual(draw(2 ** 32));
  });

  it('keeps int() within bounds and covers them', () => {
    const r = new Prng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = r.int(-3, 3);
      expect(x).toBeGreaterThanOrEqual(-3);
      expect(x).toBeLessThanOrEqual(3);
      seen.add(x);
    }
    expect(seen.size).toBe(7);
    expect(() => r.int(2, 1)).toThrow(RangeError);
  });

  it('has chance(), pick() and shuffle() that behave', () => {
    const r = new Prng(9);
    expect(r.chance(0)).toBe(false);
    expect(r.chance(1)).toBe(true);
    const hits = Array.from({ length: 10_000 }, () => r.chance(0.3)).filter(Boolean).length;
    expect(hits).toBeGreaterThan(2700);
    expect(hits).toBeLessThan(3300);
    expect(['a', 'b', 'c']).toContain(r.pick(['a', 'b', 'c']));
    const items = [...Array(20).keys()];
    const shuffled = r.shuffle([...items]);
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
  });

  it('forks independent streams deterministically', () => {
    const a = new Prng(5);
    const b = new Prng(5);
    expect(a.fork('x').nextU32()).toBe(b.fork('x').nextU32());
    expect(a.fork('x').nextU32()).not.toBe(a.fork('y').nextU32());
  });
});

describe('EventQueue', () => {
  it('pops by time, and in insertion order at equal times', () => {
    const q = new EventQueue<string>();
    const r = new Prng(1);
    const pushed: { at: number; v: string }[] = [];
    for (let i = 0; i < 500; i++) {
      const at = r.int(0, 50);
      q.push(at, `e${i}`);
      pushed.push({ at, v: `e${i}` });
    }
    const expected = [...pushed].sort((a, b) => a.at - b.at).map((p) => p.v); // Array#sort is stable
    const got: string[] = [];
    for (let e = q.pop(); e; e = q.pop()) got.push(e.value);
    expect(got).toEqual(expected);
  });
});

describe('VirtualNetwork', () => {
  it('blocks messages across a partition, at send time and in flight, until it heals', () => {
    const net = new VirtualNetwork([0, 1, 2, 3], new Prng(3));
    expect(net.route(0, 'all', 0).map((d) => d.node).sort()).toEqual([1, 2, 3]);
    net.partition([[0, 1], [2, 3]]);
    expect(net.route(0, 'all', 10).map((d) => d.node)).toEqual([1]);
    expect(net.route(2, 0, 10)).toEqual([]);
    expect(net.deliverable(2, 0)).toBe(false); // a message already on its way is lost too
    expect(net.deliverable(2, 3)).toBe(true);
    net.heal();
    expect(net.route(2, 0, 20)).toHaveLength(1);
    expect(net.stats.blockedByPartition).toBe(4);
  });

  it('delivers to both Twins, never to a crashed node, and loses and duplicates as told', () => {
    // Node 4 is a second node for member 3.
    const net = new VirtualNetwork([0, 1, 2, 3, 3], new Prng(4));
    expect(net.recipients(0, 3)).toEqual([3, 4]);
    expect(net.recipients(3, 'all')).toEqual([0, 1, 2]);
    net.partition([[0, 3], [1, 2, 4]]);
    expect(net.route(0, 3, 0).map((d) => d.node)).toEqual([3]);
    net.heal();
    net.crash(4);
    expect(net.route(0, 3, 0).map((d) => d.node)).toEqual([3]);
    net.setLoss(1, 0);
    expect(net.route(0, 'all', 0)).toEqual([]);
    net.setLoss(0, 1);
    expect(net.route(0, 1, 0)).toHaveLength(2);
  });
});

/** A stand-in node that only chatters, for testing the simulator itself. */
class Chatter implements SimNode {
  readonly received: { at: number; from: number }[] = [];
  private ticks = 0;
  constructor(
    readonly me: number,
    private readonly clock: () => number,
  ) {}
  step(from: number): Effect[] {
    this.received.push({ at: this.clock(), from });
    return [];
  }
  tick(): Effect[] {
    if (this.ticks++ % 4 !== 0) return [];
    const message: Wire = { k: 'fetch', seq: this.ticks };
    return [{ kind: 'send', to: 'all', type: 'fetch', message, bytes: encodeWire(message) }];
  }
  request(): Effect[] {
    return [];
  }
  snapshot(): NodeSnapshot {
    return { view: 0, changing: null, executedSeq: 0, lastCounter: [], lunchBytes: new Uint8Array(), proven: [], pendingOwn: 0 };
  }
}

function chatterRun(options: Omit<RunOptions, 'honest'>) {
  const nodes: Chatter[] = [];
  let sim: Simulation | undefined;
  const honest = (config: NodeConfig) => {
    const node = new Chatter(config.me, () => sim!.now);
    nodes.push(node);
    return node;
  };
  sim = new Simulation({ ...options, honest });
  return { sim, nodes, result: sim.run() };
}

describe('Simulation mechanics', () => {
  it('really blocks delivery across a scheduled partition', () => {
    for (const seed of [1, 2, 3, 4]) {
      const { sim, nodes, result } = chatterRun({ seed, faults: 'partition', crypto: 'insecure' });
      // Chatter never executes anything: the run ends on a liveness violation, as it should.
      expect(result.failure?.invariant).toBe('liveness');
      const windows: { from: number; to: number; groups: number[][] }[] = [];
      for (const e of sim.schedule) {
        if (e.kind === 'partition') windows.push({ from: e.at, to: Infinity, groups: e.groups });
        if (e.kind === 'heal') windows[windows.length - 1]!.to = e.at;
      }
      expect(windows.length).toBeGreaterThan(0);
      const groupOf = (groups: number[][], node: number) => groups.findIndex((g) => g.includes(node));
      let within = 0;
      let outside = 0;
      nodes.forEach((node, x) => {
        for (const r of node.received) {
          const w = windows.find((w) => r.at >= w.from && r.at < w.to);
          if (w) {
            expect(groupOf(w.groups, r.from), `seed ${seed}: node ${x} heard ${r.from} at ${r.at} ms across a partition`).toBe(groupOf(w.groups, x));
            within++;
          } else outside++;
        }
      });
      expect(outside).toBeGreaterThan(0);
      expect(within + outside).toBeGreaterThan(100);
    }
  });

  it('builds Twins as two nodes for one member, both of which hear the others', () => {
    const { sim, nodes } = chatterRun({ seed: 11, faults: 'twins', crypto: 'insecure' });
    expect(sim.nodes).toHaveLength(5);
    const twin = sim.memberOf[4]!;
    expect(sim.nodesOf(twin)).toEqual([twin, 4]);
    expect(nodes[twin]!.received.length).toBeGreaterThan(0);
    expect(nodes[4]!.received.length).toBeGreaterThan(0);
  });

  it('reports a node that throws, with the seed and the command that replays it', () => {
    const result = runSeed({
      seed: 5,
      faults: 'none',
      crypto: 'insecure',
      honest: (config) => {
        const replica = new Replica(config);
        if (config.me !== 2) return replica;
        return {
          step: (from, bytes) => replica.step(from, bytes),
          tick: () => {
            throw new Error('boom');
          },
          request: (op) => replica.request(op),
          snapshot: () => replica.snapshot(),
        };
      },
    });
    expect(result.ok).toBe(false);
    expect(result.failure?.invariant).toBe('no-throw');
    expect(result.failure?.replay).toBe('npm run sim -- --seed 5 --n 4 --faults none');
    expect(formatFailure(result.failure!)).toMatch(/seed 5.*\n.*boom/s);
  });

  it('catches an honest node that executes something else (agreement or validity)', () => {
    const result = runSeed({
      seed: 8,
      faults: 'none',
      crypto: 'insecure',
      honest: (config) => {
        const replica = new Replica(config);
        if (config.me !== 1) return replica;
        const tamper = (effects: Effect[]) =>
          effects.map((e) =>
            e.kind === 'executed'
              ? { ...e, requests: e.requests.map((r) => ({ ...r, op: { kind: 'propose' as const, place: 'Nowhere', time: '12:00' } })) }
              : e,
          );
        return {
          step: (from, bytes) => tamper(replica.step(from, bytes)),
          tick: (now) => tamper(replica.tick(now)),
          request: (op) => tamper(replica.request(op)),
          snapshot: () => replica.snapshot(),
        };
      },
    });
    expect(result.failure?.invariant).toMatch(/^(agreement|validity)$/);
    expect(result.failure?.trace.length).toBeGreaterThan(10);
  });
});

describe('Invariants', () => {
  const suite = new InsecureSimulationSuite();
  const roster = { room: 'r', keys: [0, 1, 2, 3].map((i) => suite.keyPair(`inv/${i}`).publicKey) };
  const cast: Cast = { n: 4, memberOf: [0, 1, 2, 3], faultyMember: [false, false, false, true], crashingMember: [false, false, false, false] };
  const propose = { kind: 'propose' as const, place: 'Ramen Ya', time: '12:30' };
  const executed = (seq: number, requests: ExecutedRequest[]): Extract<Effect, { kind: 'executed' }> => ({ kind: 'executed', seq, view: 0, requests, events: [] });
  const violation = (f: () => void) => {
    try {
      f();
    } catch (e) {
      if (e instanceof InvariantViolation) return e.invariant;
      throw e;
    }
    return null;
  };

  it('accepts the same batch everywhere, and flags a different one at the same sequence number', () => {
    const inv = new Invariants(cast, suite, roster, 0);
    inv.requested(0, propose, 0);
    inv.executed(0, executed(1, [{ member: 0, counter: 1, op: propose }]));
    inv.executed(1, executed(1, [{ member: 0, counter: 1, op: propose }]));
    inv.executed(3, executed(1, [])); // the faulty member may claim anything
    expect(violation(() => inv.executed(2, executed(1, [])))).toBe('agreement');
  });

  it('flags requests an honest member never made, and requests executed twice', () => {
    const inv = new Invariants(cast, suite, roster, 0);
    expect(violation(() => inv.executed(0, executed(1, [{ member: 1, counter: 1, op: propose }])))).toBe('validity');
    const inv2 = new Invariants(cast, suite, roster, 0);
    inv2.requested(1, propose, 0);
    inv2.executed(0, executed(1, [{ member: 1, counter: 1, op: propose }]));
    expect(violation(() => inv2.executed(0, executed(2, [{ member: 1, counter: 1, op: propose }])))).toBe('integrity');
    // A faulty member's request only has to be signed, which the replica checks.
    inv2.executed(0, executed(3, [{ member: 3, counter: 9, op: propose }]));
  });

  it('flags an honest member listed as proven, and a missed liveness deadline', () => {
    const inv = new Invariants(cast, suite, roster, 1000, 5000);
    const snap = (proven: number[]): NodeSnapshot => ({ view: 0, changing: null, executedSeq: 0, lastCounter: [], lunchBytes: new Uint8Array([1]), proven, pendingOwn: 0 });
    inv.state(0, snap([3]));
    expect(violation(() => inv.state(1, snap([2])))).toBe('no-honest-proven');
    inv.requested(2, propose, 100);
    inv.checkDeadlines(5999);
    expect(violation(() => inv.checkDeadlines(6000))).toBe('liveness');
  });
});

describe('seeded runs of the real replica', () => {
  it('replays a seed exactly: same totals, same trace', () => {
    for (const [seed, faults] of [[3, 'partition'], [4, 'lossy'], [6, 'twins'], [7, 'equivocate']] as const) {
      const a = new Simulation({ seed, faults, crypto: 'insecure' });
      const b = new Simulation({ seed, faults, crypto: 'insecure' });
      const ra = a.run();
      const rb = b.run();
      expect(ra).toEqual(rb);
      expect(a.trace.lines()).toEqual(b.trace.lines());
      expect(ra.stats.steps).toBeGreaterThan(100);
    }
  });

  it('keeps every invariant across a small batch of every scenario, n = 4 and n = 7', () => {
    const names = scenarioNames();
    expect(names).toEqual(expect.arrayContaining(['none', 'crash', 'partition', 'lossy', 'twins', 'silent', 'equivocate']));
    for (const n of [4, 7]) {
      for (let seed = 1; seed <= (n === 4 ? 3 : 1) * names.length; seed++) {
        const r = runSeed({ seed, n, faults: 'all', crypto: 'insecure' });
        if (!r.ok) expect.fail(formatFailure(r.failure!));
        expect(r.stats.requests).toBeGreaterThan(0);
      }
    }
  });

  it('runs with real Ed25519 signatures for seeds divisible by 20', () => {
    const r = runSeed({ seed: 20, faults: 'none' });
    expect(r.crypto).toBe('ed25519');
    if (!r.ok) expect.fail(formatFailure(r.failure!));
    expect(runSeed({ seed: 21, faults: 'none' }).crypto).toBe('stand-in');
  });
});
