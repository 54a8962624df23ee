// The deterministic simulator: n members in one process, a virtual clock, a virtual network, a
// seeded schedule of requests and faults, and the invariants checked after every step. One seed
// is one run; the same seed (with the same n and scenario) always gives the same run.
//
// Each event popped from the queue is one step: a message arriving at a node, a node's clock
// tick, a member's request, or a fault (partition, heal, loss, crash). Its effects are carried
// out at once: sends become future deliveries, everything else goes to the invariants.
import { sha256 } from '@noble/hashes/sha2.js';
import type { Effect } from '../core/effects.ts';
import { encodeLunchState, type RequestRef } from '../core/lunch.ts';
import type { Roster, Wire } from '../core/messages.ts';
import { quorumFor } from '../core/quorum.ts';
import { InsecureSimulationSuite, type CryptoSuite } from '../core/suite.ts';
import { ed25519Suite, publicKeyOf } from '../crypto/ed25519.ts';
import './adversaries.ts';
import { EventQueue } from './event-queue.ts';
import { ACCOUNTABILITY_GRACE_MS, Invariants, InvariantViolation, LIVENESS_BOUND_MS, type InvariantName } from './invariants.ts';
import { VirtualNetwork, type NetworkStats } from './network.ts';
import type { NodeConfig, NodeFactory, NodeSnapshot, SimNode } from './node.ts';
import { Prng } from './prng.ts';
import { getAdversary } from './registry.ts';
import { replicaNode } from './replica-node.ts';
import { scenarioFor, type NetEvent } from './scenarios.ts';
import { Trace } from './trace.ts';
import { nextOp } from './workload.ts';

/** Every live node's clock ticks this often (virtual ms), each with its own phase. */
export const TICK_MS = 50;
/** Members issue their requests within this much virtual time from the start (ms). */
export const WORKLOAD_WINDOW_MS = 2000;
/** One seed in this many runs with real Ed25519 signatures instead of the fast stand-in. */
export const REAL_CRYPTO_EVERY = 20;
export const DEFAULT_MAX_STEPS = 1_000_000;
export const DEFAULT_TRACE = 200;

export type CryptoChoice = 'auto' | 'insecure' | 'ed25519';

export interface RunOptions {
  seed: number;
  /** Members, 3f + 1 (default 4). */
  n?: number;
  /** A scenario name, a comma-separated list cycled by seed, or 'all' (default). */
  faults?: string;
  /** Events per run before the run counts as a failure (a livelock or message storm). */
  maxSteps?: number;
  /** Trace entries kept for a failure report. */
  traceSize?: number;
  /** 'auto': real Ed25519 when seed % realCryptoEvery === 0, else the fast stand-in. */
  crypto?: CryptoChoice;
  /** For 'auto' (default REAL_CRYPTO_EVERY). */
  realCryptoEvery?: number;
  /** The honest node (default: the core's Replica). */
  honest?: NodeFactory;
  timing?: NodeConfig['timing'];
  /** Receives every trace line as it happens. */
  live?: (line: string) => void;
}

export interface RunStats {
  runs: number;
  steps: number;
  virtualMs: number;
  realCryptoRuns: number;
  /** Sequence numbers executed (the highest executed at an honest node). */
  batches: number;
  /** Distinct requests executed. */
  requests: number;
  /** Lunch decisions (a proposal reaching 2f + 1 joins). */
  lunchDecisions: number;
  /** Point-to-point messages sent, by type. */
  messages: Record<string, number>;
  /** Highest view a correct node entered. */
  viewChanges: number;
  /** Evidence effects at honest nodes, and distinct members proven. */
  evidence: number;
  provenMembers: number;
  claims: number;
  /** Certified states adopted by honest nodes (state transfer). */
  stateTransfers: number;
  /** Messages an honest node addressed to its own member (harmless, but a replica has no reason to). */
  selfAddressed: number;
  drops: Record<string, number>;
  network: NetworkStats;
}

export interface SimFailure {
  seed: number;
  n: number;
  scenario: string;
  crypto: string;
  invariant: InvariantName;
  details: string;
  /** Virtual time of the violation (ms). */
  at: number;
  replay: string;
  /** The last events of the run, oldest first. */
  trace: string[];
  /** The last key events (faults, requests, executions, views, evidence), oldest first. */
  keyEvents: string[];
}

export interface RunResult {
  seed: number;
  n: number;
  scenario: string;
  crypto: string;
  ok: boolean;
  failure?: SimFailure;
  stats: RunStats;
}

type SimEvent =
  | { k: 'deliver'; from: number; to: number; bytes: Uint8Array; message: Wire | null }
  | { k: 'tick'; node: number }
  | { k: 'request'; node: number }
  | { k: 'net'; event: NetEvent }
  | { k: 'crash'; member: number };

export function emptyStats(): RunStats {
  return {
    runs: 0, steps: 0, virtualMs: 0, realCryptoRuns: 0, batches: 0, requests: 0, lunchDecisions: 0, messages: {},
    viewChanges: 0, evidence: 0, provenMembers: 0, claims: 0, stateTransfers: 0, selfAddressed: 0, drops: {},
    network: { sent: 0, delivered: 0, lost: 0, duplicated: 0, blockedByPartition: 0, toCrashed: 0 },
  };
}

export function addStats(total: RunStats, s: RunStats): RunStats {
  const add = (a: Record<string, number>, b: Record<string, number>) => {
    for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
  };
  for (const key of ['runs', 'steps', 'virtualMs', 'realCryptoRuns', 'batches', 'requests', 'lunchDecisions', 'viewChanges', 'evidence', 'provenMembers', 'claims', 'stateTransfers', 'selfAddressed'] as const) {
    total[key] += s[key];
  }
  add(total.messages, s.messages);
  add(total.drops, s.drops);
  add(total.network as unknown as Record<string, number>, s.network as unknown as Record<string, number>);
  return total;
}

/** The command that replays a run; it names the signature suite only where the CLI's default would pick another. */
export function replayCommand(seed: number, n: number, scenario: string, realCrypto: boolean): string {
  const crypto = realCrypto === usesRealCrypto(seed) ? '' : ` --crypto ${realCrypto ? 'ed25519' : 'insecure'}`;
  return `npm run sim -- --seed ${seed} --n ${n} --faults ${scenario}${crypto}`;
}

export function usesRealCrypto(seed: number, crypto: CryptoChoice = 'auto', every = REAL_CRYPTO_EVERY): boolean {
  return crypto === 'ed25519' || (crypto === 'auto' && every > 0 && seed % every === 0);
}

/** Run one seeded schedule to the end and report what happened. */
export function runSeed(options: RunOptions): RunResult {
  return new Simulation(options).run();
}

export class Simulation {
  readonly seed: number;
  readonly n: number;
  readonly f: number;
  readonly scenario: string;
  readonly realCrypto: boolean;
  readonly suite: CryptoSuite;
  readonly roster: Roster;
  readonly nodes: SimNode[] = [];
  readonly memberOf: number[] = [];
  readonly network: VirtualNetwork;
  readonly invariants: Invariants;
  readonly trace: Trace;
  /** The network's fault schedule (partitions, heals, loss changes). */
  readonly schedule: readonly NetEvent[];
  readonly stats: RunStats = emptyStats();
  now = 0;

  private readonly queue = new EventQueue<SimEvent>();
  private readonly workloadRng: Prng;
  private readonly maxSteps: number;
  /** Proposals each node has seen executed in the current round: what its member can vote on. */
  private readonly known: RequestRef[][] = [];
  private readonly requestsSeen = new Set<string>();
  private readonly roundsDecided = new Set<number>();
  private readonly honestMaxSeq: number[] = [];
  private lastWorkloadAt = 0;
  private readonly stableAt: number;
  private steps = 0;
  private dirty = true;
  private nextProofCheck = 0;
  private quiescentSince: number | null = null;

  constructor(options: RunOptions) {
    const seed = options.seed;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
    this.seed = seed;
    this.n = options.n ?? 4;
    const { f } = quorumFor(this.n);
    this.f = f;
    this.maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    this.trace = new Trace(options.traceSize ?? DEFAULT_TRACE, options.live);
    const rng = new Prng(seed);
    const scenario = scenarioFor(options.faults ?? 'all', seed);
    this.scenario = scenario.name;
    const plan = scenario.plan({ rng: rng.fork('scenario'), n: this.n, f });

    // Keys and roster. Ed25519 secret keys are derived from the seed, so real-crypto runs replay too.
    this.realCrypto = usesRealCrypto(seed, options.crypto, options.realCryptoEvery);
    const room = `sim-${seed}`;
    let keys: { secretKey: Uint8Array; publicKey: Uint8Array }[];
    if (this.realCrypto) {
      this.suite = memoizedVerify(ed25519Suite);
      keys = Array.from({ length: this.n }, (_, m) => {
        const secretKey = sha256(new TextEncoder().encode(`byzantine-lunch-sim/${seed}/${m}`));
        return { secretKey, publicKey: publicKeyOf(secretKey) };
      });
    } else {
      const sim = new InsecureSimulationSuite();
      this.suite = sim;
      keys = Array.from({ length: this.n }, (_, m) => sim.keyPair(`${seed}/${m}`));
    }
    this.roster = { room, keys: keys.map((k) => k.publicKey) };

    // Nodes: member m's first node is node m; extra nodes (Twins) follow in member order.
    const honest = options.honest ?? replicaNode;
    const extra: { member: number; node: SimNode }[] = [];
    for (let m = 0; m < this.n; m++) {
      const config: NodeConfig = { roster: this.roster, me: m, secretKey: keys[m]!.secretKey, suite: this.suite, timing: options.timing, now: 0 };
      const strategy = plan.adversaries.get(m);
      let built: SimNode | SimNode[];
      if (strategy === undefined) {
        built = honest(config);
      } else {
        const entry = getAdversary(strategy);
        if (!entry) throw new Error(`no adversary registered as "${strategy}"`);
        built = entry.factory({
          member: m, n: this.n, f, roster: this.roster, suite: this.suite, secretKey: config.secretKey, config,
          rng: rng.fork(`adversary/${m}`),
          replica: (overrides) => honest({ ...config, ...overrides }),
        });
      }
      const list = Array.isArray(built) ? built : [built];
      if (list.length === 0) throw new Error(`adversary "${strategy}" built no node for member ${m}`);
      this.nodes[m] = list[0]!;
      this.memberOf[m] = m;
      for (const node of list.slice(1)) extra.push({ member: m, node });
    }
    for (const { member, node } of extra) {
      this.nodes.push(node);
      this.memberOf.push(member);
    }
    for (let x = 0; x < this.nodes.length; x++) {
      this.known.push([]);
      this.honestMaxSeq.push(0);
    }

    this.network = new VirtualNetwork(this.memberOf, rng.fork('network'), plan.link);
    const netEvents = plan.network({ n: this.n, f, memberOf: this.memberOf });
    this.schedule = netEvents;
    const crashTimes = [...plan.crashes.values()];
    this.stableAt = Math.max(0, ...netEvents.map((e) => e.at), ...crashTimes);

    const faultyMember = Array.from({ length: this.n }, (_, m) => plan.adversaries.has(m));
    const crashingMember = Array.from({ length: this.n }, (_, m) => plan.crashes.has(m));
    if (faultyMember.filter(Boolean).length + crashingMember.filter(Boolean).length > f) {
      throw new Error(`scenario ${this.scenario} made more than f = ${f} members faulty`);
    }
    this.invariants = new Invariants({ n: this.n, memberOf: this.memberOf, faultyMember, crashingMember }, this.suite, this.roster, this.stableAt);

    // The schedule.
    for (const event of netEvents) this.queue.push(event.at, { k: 'net', event });
    for (const [member, at] of plan.crashes) this.queue.push(at, { k: 'crash', member });
    const ticks = rng.fork('ticks');
    this.workloadRng = rng.fork('workload');
    const schedule = rng.fork('schedule');
    // Short schedules, so that thousands of them fit in a test run: a couple of requests per
    // member (in a larger room not every member speaks), faulty members too.
    let correctRequests = 0;
    const ask = (node: number) => {
      const at = schedule.int(0, WORKLOAD_WINDOW_MS);
      this.lastWorkloadAt = Math.max(this.lastWorkloadAt, at);
      this.queue.push(at, { k: 'request', node });
    };
    this.nodes.forEach((_, node) => {
      this.queue.push(ticks.int(0, TICK_MS - 1), { k: 'tick', node });
      const member = this.memberOf[node]!;
      const count = faultyMember[member] || this.n > 4 ? schedule.int(0, 2) : schedule.int(1, 2);
      if (!faultyMember[member] && !crashingMember[member]) correctRequests += count;
      for (let i = 0; i < count; i++) ask(node);
    });
    const someone = this.invariants.correctMembers[0];
    if (correctRequests === 0 && someone !== undefined) ask(someone);
    this.trace.note(0, 0, 0, `run: seed ${seed}, n ${this.n}, scenario ${this.scenario}, ${this.realCrypto ? 'real Ed25519' : 'stand-in'} signatures, ` +
      `faulty [${[...plan.adversaries].map(([m, s]) => `${m}:${s}`).join(' ')}], crashes [${[...plan.crashes].map(([m, t]) => `${m}@${t}ms`).join(' ')}], stable at ${this.stableAt} ms`);
  }

  run(): RunResult {
    let failure: SimFailure | undefined;
    try {
      this.loop();
      this.finish();
    } catch (e) {
      if (!(e instanceof InvariantViolation)) throw e;
      failure = {
        seed: this.seed,
        n: this.n,
        scenario: this.scenario,
        crypto: this.realCrypto ? 'ed25519' : 'stand-in',
        invariant: e.invariant,
        details: e.details,
        at: this.now,
        replay: replayCommand(this.seed, this.n, this.scenario, this.realCrypto),
        trace: this.trace.lines(),
        keyEvents: this.trace.keyLines(),
      };
      this.trace.note(this.now, 0, 0, `VIOLATION ${e.invariant}: ${e.details}`);
    }
    this.stats.runs = 1;
    this.stats.steps = this.steps;
    this.stats.virtualMs = this.now;
    this.stats.realCryptoRuns = this.realCrypto ? 1 : 0;
    this.stats.batches = Math.max(0, ...this.honestMaxSeq);
    this.stats.requests = this.requestsSeen.size;
    this.stats.lunchDecisions = this.roundsDecided.size;
    const proven = new Set<number>();
    this.nodes.forEach((node, x) => {
      if (this.invariants.honestNode[x] && this.network.isLive(x)) for (const m of node.snapshot().proven) proven.add(m);
    });
    this.stats.provenMembers = proven.size;
    this.stats.network = { ...this.network.stats };
    const result: RunResult = {
      seed: this.seed, n: this.n, scenario: this.scenario, crypto: this.realCrypto ? 'ed25519' : 'stand-in', ok: failure === undefined, stats: this.stats,
    };
    if (failure) result.failure = failure;
    return result;
  }

  /** Node ids of a member (one, or more for Twins). */
  nodesOf(member: number): number[] {
    return this.memberOf.flatMap((m, x) => (m === member ? [x] : []));
  }

  private loop(): void {
    const hardStop = this.stableAt + WORKLOAD_WINDOW_MS + LIVENESS_BOUND_MS + ACCOUNTABILITY_GRACE_MS + 10_000;
    for (;;) {
      const next = this.queue.pop();
      if (next === undefined) throw new InvariantViolation('liveness', 'nothing left to happen (no ticks scheduled)');
      this.now = next.at;
      if (++this.steps > this.maxSteps) {
        throw new InvariantViolation('step-budget', `more than ${this.maxSteps} events by ${this.now} ms: a livelock or a message storm`);
      }
      this.handle(next.value);
      this.invariants.checkDeadlines(this.now);
      if (this.done()) return;
      if (this.now > hardStop) {
        const out = this.invariants.outstanding();
        throw new InvariantViolation('liveness', `the run did not quiesce by ${this.now} ms: ${out.missing.join('; ') || 'proofs still differ'}`);
      }
    }
  }

  /** Every request issued, every correct member's request executed everywhere correct, the network stable, proofs shared. */
  private done(): boolean {
    if (this.now < this.lastWorkloadAt || this.now < this.stableAt) return false;
    if (this.dirty) {
      this.dirty = false;
      if (!this.invariants.allExecuted()) {
        this.quiescentSince = null;
        return false;
      }
      this.quiescentSince ??= this.now;
    }
    if (this.quiescentSince === null || this.now < this.nextProofCheck) return false;
    this.nextProofCheck = this.now + 250;
    const disagreement = this.proofDisagreement();
    if (disagreement === null) return true;
    if (this.now - this.quiescentSince > ACCOUNTABILITY_GRACE_MS) {
      throw new InvariantViolation('accountability', `${ACCOUNTABILITY_GRACE_MS} ms after quiescence, ${disagreement}`);
    }
    return false;
  }

  private correctSnapshots(): (NodeSnapshot | null)[] {
    return this.nodes.map((node, x) => (this.invariants.correctNode[x] ? node.snapshot() : null));
  }

  private proofDisagreement(): string | null {
    let first: { x: number; proven: string } | null = null;
    for (const [x, s] of this.correctSnapshots().entries()) {
      if (s === null) continue;
      const proven = [...new Set(s.proven)].sort((a, b) => a - b).join(',');
      if (first === null) first = { x, proven };
      else if (first.proven !== proven) return `node ${first.x} holds proofs against [${first.proven}] but node ${x} holds [${proven}]`;
    }
    return null;
  }

  private finish(): void {
    const snaps = this.correctSnapshots();
    snaps.forEach((s, x) => {
      if (s !== null) this.invariants.state(x, s);
    });
    this.invariants.checkFinalProofs(snaps);
    this.trace.note(this.now, 0, 0, `done: every correct member's requests executed at every correct node; batches ${Math.max(0, ...this.honestMaxSeq)}`);
  }

  private handle(event: SimEvent): void {
    switch (event.k) {
      case 'deliver': {
        if (!this.network.deliverable(event.from, event.to)) return;
        const from = this.memberOf[event.from]!;
        this.trace.add(this.now, event.to, this.memberOf[event.to]!, { from, message: event.message });
        this.carryOut(event.to, this.call(event.to, 'step', (node) => node.step(from, event.bytes.slice())));
        return;
      }
      case 'tick': {
        const node = event.node;
        if (!this.network.isLive(node)) return;
        this.queue.push(this.now + TICK_MS, event);
        this.carryOut(node, this.call(node, 'tick', (n) => n.tick(this.now)));
        return;
      }
      case 'request': {
        const node = event.node;
        if (!this.network.isLive(node)) return;
        const member = this.memberOf[node]!;
        const op = nextOp(this.workloadRng, this.known[node]!);
        this.invariants.requested(member, op, this.now);
        this.dirty = true;
        this.trace.note(this.now, node, member, `asks ${JSON.stringify(op)}`);
        this.carryOut(node, this.call(node, 'request', (n) => n.request(op)));
        return;
      }
      case 'crash':
        for (const node of this.nodesOf(event.member)) this.network.crash(node);
        this.trace.note(this.now, event.member, event.member, 'CRASHES (and stays down)');
        return;
      case 'net': {
        const e = event.event;
        if (e.kind === 'partition') {
          this.network.partition(e.groups);
          this.trace.note(this.now, 0, 0, `PARTITION ${e.groups.map((g) => `{${g.map((x) => this.nodeName(x)).join(',')}}`).join(' | ')}`);
        } else if (e.kind === 'heal') {
          this.network.heal();
          this.trace.note(this.now, 0, 0, 'HEAL: every live node reaches every other');
        } else {
          this.network.setLoss(e.drop, e.duplicate);
          this.trace.note(this.now, 0, 0, `LOSS now drop ${e.drop}, duplicate ${e.duplicate}`);
        }
        return;
      }
    }
  }

  private nodeName(x: number): string {
    const m = this.memberOf[x]!;
    return x === m ? `m${m}` : `m${m}/node${x}`;
  }

  /** Call into a node; a node must never throw, whatever it is fed. */
  private call(node: number, what: string, f: (n: SimNode) => Effect[]): Effect[] {
    try {
      return f(this.nodes[node]!);
    } catch (e) {
      const message = e instanceof Error ? `${e.message}\n${e.stack?.split('\n').slice(1, 4).join('\n') ?? ''}` : String(e);
      throw new InvariantViolation('no-throw', `${this.nodeName(node)} threw from ${what}(): ${message}`);
    }
  }

  private carryOut(node: number, effects: Effect[]): void {
    const honest = this.invariants.honestNode[node]!;
    const member = this.memberOf[node]!;
    let executed = false;
    for (const e of effects) {
      switch (e.kind) {
        case 'send': {
          if (e.to === member && honest) {
            this.stats.selfAddressed++;
            this.trace.note(this.now, node, member, `sends a ${e.type} to itself`);
          }
          const recipients = this.network.recipients(node, e.to).length;
          this.stats.messages[e.type] = (this.stats.messages[e.type] ?? 0) + recipients;
          for (const d of this.network.route(node, e.to, this.now)) {
            this.queue.push(d.at, { k: 'deliver', from: node, to: d.node, bytes: e.bytes, message: e.message });
          }
          break;
        }
        case 'persist':
          break;
        case 'executed': {
          this.invariants.executed(node, e);
          if (!honest) break;
          executed = true;
          this.dirty = true;
          this.honestMaxSeq[node] = e.seq;
          for (const r of e.requests) this.requestsSeen.add(`${r.member}/${r.counter}`);
          const known = this.known[node]!;
          for (const ev of e.events) {
            if (ev.kind === 'proposed') known.push(ev.ref);
            else if (ev.kind === 'round-started') known.length = 0;
            else if (ev.kind === 'decided') this.roundsDecided.add(ev.round);
          }
          this.trace.note(this.now, node, member, `EXECUTES s${e.seq} (v${e.view}) [${e.requests.map((r) => `${r.member}#${r.counter}`).join(' ')}]` +
            (e.events.length ? ` -> ${e.events.map((ev) => ev.kind).join(', ')}` : ''));
          break;
        }
        case 'evidence':
          this.trace.note(this.now, node, member, `EVIDENCE against member ${e.member} (${e.slot})`);
          this.invariants.evidence(node, e);
          if (honest) {
            this.stats.evidence++;
            this.dirty = true;
          }
          break;
        case 'claim':
          this.stats.claims++;
          this.trace.add(this.now, node, member, `claim: ${e.accuser} accuses ${e.accused} (${e.reason})`);
          break;
        case 'view':
          this.trace.note(this.now, node, member, e.changing ? `view change from v${e.view}` : `ENTERS view ${e.view}`);
          if (!e.changing && this.invariants.correctNode[node]) this.stats.viewChanges = Math.max(this.stats.viewChanges, e.view);
          break;
        case 'state':
          if (honest) {
            const snap = this.nodes[node]!.snapshot();
            this.invariants.transferred(node, e.seq, encodeLunchState(e.lunch), snap.lastCounter);
            this.honestMaxSeq[node] = Math.max(this.honestMaxSeq[node]!, e.seq);
            this.known[node] = e.lunch.proposals.filter((p) => p.round === e.lunch.round).map((p) => ({ ...p.ref }));
            this.dirty = true;
            this.stats.stateTransfers++;
          }
          this.trace.note(this.now, node, member, `ADOPTS a certified state at s${e.seq} (state transfer)`);
          break;
        case 'drop':
          if (honest) this.stats.drops[e.reason] = (this.stats.drops[e.reason] ?? 0) + 1;
          this.trace.add(this.now, node, member, `drops a message from m${e.from}: ${e.reason}`);
          break;
      }
    }
    if (executed) this.invariants.state(node, this.nodes[node]!.snapshot());
  }
}

/**
 * Real Ed25519, with verification results remembered for the run: verification is a pure
 * function, and without this every broadcast would be verified once per recipient.
 */
function memoizedVerify(suite: CryptoSuite): CryptoSuite {
  const cache = new Map<string, boolean>();
  return {
    name: suite.name,
    sign: (secretKey, message) => suite.sign(secretKey, message),
    verify(publicKey, message, signature) {
      if (!(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
      const key = `${hex(publicKey)}/${hex(signature)}/${hex(sha256(message))}`;
      let ok = cache.get(key);
      if (ok === undefined) {
        ok = suite.verify(publicKey, message, signature);
        if (cache.size > 100_000) cache.clear();
        cache.set(key, ok);
      }
      return ok;
    },
  };
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** A failure as a person reads it: what broke, how to replay it, and what led up to it. */
export function formatFailure(f: SimFailure): string {
  return [
    `VIOLATION of ${f.invariant} at ${f.at} ms (virtual)`,
    `  seed ${f.seed}, n ${f.n}, scenario ${f.scenario}, ${f.crypto} signatures`,
    `  ${f.details}`,
    `  replay: ${f.replay}`,
    `  last ${f.keyEvents.length} key events (faults, requests, executions, views, evidence):`,
    ...f.keyEvents.map((l) => `    ${l}`),
    `  last ${f.trace.length} events:`,
    ...f.trace.map((l) => `    ${l}`),
  ].join('\n');
}
