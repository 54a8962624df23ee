import { describe, expect, it } from 'vitest';
import type { Effect, ExecutedRequest } from '../core/effects.ts';
import { decodeWire, encodeWire, signBody, type Wire } from '../core/messages.ts';
import { Replica } from '../core/replica.ts';
import { InsecureSimulationSuite } from '../core/suite.ts';
import { WAL_VERSION, type WalRecord } from '../core/wal.ts';

const START: WalRecord = { v: WAL_VERSION, kind: 'start' };
import { LyingStateNode } from './adversaries.ts';
import { EventQueue } from './event-queue.ts';
import { Invariants, InvariantViolation, type Cast } from './invariants.ts';
import { VirtualNetwork } from './network.ts';
import type { NodeConfig, NodeRestorer, NodeSnapshot, SimNode } from './node.ts';
import { Prng } from './prng.ts';
import { restoreReplica } from './replica-node.ts';
import { scenarioByName, scenarioNames } from './scenarios.ts';
import { addStats, emptyStats, formatFailure, runSeed, Simulation, type RunOptions, type RunResult, type RunStats } from './simulator.ts';

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

describe('Invariants across restarts', () => {
  const suite = new InsecureSimulationSuite();
  const keys = [0, 1, 2, 3].map((i) => suite.keyPair(`inv2/${i}`));
  const roster = { room: 'r', keys: keys.map((k) => k.publicKey) };
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
  const prepare = (m: number, seq: number, fill: number) =>
    signBody(suite, keys[m]!.secretKey, { t: 'prepare' as const, room: 'r', from: m, view: 0, seq, digest: new Uint8Array(32).fill(fill) });

  it('accepts a restarted node replaying what it executed, and still flags a different batch', () => {
    const inv = new Invariants(cast, suite, roster, 0);
    inv.requested(0, propose, 0);
    const batch = [{ member: 0, counter: 1, op: propose }];
    inv.executed(1, executed(1, batch));
    expect(violation(() => inv.executed(1, executed(1, batch)))).toBe('order');
    inv.restarted(1);
    inv.executed(1, executed(1, batch)); // the same (seq -> batch), replayed from its records
    inv.restarted(1);
    expect(violation(() => inv.executed(1, executed(1, [])))).toBe('agreement');
  });

  it('flags an honest member that signs two bodies for one slot, in any incarnation', () => {
    const inv = new Invariants(cast, suite, roster, 0);
    inv.signed(1, prepare(1, 5, 1), 'sent');
    inv.signed(1, prepare(1, 5, 1), 'made durable'); // the same message again is fine
    inv.restarted(1);
    expect(inv.hasSigned(1, prepare(1, 5, 1))).toBe(true);
    expect(inv.hasSigned(1, prepare(1, 5, 2))).toBe(false);
    expect(violation(() => inv.signed(1, prepare(1, 5, 2), 'sent'))).toBe('no-equivocation');
    // A faulty member's double signing is for the replicas to prove, not an invariant violation.
    inv.signed(3, prepare(3, 5, 1), 'sent');
    inv.signed(3, prepare(3, 5, 2), 'sent');
  });

  it('gives a restarted member deadlines only for what it asks in its new incarnation, counted from when it is correct', () => {
    const inv = new Invariants(cast, suite, roster, 0, 5000);
    inv.requested(2, propose, 100);
    inv.setCorrect(2, false, 500); // it crashed: its request died with it
    inv.checkDeadlines(10_000);
    inv.restarted(2);
    inv.setCorrect(2, true, 20_000);
    inv.requested(2, propose, 20_000);
    inv.signedRequest(2, 1);
    inv.checkDeadlines(24_999);
    expect(violation(() => inv.checkDeadlines(25_000))).toBe('liveness');
    expect(violation(() => inv.signedRequest(2, 1))).toBe('integrity');
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
  }, 120_000);

  it('runs with real Ed25519 signatures for seeds divisible by 100', () => {
    const r = runSeed({ seed: 100, faults: 'none' });
    expect(r.crypto).toBe('ed25519');
    if (!r.ok) expect.fail(formatFailure(r.failure!));
    expect(runSeed({ seed: 20, faults: 'none' }).crypto).toBe('stand-in');
  });
});

/** Sum of the stats of some seeds of one scenario, every run checked. */
function batch(faults: string, seeds: number[], options: Partial<RunOptions> = {}): { total: RunStats; results: RunResult[] } {
  const total = emptyStats();
  const results: RunResult[] = [];
  for (const seed of seeds) {
    const r = runSeed({ seed, faults, crypto: 'insecure', ...options });
    if (!r.ok) expect.fail(formatFailure(r.failure!));
    addStats(total, r.stats);
    results.push(r);
  }
  return { total, results };
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('durability: crashes, restarts and wiped records', () => {
  it('restart: nodes really restart from their durable records, and crashes really fall between a persist and its send', () => {
    const restores: { records: number; lost: boolean; amnesia: boolean }[] = [];
    const restore: NodeRestorer = (config, records, options) => {
      const r = restoreReplica(config, records, options);
      restores.push({ records: records.length, lost: options.lost, amnesia: r.amnesia });
      return r;
    };
    const { total } = batch('restart', range(1, 30), { restore });
    expect(restores.length).toBe(total.restarts);
    expect(total.restarts).toBeGreaterThan(30);
    expect(restores.every((r) => !r.lost && !r.amnesia)).toBe(true);
    expect(restores.filter((r) => r.records > 0).length).toBeGreaterThan(total.restarts / 2);
    expect(total.restoredRecords).toBeGreaterThan(100);
    // The window between persist and send: writes that never completed, and the sends that waited for them.
    expect(total.crashesBetweenPersistAndSend).toBeGreaterThan(3);
    expect(total.lostSends).toBeGreaterThanOrEqual(total.crashesBetweenPersistAndSend);
    expect(total.lostWrites).toBeGreaterThan(0);
  });

  it('holds back a send until the write before it completes, and a crash loses both', () => {
    // Stand-in nodes: every tick, send k (before a persist), persist record k, send k (after it).
    // A send after the persist must never arrive unless record k became durable.
    const heard: { from: number; seq: number }[] = [];
    const wrote = new Map<number, number>();
    const standIn = (config: NodeConfig): SimNode => {
      const k = () => {
        const next = (wrote.get(config.me) ?? 0) + 1;
        wrote.set(config.me, next);
        return next;
      };
      const send = (seq: number): Effect => {
        const message: Wire = { k: 'fetch', seq };
        return { kind: 'send', to: (config.me + 1) % 4, type: 'fetch', message, bytes: encodeWire(message) };
      };
      return {
        step: (from, bytes) => {
          const seq = (decodeWire(bytes) as { ok: true; message: { seq: number } }).message.seq;
          heard.push({ from, seq });
          return [];
        },
        tick: () => {
          const n = k();
          // Any record with a sequence number will do (one the simulator checks nothing more of).
          return [send(2 * n), { kind: 'persist', record: { v: WAL_VERSION, kind: 'recovery', nonce: new Uint8Array(16), seq: n, view: 0 } }, send(2 * n + 1)];
        },
        request: () => [],
        snapshot: () => ({ view: 0, changing: null, executedSeq: 0, lastCounter: [], lunchBytes: new Uint8Array(), proven: [], pendingOwn: 0 }),
      };
    };
    const restore: NodeRestorer = (config) => ({ node: standIn(config), effects: [], rejected: [], amnesia: false });
    let lost = 0;
    let betweenPersistAndSend = 0;
    for (const seed of range(1, 6)) {
      heard.length = 0;
      wrote.clear();
      const sim = new Simulation({ seed, faults: 'restart', crypto: 'insecure', honest: standIn, restore, maxSteps: 20_000 });
      sim.run();
      lost += sim.stats.lostSends;
      betweenPersistAndSend += sim.stats.crashesBetweenPersistAndSend;
      const durable = sim.disks.map((d) => new Set(d.durable.map((r) => (r as { seq: number }).seq)));
      const after = heard.filter((h) => h.seq % 2 === 1);
      expect(after.length).toBeGreaterThan(100);
      for (const h of after) expect(durable[h.from]!.has((h.seq - 1) / 2), `seed ${seed}: m${h.from}'s send ${h.seq} arrived, its record did not persist`).toBe(true);
      // Sends before the persist go out at once, whatever happens to the write.
      expect(heard.filter((h) => h.seq % 2 === 0).length).toBeGreaterThan(after.length * 0.9);
    }
    expect(lost).toBeGreaterThan(0);
    expect(betweenPersistAndSend).toBeGreaterThan(0);
  });

  it('wipe: a wiped member restarts amnesic, signs nothing it must not, is never proven, and often signs again', () => {
    const restores: { lost: boolean; amnesia: boolean; records: number }[] = [];
    const restore: NodeRestorer = (config, records, options) => {
      const r = restoreReplica(config, records, options);
      restores.push({ lost: options.lost, amnesia: r.amnesia, records: records.length });
      return r;
    };
    const { total } = batch('wipe', range(1, 16), { restore });
    const wiped = restores.filter((r) => r.lost);
    // One wipe per run, sometimes a second one after a restart from its records while recovering.
    expect(wiped.length).toBeGreaterThanOrEqual(16);
    expect(wiped.every((r) => r.amnesia && r.records === 0)).toBe(true);
    expect(total.wipes).toBe(wiped.length);
    expect(restores.filter((r) => !r.lost && r.amnesia && r.records > 0).length).toBeGreaterThan(0);
    expect(total.amnesiaEnded).toBeGreaterThan(2);
    expect(total.provenMembers).toBe(0);
    expect(total.drops['refused-while-amnesic'] ?? 0).toBe(0); // refusals are counted by the replica, not as drops
  });

  it('catches a store that acknowledged writes it then lost: the restarted member signs a second body for a slot', () => {
    // A broken storage layer: the last few records it acknowledged (so what they carried was
    // sent) are gone after a restart. A restarted primary then pre-prepares another batch for a
    // sequence number it already used.
    const restore: NodeRestorer = (config, records, options) => restoreReplica(config, records.slice(0, Math.max(0, records.length - 4)), options);
    const failures = range(1, 40).map((seed) => runSeed({ seed, faults: 'restart', crypto: 'insecure', restore })).filter((r) => !r.ok);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.map((r) => r.failure!.invariant)).toContain('no-equivocation');
  });

  it('catches a restore that ignores the loss of every record (the member would sign as if it remembered)', () => {
    // It also writes a record that starts a log, so the replica cannot tell its log was lost.
    const restore: NodeRestorer = (config, records, options) => restoreReplica(config, [START, ...records], { lost: false, nonce: options.nonce });
    const r = runSeed({ seed: 2, faults: 'wipe', crypto: 'insecure', restore });
    expect(r.failure?.invariant).toBe('restore');
  });

  it('catches a member that signs a prepare or commit while amnesic', () => {
    // A broken restore: it reports the loss of every record but hands back a replica that
    // remembers nothing and does not know it, so it signs as usual.
    const restore: NodeRestorer = (config, records, options) => {
      const r = restoreReplica(config, [START, ...records], { lost: false, nonce: options.nonce });
      const inner = r.node;
      const node: SimNode = {
        step: (from, bytes) => inner.step(from, bytes),
        tick: (now) => inner.tick(now),
        request: (op) => inner.request(op),
        snapshot: () => ({ ...inner.snapshot(), amnesia: options.lost }),
      };
      return { ...r, node, amnesia: options.lost };
    };
    const failures = range(1, 6).map((seed) => runSeed({ seed, faults: 'wipe', crypto: 'insecure', restore })).filter((r) => !r.ok);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.map((r) => r.failure!.invariant)).toContain('amnesia');
  });

  // Seed 56893 of the 100,000-seed run: the wiped member's amnesia ended, and it crashed before
  // the records saying so were durable. Coming back amnesic is the safe side; the check had
  // blamed the replica for it.
  it('accepts a member that comes back amnesic because the records ending its amnesia were lost in a crash', () => {
    const r = runSeed({ seed: 56893, n: 4, faults: 'wipe', crypto: 'insecure' });
    if (!r.ok) expect.fail(formatFailure(r.failure!));
    expect(r.stats.crashesBetweenPersistAndSend).toBeGreaterThan(0);
    expect(r.stats.amnesiaEnded).toBe(2);
  });

  it('still catches a restore that forgets an end of amnesia that was durable', () => {
    const restore: NodeRestorer = (config, records, options) => restoreReplica(config, records, { lost: options.lost || (records as readonly WalRecord[]).some((rec) => rec.kind === 'lost'), nonce: options.nonce });
    const failures = range(1, 8).map((seed) => runSeed({ seed, faults: 'wipe', crypto: 'insecure', restore })).filter((r) => !r.ok);
    expect(failures.map((r) => r.failure!.details)).toContainEqual(expect.stringContaining('considers itself amnesic'));
  });

  it('replays restart, wipe, long-partition and lying-state seeds exactly', () => {
    for (const [seed, faults] of [[5, 'restart'], [6, 'wipe'], [7, 'long-partition'], [8, 'lying-state']] as const) {
      const a = new Simulation({ seed, faults, crypto: 'insecure' });
      const b = new Simulation({ seed, faults, crypto: 'insecure' });
      expect(a.run()).toEqual(b.run());
      expect(a.trace.lines()).toEqual(b.trace.lines());
    }
  });

  // The invariants catch a second VIEW-CHANGE for one view across the wipe; this also checks the
  // premise really happens: the member comes back and the room then changes view. (View 1 may
  // still be entered, with the vote the member cast before its wipe, which peers kept.)
  it('wipe-revote: a wiped member never signs a second view-change for a view it voted for before its wipe', () => {
    for (const n of [4, 7]) {
      const { results } = batch('wipe-revote', range(1, 6), { n });
      for (const r of results) {
        expect(r.stats.amnesiaEnded).toBe(1);
        expect(r.stats.viewChanges).toBeGreaterThanOrEqual(1);
      }
    }
    // Twelve heavy schedules: 12-18 s alone, more beside the seeded batch.
  }, 120_000);
});

describe('long partitions and lying responders', () => {
  it('long-partition: the others decide past garbage collection, and the member catches up by state transfer', () => {
    const { results } = batch('long-partition', range(1, 10));
    for (const r of results) {
      expect(r.stats.requests).toBeGreaterThanOrEqual(30);
      expect(r.stats.batches).toBeGreaterThan(16 + 8);
    }
    const past = results.filter((r) => r.stats.longPartitionsPastGC === 1);
    expect(past.length).toBeGreaterThanOrEqual(8);
    for (const r of past) expect(r.stats.stateTransfers).toBeGreaterThan(0);
  });

  it('lying-state: the liar really answers, its lies are really dropped as bad-state / bad-certificate, and the victim converges', () => {
    const told: Record<string, number> = {};
    let drops = 0;
    for (const seed of range(1, 8)) {
      const sim = new Simulation({ seed, faults: 'lying-state', crypto: 'insecure' });
      const r = sim.run();
      if (!r.ok) expect.fail(formatFailure(r.failure!));
      for (const node of sim.nodes) {
        if (node instanceof LyingStateNode) for (const [k, v] of Object.entries(node.told)) told[k] = (told[k] ?? 0) + v;
      }
      expect(r.stats.longPartitionsPastGC).toBe(1);
      expect(r.stats.stateTransfers).toBeGreaterThan(0);
      drops += (r.stats.drops['bad-state'] ?? 0) + (r.stats.drops['bad-certificate'] ?? 0);
    }
    expect(Object.keys(told).length).toBeGreaterThanOrEqual(4);
    expect(drops).toBeGreaterThan(10);
  });

  it('records the most a replica kept in memory, and it stays bounded by garbage collection', () => {
    const { total } = batch('long-partition', range(11, 3));
    expect(total.maxKept).toBeGreaterThan(0);
    expect(total.maxKeptBy['slots']).toBeLessThanOrEqual(16 + 4);
    expect(total.maxKeptBy['committed']).toBeLessThanOrEqual(16 + 4);
  });

  it('puts the durability scenarios in the rotation', () => {
    const names = scenarioNames();
    expect(names).toEqual(expect.arrayContaining(['restart', 'wipe', 'wipe-revote', 'long-partition', 'lying-state', 'mixed']));
    expect(scenarioByName('lying-state')?.description).toMatch(/partition/);
  });
});
