// The deterministic simulator: n members in one process, a virtual clock, a virtual network, a
// seeded schedule of requests and faults, and the invariants checked after every step. One seed
// is one run; the same seed (with the same n and scenario) always gives the same run.
//
// Each event popped from the queue is one step: a message arriving at a node, a node's clock
// tick, a member's request, a write reaching a node's disk, or a fault (partition, heal, loss,
// crash, restart). Its effects are carried out in order: a `persist` starts a write to the
// node's own durable record list that completes after a short write delay; a `send` goes out at
// once unless a write of that node is still in progress, in which case it waits until every
// write issued before it has completed (so a record whose write never completed was never sent,
// and a crash drops both); everything else goes to the invariants.
import { sha256 } from '@noble/hashes/sha2.js';
import { writeThenSend, type Effect } from '../core/effects.ts';
import { toHex } from '../core/bytes.ts';
import { encodeLunchState, type RequestRef } from '../core/lunch.ts';
import { RECOVERY_NONCE_BYTES, VOTING_KINDS, coordinatesOf, decodeWire, isLunchOp, type Roster, type Signed, type VotingKind, type Wire } from '../core/messages.ts';
import { FORGETFUL_KINDS } from '../core/recovery.ts';
import { quorumFor } from '../core/quorum.ts';
import { DEFAULT_TIMING, Replica } from '../core/replica.ts';
import type { WalRecord } from '../core/wal.ts';
import { InsecureSimulationSuite, type CryptoSuite } from '../core/suite.ts';
import { ed25519Suite, publicKeyOf } from '../crypto/ed25519.ts';
import './adversaries.ts';
import { EventQueue } from './event-queue.ts';
import { ACCOUNTABILITY_GRACE_MS, Invariants, InvariantViolation, LIVENESS_BOUND_MS, type InvariantName } from './invariants.ts';
import { VirtualNetwork, type NetworkStats } from './network.ts';
import type { NodeConfig, NodeFactory, NodeRestorer, NodeSnapshot, SimNode } from './node.ts';
import { Prng } from './prng.ts';
import { getAdversary, type AdversaryContext } from './registry.ts';
import { replicaNode, restoreReplica } from './replica-node.ts';
import { faultyMembers, scenarioFor, type LongPartition, type NetEvent, type Restart, type RoundFault } from './scenarios.ts';
import { Trace } from './trace.ts';
import { nextOp } from './workload.ts';

/** Every live node's clock ticks this often (virtual ms), each with its own phase. */
export const TICK_MS = 50;
/** Members issue their requests within this much virtual time from the start (ms). */
export const WORKLOAD_WINDOW_MS = 2000;
/**
 * One seed in this many runs with real Ed25519 signatures instead of the fast stand-in: a real run
 * costs as much as about sixteen stand-in runs, so one in 100 keeps long runs affordable and still
 * gives a thousand real-signature schedules per 100,000.
 */
export const REAL_CRYPTO_EVERY = 100;
export const DEFAULT_MAX_STEPS = 1_000_000;
/** After a late crash (see `Plan.lateCrash`) the run goes on at least this long (virtual ms). */
export const LATE_CRASH_SETTLE_MS = 12_000;
/** A write to a node's durable records completes this long after it starts (virtual ms, uniform). */
export const WRITE_DELAY_MS: readonly [number, number] = [0, 5];
export const DEFAULT_TRACE = 200;

export type CryptoChoice = 'auto' | 'insecure' | 'ed25519';
export type SendGate = 'earlier-writes' | 'same-list';

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
  /** How an honest node is rebuilt after a restart (default: `Replica.restore`). */
  restore?: NodeRestorer;
  /**
   * When a send may leave while a write is in progress. 'earlier-writes' (default, the effects
   * contract: a record is durable before any send that follows it): a send waits until every
   * write its node issued before it has completed. 'same-list': only a send that follows a
   * persist in the same effect list waits; a later step's send (a retransmission, say) leaves at once.
   */
  sendGate?: SendGate;
  timing?: NodeConfig['timing'];
  /** Receives every trace line as it happens. */
  live?: (line: string) => void;
  /** The scenario's turn, if not the seed's place in the cycle of `faults` (the Twins exploration sets it). */
  turn?: number;
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
  /** Certified states adopted by honest nodes (state transfer; not counting a restart's own stable record). */
  stateTransfers: number;
  /** Crashes of members that restart, restarts (from durable records or wiped), and wiped ones. */
  crashes: number;
  restarts: number;
  wipes: number;
  /** Durable records restarted nodes were rebuilt from. */
  restoredRecords: number;
  /** Records whose write had not completed at a crash, and sends that were waiting for them: never sent. */
  lostWrites: number;
  lostSends: number;
  /** Crashes that came while a send was waiting for its write (between persist and send). */
  crashesBetweenPersistAndSend: number;
  /** Wiped members that signed again (their amnesia ended) within the run. */
  amnesiaEnded: number;
  /** Long partitions that lasted until the others' stable checkpoint was more than a window ahead. */
  longPartitionsPastGC: number;
  /** Most entries one honest replica kept at once (sum of `snapshot().sizes`), and the most per kind; maxima, not sums. */
  maxKept: number;
  maxKeptBy: Record<string, number>;
  /** Messages an honest node addressed to its own member (harmless, but a replica has no reason to). */
  selfAddressed: number;
  drops: Record<string, number>;
  network: NetworkStats;
  /** Deliveries the structured faults held back, and ones they dropped. */
  roundFaults: { held: number; dropped: number };
  /** The highest view any protocol message sent in the run belonged to (a maximum, not a sum). */
  highestRoundView: number;
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
  | { k: 'tick'; node: number; inc: number }
  | { k: 'request'; node: number }
  | { k: 'net'; event: NetEvent }
  | { k: 'crash'; member: number }
  /** Restart episode `episode`: arm its crash, crash now (or at the end of its armed window), restart. */
  | { k: 'arm' | 'down' | 'restart'; episode: number }
  | { k: 'write'; node: number; inc: number; id: number }
  | { k: 'away' | 'back' };

type Send = Extract<Effect, { kind: 'send' }>;

/** A node's disk: the records that are durable, the writes in progress, and the sends waiting for them. */
interface Disk {
  durable: WalRecord[];
  pending: { id: number; records: WalRecord[] }[];
  waiting: { after: number; effect: Send }[];
  nextId: number;
  /** When the last write issued completes: writes complete in the order they were issued. */
  lastAt: number;
}

export function emptyStats(): RunStats {
  return {
    runs: 0, steps: 0, virtualMs: 0, realCryptoRuns: 0, batches: 0, requests: 0, lunchDecisions: 0, messages: {},
    viewChanges: 0, evidence: 0, provenMembers: 0, claims: 0, stateTransfers: 0, selfAddressed: 0, drops: {},
    crashes: 0, restarts: 0, wipes: 0, restoredRecords: 0, lostWrites: 0, lostSends: 0, crashesBetweenPersistAndSend: 0,
    amnesiaEnded: 0, longPartitionsPastGC: 0, maxKept: 0, maxKeptBy: {},
    network: { sent: 0, delivered: 0, lost: 0, duplicated: 0, blockedByPartition: 0, toCrashed: 0 },
    roundFaults: { held: 0, dropped: 0 },
    highestRoundView: 0,
  };
}

export function addStats(total: RunStats, s: RunStats): RunStats {
  const add = (a: Record<string, number>, b: Record<string, number>) => {
    for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
  };
  for (const key of [
    'runs', 'steps', 'virtualMs', 'realCryptoRuns', 'batches', 'requests', 'lunchDecisions', 'viewChanges', 'evidence', 'provenMembers', 'claims',
    'stateTransfers', 'selfAddressed', 'crashes', 'restarts', 'wipes', 'restoredRecords', 'lostWrites', 'lostSends', 'crashesBetweenPersistAndSend',
    'amnesiaEnded', 'longPartitionsPastGC',
  ] as const) {
    total[key] += s[key];
  }
  total.maxKept = Math.max(total.maxKept, s.maxKept);
  for (const [k, v] of Object.entries(s.maxKeptBy)) total.maxKeptBy[k] = Math.max(total.maxKeptBy[k] ?? 0, v);
  add(total.messages, s.messages);
  add(total.drops, s.drops);
  add(total.network as unknown as Record<string, number>, s.network as unknown as Record<string, number>);
  add(total.roundFaults, s.roundFaults);
  total.highestRoundView = Math.max(total.highestRoundView, s.highestRoundView);
  return total;
}

/**
 * The command that replays a run. It names the faults as the run was given them (a list or
 * 'all'), since a scenario that enumerates its cases takes them by its turn in that cycle, and the
 * signature suite only where the CLI's default would pick another.
 */
export function replayCommand(seed: number, n: number, faults: string, realCrypto: boolean): string {
  const crypto = realCrypto === usesRealCrypto(seed) ? '' : ` --crypto ${realCrypto ? 'ed25519' : 'insecure'}`;
  return `npm run sim -- --seed ${seed} --n ${n} --faults ${faults}${crypto}`;
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
  /** The faults as given (a scenario, a comma list or 'all'). */
  readonly faults: string;
  /** The scenario's turn when the caller set it. */
  private readonly turnGiven: number | undefined;
  readonly realCrypto: boolean;
  readonly suite: CryptoSuite;
  readonly roster: Roster;
  /** The node each node id runs now (a restart replaces it). */
  readonly nodes: SimNode[] = [];
  readonly memberOf: number[] = [];
  readonly network: VirtualNetwork;
  readonly invariants: Invariants;
  readonly trace: Trace;
  /** The network's fault schedule (partitions, heals, loss changes). */
  readonly schedule: readonly NetEvent[];
  /** Structured faults by protocol round (holds and drops). */
  readonly roundFaults: readonly RoundFault[];
  /** Virtual ms within which a correct member's request must execute (see `Invariants`). */
  readonly livenessBound: number;
  private readonly endsWhenQuiet: boolean;
  /** Crash-and-restart episodes, in the plan's order. */
  readonly restarts: readonly Restart[];
  readonly longPartition: LongPartition | undefined;
  /** Each node's disk: `disks[x].durable` is what a restart of node x is rebuilt from. */
  readonly disks: Disk[] = [];
  /** Each node's incarnation: bumped by a crash, so that its old ticks and writes come to nothing. */
  readonly incarnation: number[] = [];
  readonly stats: RunStats = emptyStats();
  now = 0;

  private readonly queue = new EventQueue<SimEvent>();
  private readonly workloadRng: Prng;
  private readonly diskRng: Prng;
  private readonly maxSteps: number;
  private readonly configs: NodeConfig[] = [];
  private readonly strategyOf: Map<number, string>;
  private readonly adversaryRng: Prng;
  private readonly honestFactory: NodeFactory;
  private readonly restorer: NodeRestorer;
  private readonly logWindow: number;
  private readonly sendGate: SendGate;
  /** Proposals each node has seen executed in the current round: what its member can vote on. */
  private readonly known: RequestRef[][] = [];
  private readonly requestsSeen = new Set<string>();
  private readonly roundsDecided = new Set<number>();
  private readonly honestMaxSeq: number[] = [];
  /** Honest nodes that restarted wiped and have not signed again yet. */
  private readonly amnesic: boolean[] = [];
  /** Whether each node was still amnesic, as its durable records tell, when it last crashed. */
  private readonly amnesicAtCrash: boolean[] = [];
  /**
   * The write that made each node's end of amnesia durable (0: nothing was pending). Until it
   * completes, a crash brings the node back amnesic, which is the safe side, not a fault.
   */
  private readonly amnesiaEndWrite: number[] = [];
  /** When each amnesic node came back (its recovery must end within the liveness bound after that and `stableAt`). */
  private readonly amnesicSince: number[] = [];
  /** Episode whose crash is armed, by member. */
  private readonly armed = new Map<number, number>();
  private readonly crashedIn = new Set<number>();
  private lastWorkloadAt = 0;
  /** The planned faults are over by then (a long partition may end the unfair period later or sooner). */
  private readonly plannedStableAt: number;
  private stableAt: number;
  private away: { member: number; othersStable: number; healing: boolean; active: boolean } | null = null;
  private steps = 0;
  private dirty = true;
  private nextProofCheck = 0;
  private quiescentSince: number | null = null;
  private lateCrash: { member: number; wiped: number; delay: number } | undefined;
  /** Planned restarts that have not happened yet: a run does not end with a member still down for a restart. */
  private restartsDue: number;

  constructor(options: RunOptions) {
    const seed = options.seed;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
    this.seed = seed;
    this.n = options.n ?? 4;
    const { f } = quorumFor(this.n);
    this.f = f;
    this.maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    this.trace = new Trace(options.traceSize ?? DEFAULT_TRACE, options.live);

    this.sendGate = options.sendGate ?? 'earlier-writes';
    const rng = new Prng(seed);
    const picked = scenarioFor(options.faults ?? 'all', seed);
    const scenario = picked.scenario;
    const turn = options.turn ?? picked.turn;
    this.turnGiven = options.turn;
    this.scenario = scenario.name;
    this.faults = options.faults ?? 'all';
    const plan = scenario.plan({ rng: rng.fork('scenario'), n: this.n, f, turn });
    this.strategyOf = plan.adversaries;
    // The run's timing: the scenario's, then the caller's on top.
    const timing = plan.timing || options.timing ? { ...plan.timing, ...options.timing } : undefined;
    this.logWindow = { ...DEFAULT_TIMING, ...timing }.logWindow;
    this.restarts = plan.restarts;
    this.restartsDue = plan.restarts.length;
    this.longPartition = plan.longPartition;

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
    this.honestFactory = options.honest ?? replicaNode;
    this.restorer = options.restore ?? restoreReplica;
    this.adversaryRng = rng.fork('adversaries');
    const extra: { member: number; node: SimNode }[] = [];
    for (let m = 0; m < this.n; m++) {
      const config: NodeConfig = { roster: this.roster, me: m, secretKey: keys[m]!.secretKey, suite: this.suite, timing, now: 0 };
      this.configs.push(config);
      const strategy = plan.adversaries.get(m);
      let built: SimNode | SimNode[];
      if (strategy === undefined) {
        built = this.honestFactory(config);
      } else {
        built = this.buildAdversary(m, strategy, rng.fork(`adversary/${m}`), null);
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
      this.amnesic.push(false);
      this.amnesicAtCrash.push(false);
      this.amnesiaEndWrite.push(0);
      this.amnesicSince.push(0);
      this.incarnation.push(0);
      this.disks.push({ durable: [], pending: [], waiting: [], nextId: 0, lastAt: 0 });
    }
    for (const r of plan.restarts) {
      if (this.nodesOf(r.member).length !== 1) throw new Error(`scenario ${this.scenario} restarts member ${r.member}, which has several nodes`);
    }

    this.network = new VirtualNetwork(this.memberOf, rng.fork('network'), plan.link);
    this.diskRng = rng.fork('disk');
    const layout = { n: this.n, f, memberOf: this.memberOf };
    const netEvents = plan.network(layout);
    this.schedule = netEvents;
    this.roundFaults = plan.rounds?.(layout) ?? [];
    const crashTimes = [...plan.crashes.values()];
    // A slow network is still a fair one; a held message arrives once its hold is over.
    const faultEnds = this.roundFaults.map((r) => r.until + (r.hold === 'drop' ? 0 : r.hold));
    this.plannedStableAt = Math.max(
      0, ...netEvents.filter((e) => e.kind !== 'slow').map((e) => e.at), ...faultEnds, ...crashTimes, ...plan.restarts.map((r) => r.restartAt),
    );
    this.stableAt = Math.max(this.plannedStableAt, plan.longPartition?.until ?? 0);

    const faulty = faultyMembers(plan);
    if (faulty.size > f) throw new Error(`scenario ${this.scenario} made more than f = ${f} members faulty`);
    const faultyMember = Array.from({ length: this.n }, (_, m) => plan.adversaries.has(m));
    const crashingMember = Array.from({ length: this.n }, (_, m) => plan.crashes.has(m) || plan.lateCrash?.member === m);
    this.lateCrash = plan.lateCrash;
    this.livenessBound = plan.livenessBound ?? LIVENESS_BOUND_MS;
    this.endsWhenQuiet = plan.endsWhenQuiet === true;
    this.invariants = new Invariants({ n: this.n, memberOf: this.memberOf, faultyMember, crashingMember }, this.suite, this.roster, this.stableAt, this.livenessBound);

    // The schedule.
    for (const event of netEvents) this.queue.push(event.at, { k: 'net', event });
    for (const [member, at] of plan.crashes) this.queue.push(at, { k: 'crash', member });
    plan.restarts.forEach((r, episode) => {
      if (r.window > 0) this.queue.push(r.at, { k: 'arm', episode });
      this.queue.push(r.at + r.window, { k: 'down', episode });
      this.queue.push(r.restartAt, { k: 'restart', episode });
    });
    if (plan.longPartition) {
      this.queue.push(plan.longPartition.from, { k: 'away' });
      this.queue.push(plan.longPartition.until, { k: 'back' });
    }
    const ticks = rng.fork('ticks');
    this.workloadRng = rng.fork('workload');
    const schedule = rng.fork('schedule');
    // Short schedules, so that thousands of them fit in a test run: a couple of requests per
    // member (in a larger room not every member speaks), faulty members too; the heavy scenarios
    // ask for more.
    const window = plan.workload?.window ?? WORKLOAD_WINDOW_MS;
    let correctRequests = 0;
    const ask = (node: number) => {
      const at = schedule.int(Math.min(plan.workload?.start ?? 0, window), window);
      this.lastWorkloadAt = Math.max(this.lastWorkloadAt, at);
      this.queue.push(at, { k: 'request', node });
    };
    this.nodes.forEach((_, node) => {
      this.queue.push(ticks.int(0, TICK_MS - 1), { k: 'tick', node, inc: 0 });
      const member = this.memberOf[node]!;
      const count = plan.workload
        ? schedule.int(plan.workload.min, plan.workload.max)
        : faultyMember[member] || this.n > 4 ? schedule.int(0, 2) : schedule.int(1, 2);
      if (!faulty.has(member)) correctRequests += count;
      for (let i = 0; i < count; i++) ask(node);
    });
    const someone = [...Array(this.n).keys()].find((m) => !faulty.has(m));
    if (correctRequests === 0 && someone !== undefined) ask(someone);
    const show = (r: Restart) => `${r.member}@${r.at}${r.window ? `(armed ${r.window}ms)` : ''}..${r.restartAt}ms${r.wipe ? ' wiped' : ''}`;
    this.trace.note(0, 0, 0, `run: seed ${seed}, n ${this.n}, scenario ${this.scenario}, ${this.realCrypto ? 'real Ed25519' : 'stand-in'} signatures, ` +
      `faulty [${[...plan.adversaries].map(([m, s]) => `${m}:${s}`).join(' ')}], crashes [${[...plan.crashes].map(([m, t]) => `${m}@${t}ms`).join(' ')}], ` +
      `restarts [${plan.restarts.map(show).join(' ')}]` +
      (plan.longPartition ? `, long partition of ${plan.longPartition.member} from ${plan.longPartition.from} ms` : '') +
      `, stable at ${this.stableAt} ms`);
  }

  /** Build a faulty member's node(s); `restored` is the replica a restart rebuilt from its records. */
  private buildAdversary(m: number, strategy: string, rng: Prng, restored: Replica | null): SimNode | SimNode[] {
    const entry = getAdversary(strategy);
    if (!entry) throw new Error(`no adversary registered as "${strategy}"`);
    const config = restored === null ? this.configs[m]! : { ...this.configs[m]!, now: this.now };
    let handedOut = false;
    const core = (): Replica => {
      if (restored === null) return new Replica(config);
      if (handedOut) throw new Error(`adversary "${strategy}" wants two replicas for member ${m}: it cannot restart`);
      handedOut = true;
      return restored;
    };
    const ctx: AdversaryContext = {
      member: m, n: this.n, f: this.f, roster: this.roster, suite: this.suite, secretKey: config.secretKey, config, rng,
      replica: (overrides) => (restored === null ? this.honestFactory({ ...config, ...overrides }) : core()),
      core,
      restarting: restored !== null,
    };
    return entry.factory(ctx);
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
        replay: replayCommand(this.seed, this.n, this.faults, this.realCrypto) + (this.turnGiven === undefined ? '' : ` --turn ${this.turnGiven}`) +
          (this.sendGate === 'same-list' ? ' --send-gate same-list' : ''),
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
    for (;;) {
      // Recomputed: a long partition that heals early or a late crash moves stableAt.
      const hardStop = this.stableAt + this.lastWorkloadAt + this.livenessBound + ACCOUNTABILITY_GRACE_MS + 10_000;
      const next = this.queue.pop();
      if (next === undefined) throw new InvariantViolation('liveness', 'nothing left to happen (no ticks scheduled)');
      this.now = next.at;
      if (++this.steps > this.maxSteps) {
        throw new InvariantViolation('step-budget', `more than ${this.maxSteps} events by ${this.now} ms: a livelock or a message storm`);
      }
      this.handle(next.value);
      this.invariants.checkDeadlines(this.now);
      this.checkRecoveries();
      if (this.done()) return;
      if (this.now > hardStop) {
        const out = this.invariants.outstanding();
        throw new InvariantViolation('liveness', `the run did not quiesce by ${this.now} ms: ${out.missing.join('; ') || 'proofs still differ'}`);
      }
    }
  }

  /**
   * A member that lost its records must get them back: an honest one that is up and still
   * amnesic a liveness bound after it came back and the network became stable breaks liveness
   * (at most f members are faulty, itself included, so the others can order its recovery).
   */
  private checkRecoveries(): void {
    for (let x = 0; x < this.nodes.length; x++) {
      if (!this.amnesic[x] || !this.network.isLive(x)) continue;
      const deadline = Math.max(this.amnesicSince[x]!, this.stableAt) + this.livenessBound;
      if (this.now > deadline) {
        throw new InvariantViolation('liveness', `${this.nodeName(x)} lost its records and has not recovered by ${this.now} ms (deadline ${deadline} ms)`);
      }
    }
  }

  /**
   * Every request issued, every correct member's request executed everywhere correct, every
   * member that lost its records recovered, the network stable, proofs shared.
   */
  private done(): boolean {
    if (this.amnesic.some((a, x) => a && this.network.isLive(x))) return false;
    // A plan whose only faults act on protocol messages may end once everything is quiet: with
    // nothing pending, no later view comes, so its later faults would never act.
    const early = this.endsWhenQuiet && this.network.isPartitioned === false;
    if (this.now < this.lastWorkloadAt || (!early && this.now < this.stableAt) || this.restartsDue > 0) return false;
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
      throw new InvariantViolation(disagreement.includes('executed up to') ? 'liveness' : 'accountability', `${ACCOUNTABILITY_GRACE_MS} ms after quiescence, ${disagreement}`);
    }
    return false;
  }

  private correctSnapshots(): (NodeSnapshot | null)[] {
    return this.nodes.map((node, x) => (this.invariants.isCorrect(x) ? node.snapshot() : null));
  }

  /**
   * What still differs between the correct nodes: the proofs they hold, or how far they have
   * executed (a restarted or cut-off member must converge to the same decided log and lunch
   * state as the others, including the batches of faulty members).
   */
  private proofDisagreement(): string | null {
    let first: { x: number; proven: string; seq: number } | null = null;
    for (const [x, s] of this.correctSnapshots().entries()) {
      if (s === null) continue;
      const proven = [...new Set(s.proven)].sort((a, b) => a - b).join(',');
      if (first === null) first = { x, proven, seq: s.executedSeq };
      else if (first.proven !== proven) return `node ${first.x} holds proofs against [${first.proven}] but node ${x} holds [${proven}]`;
      else if (first.seq !== s.executedSeq) return `node ${first.x} executed up to s${first.seq} but node ${x} up to s${s.executedSeq}`;
    }
    return null;
  }

  private finish(): void {
    const snaps = this.correctSnapshots();
    snaps.forEach((s, x) => {
      if (s === null) return;
      this.invariants.state(x, s);
      this.noteSizes(s);
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
        this.carryOut(event.to, this.call(event.to, 'step', (node) => node.step(from, event.bytes.slice())), 'step');
        this.armedCrash(event.to);
        return;
      }
      case 'tick': {
        const node = event.node;
        if (!this.network.isLive(node) || event.inc !== this.incarnation[node]) return;
        this.queue.push(this.now + TICK_MS, event);
        this.carryOut(node, this.call(node, 'tick', (n) => n.tick(this.now)), 'tick');
        this.armedCrash(node);
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
        this.carryOut(node, this.call(node, 'request', (n) => n.request(op)), 'step');
        this.armedCrash(node);
        return;
      }
      case 'write':
        this.completeWrite(event.node, event.inc, event.id);
        return;
      case 'crash':
        this.crash(event.member, 'CRASHES (and stays down)');
        return;
      case 'arm': {
        const r = this.restarts[event.episode]!;
        this.armed.set(r.member, event.episode);
        this.trace.note(this.now, r.member, r.member, `crash armed: crashes at its first step that leaves a send waiting for a write (by ${r.at + r.window} ms)`);
        return;
      }
      case 'down': {
        const r = this.restarts[event.episode]!;
        if (this.armed.get(r.member) === event.episode) this.armed.delete(r.member);
        if (this.crashedIn.has(event.episode)) return;
        this.crashedIn.add(event.episode);
        this.crash(r.member, `CRASHES (restarts at ${r.restartAt} ms${r.wipe ? ', records wiped' : ''})`);
        return;
      }
      case 'restart':
        this.restart(event.episode);
        return;
      case 'away': {
        const lp = this.longPartition!;
        const mine = this.nodesOf(lp.member);
        this.network.partition([mine, this.memberOf.map((_, x) => x).filter((x) => !mine.includes(x))]);
        this.away = { member: lp.member, othersStable: 0, healing: false, active: true };
        this.trace.note(this.now, lp.member, lp.member, `LONG PARTITION: m${lp.member} cut off until the others' stable checkpoint is more than ${this.logWindow} beyond it`);
        return;
      }
      case 'back': {
        const a = this.away;
        if (a === null || !a.active) return;
        a.active = false;
        this.network.heal();
        const gap = a.othersStable - this.honestMaxSeq[a.member]!;
        if (gap > this.logWindow) this.stats.longPartitionsPastGC++;
        // The network is fair from now on (it was assumed unfair until the latest heal time).
        this.stableAt = Math.max(this.plannedStableAt, this.now);
        this.invariants.setStableAt(this.stableAt);
        this.trace.note(this.now, a.member, a.member, `HEAL long partition: the others' stable checkpoint s${a.othersStable}, m${a.member} executed s${this.honestMaxSeq[a.member]}`);
        return;
      }
      case 'net': {
        const e = event.event;
        if (e.kind === 'partition') {
          this.network.partition(e.groups);
          this.trace.note(this.now, 0, 0, `PARTITION ${e.groups.map((g) => `{${g.map((x) => this.nodeName(x)).join(',')}}`).join(' | ')}`);
        } else if (e.kind === 'heal') {
          this.network.heal();
          this.trace.note(this.now, 0, 0, 'HEAL: every live node reaches every other');
        } else if (e.kind === 'slow') {
          this.network.setDelay(e.min, e.max);
          this.trace.note(this.now, 0, 0, `SLOW: every message now takes ${e.min}-${e.max} ms`);
        } else {
          this.network.setLoss(e.drop, e.duplicate);
          this.trace.note(this.now, 0, 0, `LOSS now drop ${e.drop}, duplicate ${e.duplicate}`);
        }
        return;
      }
    }
  }

  /** An armed crash strikes right after a step that left a send waiting for its write. */
  private armedCrash(node: number): void {
    const member = this.memberOf[node]!;
    const episode = this.armed.get(member);
    if (episode === undefined || this.disks[node]!.waiting.length === 0) return;
    this.armed.delete(member);
    this.crashedIn.add(episode);
    const r = this.restarts[episode]!;
    this.crash(member, `CRASHES between a persist and its send (restarts at ${r.restartAt} ms${r.wipe ? ', records wiped' : ''})`);
  }

  /** Every node of the member stops; writes in progress never complete and what waited for them is never sent. */
  private crash(member: number, what: string): void {
    let writes = 0;
    let sends = 0;
    for (const x of this.nodesOf(member)) {
      if (!this.network.isLive(x)) continue;
      this.network.crash(x);
      this.incarnation[x]!++;
      const disk = this.disks[x]!;
      writes += disk.pending.reduce((sum, w) => sum + w.records.length, 0);
      sends += disk.waiting.length;
      if (disk.waiting.length > 0) this.stats.crashesBetweenPersistAndSend++;
      const endLost = disk.pending.some((w) => w.id <= this.amnesiaEndWrite[x]!);
      this.amnesicAtCrash[x] = this.amnesic[x]! || endLost;
      this.amnesiaEndWrite[x] = 0;
      disk.pending = [];
      disk.waiting = [];
      this.amnesic[x] = false;
      this.invariants.setCorrect(x, false, this.now);
    }
    this.stats.crashes++;
    this.stats.lostWrites += writes;
    this.stats.lostSends += sends;
    this.dirty = true;
    this.trace.note(this.now, member, member, `${what}: ${writes} record(s) not yet durable and ${sends} send(s) waiting for them are lost`);
  }

  /** Rebuild the member's node from its durable records (or from none: wiped) and bring it back. */
  private restart(episode: number): void {
    const r = this.restarts[episode]!;
    const x = this.nodesOf(r.member)[0]!;
    if (this.network.isLive(x)) {
      // Its crash never came (it is scheduled before the restart, so this is a plan error).
      throw new Error(`restart of member ${r.member} at ${this.now} ms while it is up`);
    }
    const disk = this.disks[x]!;
    if (r.wipe) disk.durable = [];
    const records = [...disk.durable];
    const config: NodeConfig = { ...this.configs[r.member]!, now: this.now };
    const honest = this.invariants.honestNode[x]!;
    const strategy = this.strategyOf.get(r.member);
    let node: SimNode;
    let effects: Effect[];
    let rejected: readonly { index: number; reason: string }[];
    let amnesia: boolean;
    // Fresh for every restart, and derived from the seed so that the run replays.
    const nonce = sha256(new TextEncoder().encode(`byzantine-lunch-sim-nonce/${this.seed}/${episode}`)).slice(0, RECOVERY_NONCE_BYTES);
    try {
      if (strategy === undefined) {
        ({ node, effects, rejected, amnesia } = this.restorer(config, records, { lost: r.wipe, nonce }));
      } else {
        const restored = Replica.restore(config, records, { lost: r.wipe, nonce });
        const built = this.buildAdversary(r.member, strategy, this.adversaryRng.fork(`restart/${episode}`), restored.replica);
        if (Array.isArray(built)) throw new Error(`adversary "${strategy}" cannot restart: it has several nodes`);
        ({ effects } = restored);
        ({ rejected, amnesia } = restored.report);
        node = built;
      }
    } catch (e) {
      const message = e instanceof Error ? `${e.message}\n${e.stack?.split('\n').slice(1, 4).join('\n') ?? ''}` : String(e);
      throw new InvariantViolation('no-throw', `${this.nodeName(x)} threw while restoring from ${records.length} record(s): ${message}`);
    }
    this.restartsDue--;
    this.nodes[x] = node;
    this.network.restart(x);
    this.invariants.restarted(x);
    this.known[x] = [];
    this.stats.restarts++;
    if (r.wipe) this.stats.wipes++;
    this.stats.restoredRecords += records.length;
    this.trace.note(this.now, x, r.member, r.wipe ? 'RESTARTS with every record wiped (amnesia)' : `RESTARTS from ${records.length} durable record(s)`);
    if (honest) {
      if (rejected.length > 0 && !r.wipe) {
        throw new InvariantViolation('restore', `${this.nodeName(x)} rejected ${rejected.length} of its own durable records: ${rejected.slice(0, 3).map((j) => `#${j.index} ${j.reason}`).join('; ')}`);
      }
      const snapAmnesia = node.snapshot().amnesia;
      if (r.wipe && (!amnesia || snapAmnesia === false)) {
        throw new InvariantViolation('restore', `${this.nodeName(x)} restarted with its records wiped but does not consider itself amnesic`);
      }
      // A member that was still recovering when it crashed goes on recovering; one whose very
      // first record never became durable cannot tell its log from a lost one.
      const excused = this.amnesicAtCrash[x] || !records.some((rec) => rec.kind === 'start');
      if (!r.wipe && !excused && (amnesia || snapAmnesia === true)) {
        throw new InvariantViolation('restore', `${this.nodeName(x)} restarted from all its durable records but considers itself amnesic`);
      }
      if (!r.wipe && !excused && effects.some((e) => e.kind === 'persist' && e.record.kind === 'lost')) {
        throw new InvariantViolation('restore', `${this.nodeName(x)} restarted from all its durable records but started a new recovery`);
      }
    }
    this.amnesic[x] = honest && amnesia;
    this.amnesicSince[x] = this.now;
    this.invariants.setCorrect(x, !amnesia, this.now);
    this.dirty = true;
    this.queue.push(this.now + this.diskRng.int(0, TICK_MS - 1), { k: 'tick', node: x, inc: this.incarnation[x]! });
    this.carryOut(x, effects, 'restore');
  }

  /** What the checks and the trace make of one effect other than a record or a send (`list[at]`, among the step's others). */
  private observe(node: number, e: Exclude<Effect, { kind: 'persist' | 'send' }>, origin: 'step' | 'tick' | 'restore', list: readonly Effect[], at: number): void {
    const honest = this.invariants.honestNode[node]!;
    const member = this.memberOf[node]!;
    switch (e.kind) {
      case 'executed': {
        this.invariants.executed(node, e);
        if (!honest) break;
        this.dirty = true;
        this.honestMaxSeq[node] = e.seq;
        for (const r of e.requests) this.requestsSeen.add(`${r.member}/${r.counter}`);
        const known = this.known[node]!;
        for (const ev of e.events) {
          if (ev.kind === 'proposed') known.push(ev.ref);
          else if (ev.kind === 'round-started') known.length = 0;
          else if (ev.kind === 'decided') this.roundsDecided.add(ev.round);
        }
        this.trace.note(this.now, node, member, `${origin === 'restore' ? 're-executes from its records' : 'EXECUTES'} s${e.seq} (v${e.view}) ` +
          `[${e.requests.map((r) => `${r.member}#${r.counter}`).join(' ')}]` + (e.events.length ? ` -> ${e.events.map((ev) => ev.kind).join(', ')}` : ''));
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
        if (!e.changing && this.invariants.isCorrect(node)) this.stats.viewChanges = Math.max(this.stats.viewChanges, e.view);
        break;
      case 'state':
        if (honest) {
          // The snapshot is taken after the whole step, so its counters include what the node
          // executed after adopting the state in this same step: leave those members' counters
          // to the executions that follow.
          const later = new Set(list.slice(at + 1).flatMap((x) => (x.kind === 'executed' ? x.requests.map((r) => r.member) : [])));
          const counters = this.nodes[node]!.snapshot().lastCounter.map((c, m) => (later.has(m) ? 0 : c));
          this.invariants.transferred(node, e.seq, encodeLunchState(e.lunch), counters);
          this.honestMaxSeq[node] = Math.max(this.honestMaxSeq[node]!, e.seq);
          this.known[node] = e.lunch.proposals.filter((p) => p.round === e.lunch.round).map((p) => ({ ...p.ref }));
          this.dirty = true;
          if (origin !== 'restore') this.stats.stateTransfers++;
        }
        this.trace.note(this.now, node, member, origin === 'restore' ? `restores its stable state at s${e.seq}` : `ADOPTS a certified state at s${e.seq} (state transfer)`);
        break;
      case 'received':
        if (e.dropped === null) break;
        if (honest) this.stats.drops[e.dropped] = (this.stats.drops[e.dropped] ?? 0) + 1;
        this.trace.add(this.now, node, member, `drops a message from m${e.from}: ${e.dropped}`);
        break;
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

  /** A write completes: its records are durable, and the sends that waited for it go out. */
  private completeWrite(node: number, inc: number, id: number): void {
    if (inc !== this.incarnation[node]) return; // the node crashed before the write completed
    const disk = this.disks[node]!;
    const honest = this.invariants.honestNode[node]!;
    const member = this.memberOf[node]!;
    while (disk.pending.length > 0 && disk.pending[0]!.id <= id) {
      for (const record of disk.pending.shift()!.records) {
        disk.durable.push(record);
        if (honest && record.kind === 'signed') this.invariants.signed(member, record.signed as Signed, 'made durable');
      }
    }
    while (disk.waiting.length > 0 && disk.waiting[0]!.after <= id) this.transmit(node, disk.waiting.shift()!.effect);
  }

  /** Start a write of `records` on the node's disk; it completes after the write delay, after every earlier one. */
  private startWrite(node: number): { id: number; records: WalRecord[] } {
    const disk = this.disks[node]!;
    const id = ++disk.nextId;
    const at = Math.max(this.now + this.diskRng.int(WRITE_DELAY_MS[0], WRITE_DELAY_MS[1]), disk.lastAt);
    disk.lastAt = at;
    const write = { id, records: [] as WalRecord[] };
    disk.pending.push(write);
    this.queue.push(at, { k: 'write', node, inc: this.incarnation[node]!, id });
    return write;
  }

  /** A send leaves the node: counted, checked (what an honest member signs), routed. */
  private transmit(node: number, e: Send): void {
    const member = this.memberOf[node]!;
    const honest = this.invariants.honestNode[node]!;
    if (honest) {
      if (e.to === member) {
        this.stats.selfAddressed++;
        this.trace.note(this.now, node, member, `sends a ${e.type} to itself`);
      }
      if (e.type !== 'status' && e.type !== 'fetch' && e.type !== 'get-state' && e.type !== 'get-new-view') {
        // What goes on the wire is the bytes. The replica's send effects carry the message its
        // bytes encode; decoding every send again would cost a sixth of a run, so the runs with
        // real signatures (which are slow anyway) decode the bytes, and the others read the message.
        const message = this.realCrypto || e.message === null ? decodeOr(e.bytes) : e.message;
        const parts = message !== null ? authoredParts(message, member) : [];
        // While amnesic it may pass on what it signed before its records were lost (say, the
        // new-view it is handed back), but must sign no new pre-prepare, prepare, commit,
        // view-change or new-view.
        if (this.amnesic[node]) {
          const fresh = parts.find((p) => FORGETFUL_KINDS.has(p.body.t) && !this.invariants.hasSigned(member, p));
          if (fresh) throw new InvariantViolation('amnesia', `${this.nodeName(node)} sent a ${fresh.body.t} it signed while amnesic (its records were wiped)`);
        }
        for (const part of parts) this.invariants.signed(member, part, 'sent');
      }
    }
    const recipients = this.network.recipients(node, e.to).length;
    this.stats.messages[e.type] = (this.stats.messages[e.type] ?? 0) + recipients;
    const round = e.message !== null ? roundOf(e.message) : null;
    if (round !== null && round.view > this.stats.highestRoundView) this.stats.highestRoundView = round.view;
    const faulted = this.roundFaults.length > 0 && e.message !== null ? e.message : null;
    for (const d of this.network.route(node, e.to, this.now)) {
      let at = d.at;
      if (faulted !== null) {
        const fate = this.roundFate(node, d.node, faulted);
        if (fate === 'drop') {
          this.stats.roundFaults.dropped++;
          continue;
        }
        if (fate > at) {
          this.stats.roundFaults.held++;
          at = fate;
        }
      }
      this.queue.push(at, { k: 'deliver', from: node, to: d.node, bytes: e.bytes, message: e.message });
    }
  }

  /** What the structured faults do to a message from one node to another: deliver no earlier than a time, or drop. */
  private roundFate(from: number, to: number, m: Wire): number | 'drop' {
    const round = roundOf(m);
    let at = 0;
    for (const r of this.roundFaults) {
      if (this.now < r.from || this.now >= r.until) continue;
      if (r.view !== undefined && round?.view !== r.view) continue;
      if (r.belowView !== undefined && round !== null && round.view >= r.belowView) continue;
      if (r.kinds !== undefined && !r.kinds.includes(m.k)) continue;
      if (r.to !== undefined && !r.to.includes(to)) continue;
      if (r.groups !== undefined && groupOf(r.groups, from) === groupOf(r.groups, to)) continue;
      if (r.hold === 'drop') return 'drop';
      at = Math.max(at, this.now + r.hold);
    }
    return at;
  }

  private noteSizes(s: NodeSnapshot): void {
    if (!s.sizes) return;
    let total = 0;
    for (const [k, v] of Object.entries(s.sizes)) {
      total += v;
      if (v > (this.stats.maxKeptBy[k] ?? 0)) this.stats.maxKeptBy[k] = v;
    }
    if (total > this.stats.maxKept) this.stats.maxKept = total;
  }

  private carryOut(node: number, effects: Effect[], origin: 'step' | 'tick' | 'restore'): void {
    const honest = this.invariants.honestNode[node]!;
    const member = this.memberOf[node]!;
    const disk = this.disks[node]!;
    const watchAmnesia = this.amnesic[node]!;
    // Positions among this list's records: a forbidden signature is excused only by a stable
    // checkpoint recorded before it.
    let forbiddenAt = -1;
    let forbidden: WalRecord | null = null;
    let stableAt = -1;
    /** The write holding this list's last stable record: the one that can end amnesia. */
    let stableWrite = 0;
    let recordAt = 0;
    let executed = false;
    /** The last write started by this effect list (for the 'same-list' gate). */
    let lastWriteHere: { id: number; records: WalRecord[] } | null = null;
    const groups = writeThenSend(effects);
    // The effects other than records, in their order: what comes after a state transfer.
    const rest = groups.flatMap((g) => g.then);
    let restAt = -1;
    for (const group of groups) {
      if (group.records.length > 0) {
        const write = this.startWrite(node);
        lastWriteHere = write;
        for (const record of group.records) {
          const at = recordAt++;
          // What reaches the disk is a copy, as a real store (structured clone) keeps it; only
          // worth the time when something will read it back.
          write.records.push(this.restarts.length > 0 ? structuredClone(record) : record);
          if (record.kind === 'signed') {
            const body = record.signed.body;
            if (honest && body.t === 'request' && body.from === member && isLunchOp(body.op)) this.invariants.signedRequest(member, body.counter);
            if (watchAmnesia && forbiddenAt < 0 && FORGETFUL_KINDS.has(body.t)) {
              forbiddenAt = at;
              forbidden = record;
            }
          } else if (record.kind === 'stable') {
            if (stableAt < 0) stableAt = at;
            stableWrite = write.id;
            if (origin !== 'restore') this.invariants.stable(node, record.seq, record.bytes, record.proof);
            const a = this.away;
            if (honest && a !== null && a.active && member !== a.member && record.seq > a.othersStable) {
              a.othersStable = record.seq;
              if (!a.healing && a.othersStable - this.honestMaxSeq[a.member]! > this.logWindow) {
                a.healing = true;
                this.queue.push(this.now + this.diskRng.int(0, 300), { k: 'back' });
              }
            }
          }
        }
      }
      for (const e of group.then) {
        restAt++;
        if (e.kind === 'send') {
          const last = disk.pending[disk.pending.length - 1];
          if (last !== undefined && (this.sendGate === 'earlier-writes' || lastWriteHere !== null)) {
            disk.waiting.push({ after: this.sendGate === 'earlier-writes' ? last.id : lastWriteHere!.id, effect: e });
          } else this.transmit(node, e);
          continue;
        }
        this.observe(node, e, origin, rest, restAt);
        if (e.kind === 'executed' && honest) executed = true;
      }
    }
    if (executed) {
      const snap = this.nodes[node]!.snapshot();
      this.invariants.state(node, snap);
      this.noteSizes(snap);
    }
    // A wiped member signs no PRE-PREPARE, PREPARE, COMMIT, VIEW-CHANGE or NEW-VIEW until its
    // amnesia ends, which only a new stable checkpoint (or, on a tick, the horizon) can do.
    if (watchAmnesia && (forbiddenAt >= 0 || stableAt >= 0 || origin === 'tick')) {
      const still = this.nodes[node]!.snapshot().amnesia !== false;
      if (forbiddenAt >= 0 && (still || stableAt < 0 || stableAt > forbiddenAt)) {
        throw new InvariantViolation('amnesia', `${this.nodeName(node)} signed a ${record(forbidden!)} while amnesic (its records were wiped)`);
      }
      if (!still) {
        this.amnesic[node] = false;
        // The stable record that ended it is durable once its write completes; ended otherwise
        // (on a tick), by whatever this node has written so far.
        this.amnesiaEndWrite[node] = stableWrite > 0 ? stableWrite : (disk.pending[disk.pending.length - 1]?.id ?? 0);
        this.stats.amnesiaEnded++;
        this.invariants.setCorrect(node, true, this.now);
        this.dirty = true;
        this.trace.note(this.now, node, member, 'amnesia over: a stable checkpoint lies a window beyond anything it could have signed');
        const late = this.lateCrash;
        if (late !== undefined && late.wiped === member) {
          this.lateCrash = undefined;
          const at = this.now + late.delay;
          this.queue.push(at, { k: 'crash', member: late.member });
          // Long enough after it for the others to notice the silence and change views.
          this.stableAt = Math.max(this.stableAt, at + LATE_CRASH_SETTLE_MS);
          this.invariants.setStableAt(this.stableAt);
          this.trace.note(this.now, late.member, late.member, `will crash for good at ${at} ms, now that m${member} signs again`);
        }
      }
    }
  }
}

const VOTING: ReadonlySet<string> = new Set(VOTING_KINDS);

/** The protocol round a message belongs to: the view it is in (or for), and its kind; null for the rest. */
export function roundOf(m: Wire): { view: number; kind: VotingKind } | null {
  const { view } = coordinatesOf(m);
  return VOTING.has(m.k) && view !== null ? { view, kind: m.k as VotingKind } : null;
}

/** The group a node is in; nodes named in no group share one more. */
function groupOf(groups: readonly (readonly number[])[], node: number): number {
  const g = groups.findIndex((members) => members.includes(node));
  return g < 0 ? groups.length : g;
}

function decodeOr(bytes: Uint8Array): Wire | null {
  const decoded = decodeWire(bytes);
  return decoded.ok ? decoded.message : null;
}

/** The top-level signed parts of a message that `member` itself signed (not ones it relays). */
function authoredParts(m: Wire, member: number): Signed[] {
  const mine = (s: Signed) => (s.body.from === member ? [s] : []);
  switch (m.k) {
    case 'request':
      return mine(m.req);
    case 'pre-prepare':
      return mine(m.pp);
    case 'prepare':
      return [...mine(m.prepare), ...mine(m.pp)];
    case 'commit':
      return mine(m.commit);
    case 'view-change':
      return mine(m.vc);
    case 'new-view':
      return m.nv.body.from === member ? [m.nv, ...m.nv.body.pps.filter((pp) => pp.body.from === member)] : [];
    case 'checkpoint':
      return mine(m.checkpoint);
    default:
      return [];
  }
}

function record(r: WalRecord): string {
  return r.kind === 'signed' ? `${r.signed.body.t}` : r.kind;
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
      const key = `${toHex(publicKey)}/${toHex(signature)}/${toHex(sha256(message))}`;
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
