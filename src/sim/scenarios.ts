// Fault scenarios, selectable by name. A scenario decides, from the seed's random stream, which
// members are faulty and how (crash, crash and restart from durable records, restart with its
// records wiped, or an adversary strategy from the registry), what the network does over time
// (partitions, heals, loss, a long partition that outlasts garbage collection) and, for the heavy
// scenarios, how many requests the members make. The rest of the run — delays, write delays,
// the workload's timing — is the simulator's. At most f members are ever faulty, counting a
// member that is down or has forgotten what it signed (amnesia) as faulty.
import { VOTING_KINDS, type WireKind } from '../core/messages.ts';
import type { Timing } from '../core/replica.ts';
import type { LinkModel } from './network.ts';
import type { Prng } from './prng.ts';
import { adversaryNames, getAdversary } from './registry.ts';
import { twinsSchedule } from './twins.ts';

/** Faults start within this much virtual time from the start of a run (ms). */
export const FAULT_WINDOW_MS = 3000;
/** An armed crash waits at most this long (ms) for a step that leaves a send waiting on a write. */
export const ARMED_CRASH_WINDOW_MS = 400;
/** A long partition heals at the latest this long (ms) after it starts, whatever happened. */
export const LONG_PARTITION_MAX_MS = 15_000;

export interface Layout {
  readonly n: number;
  readonly f: number;
  /** Member of each node (node ids 0..n-1 are the members' first nodes; Twins' extra nodes follow). */
  readonly memberOf: readonly number[];
}

export type NetEvent =
  | { at: number; kind: 'partition'; groups: number[][] }
  | { at: number; kind: 'heal' }
  | { at: number; kind: 'loss'; drop: number; duplicate: number }
  /** From now on every message takes min..max ms; a slow network still counts as stable. */
  | { at: number; kind: 'slow'; min: number; max: number };

/**
 * A structured network fault (ByzzFuzz's round-based faults; Twins' partitions): protocol
 * messages of one round — the view a PRE-PREPARE, PREPARE or COMMIT is in, or a VIEW-CHANGE or
 * NEW-VIEW is for — between nodes in different groups, or of some kinds to some nodes, are held
 * back (delivered late, not lost) or dropped.
 */
export interface RoundFault {
  /** Only messages of this view (messages that belong to no view never match). */
  view?: number;
  /** Only messages of views below this one, and messages that belong to no view (status, requests, catch-up). */
  belowView?: number;
  /** Only these kinds of message. */
  kinds?: readonly WireKind[];
  /** Nodes in different groups miss each other's messages; nodes in no group form one more group. */
  groups?: readonly (readonly number[])[];
  /** Or: only messages to these nodes. */
  to?: readonly number[];
  /** Only messages sent in [from, until) (virtual ms). */
  from: number;
  until: number;
  /** Delivered this long after being sent (ms, longer than the timeouts), or never ('drop'). */
  hold: number | 'drop';
}

/**
 * One crash of a member that comes back. With `window` 0 it crashes at `at`; otherwise it is
 * *armed* at `at` and crashes right after the first step of its own that leaves a send waiting for
 * a write to complete (the window between persist and send), or at `at + window` if none comes.
 * It restarts at `restartAt` from the records that became durable, or from none if `wipe`.
 */
export interface Restart {
  member: number;
  at: number;
  window: number;
  restartAt: number;
  wipe: boolean;
}

/**
 * One member cut off from all the others from `from` until the others' stable checkpoint lies
 * more than a window (L) beyond what it has executed — so it must catch up by state transfer —
 * or at the latest until `until`.
 */
export interface LongPartition {
  member: number;
  from: number;
  until: number;
}

/** Requests per member (every member, faulty ones too), made between `start` (default 0) and `window` ms. */
export interface Workload {
  min: number;
  max: number;
  window?: number;
  start?: number;
}

export interface Plan {
  /** member → registered strategy name. */
  adversaries: Map<number, string>;
  /** member → virtual time of its crash (it never restarts). */
  crashes: Map<number, number>;
  /** Crashes that restart, in time order per member (episodes of one member never overlap). */
  restarts: Restart[];
  link: Partial<LinkModel>;
  /** The network's schedule, once the nodes are known. */
  network(layout: Layout): NetEvent[];
  /** Structured faults by round, once the nodes are known. */
  rounds?(layout: Layout): RoundFault[];
  longPartition?: LongPartition;
  /** A heavier workload than the default one or two requests per member. */
  workload?: Workload;
  /**
   * The run may end before `stableAt` once every request has executed everywhere and the proofs
   * agree: only for plans whose faults act on protocol messages alone (and so stop mattering
   * once nothing is pending).
   */
  endsWhenQuiet?: boolean;
  /** Timeouts for this scenario's replicas, if not the defaults (a run's own `timing` comes on top). */
  timing?: Partial<Timing>;
  /**
   * How long a correct member's request may take (virtual ms; default LIVENESS_BOUND_MS): a
   * network that is slow for good gets a bound that grows with its delay.
   */
  livenessBound?: number;
  /**
   * Member `member` crashes for good `delay` ms after the wiped member `wiped` signs again (its
   * amnesia ends) — never before, so the two are never faulty at once; if the amnesia never ends
   * within the run, it never crashes.
   */
  lateCrash?: { member: number; wiped: number; delay: number };
}

export interface ScenarioContext {
  readonly rng: Prng;
  readonly n: number;
  readonly f: number;
  /**
   * How many runs of this scenario came before this one in the seed's cycle (`--faults` cycles
   * its names by seed): scenarios that enumerate their cases take them in this order.
   */
  readonly turn: number;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  plan(ctx: ScenarioContext): Plan;
}

const quiet = (): NetEvent[] => [];

/**
 * Members a plan makes faulty at the same time at some point: adversaries, crashes, restarts and
 * the wiped (a late crash comes only once the wiped member is correct again).
 */
export function faultyMembers(plan: Plan): Set<number> {
  return new Set([...plan.adversaries.keys(), ...plan.crashes.keys(), ...plan.restarts.map((r) => r.member)]);
}

/** Distinct members, including the first primary (member 0) about half the time. */
function pickMembers(rng: Prng, n: number, count: number): number[] {
  const others = rng.shuffle([...Array(n).keys()].filter((m) => m !== 0));
  const chosen = rng.chance(0.5) ? [0, ...others] : others;
  return chosen.slice(0, count).sort((a, b) => a - b);
}

/**
 * One to two partition episodes inside the fault window, each healed before the next. Nodes
 * that speak for one member (Twins) are always put on different sides.
 */
function partitionEpisodes(rng: Prng, layout: Layout, maxEpisodes: number): NetEvent[] {
  const events: NetEvent[] = [];
  let t = rng.int(0, 800);
  const episodes = rng.int(1, maxEpisodes);
  for (let e = 0; e < episodes && t < FAULT_WINDOW_MS; e++) {
    const groups = randomGroups(rng, layout);
    const length = rng.chance(0.2) ? rng.int(2000, 6000) : rng.int(100, 2000);
    events.push({ at: t, kind: 'partition', groups }, { at: t + length, kind: 'heal' });
    t += length + rng.int(50, 1500);
  }
  return events;
}

function randomGroups(rng: Prng, layout: Layout): number[][] {
  const count = rng.chance(0.25) ? 3 : 2;
  const groups: number[][] = Array.from({ length: count }, () => []);
  const byMember = new Map<number, number[]>();
  layout.memberOf.forEach((m, node) => byMember.set(m, [...(byMember.get(m) ?? []), node]));
  for (const nodes of byMember.values()) {
    if (nodes.length > 1) {
      // Twins: spread over the groups so each side sees a different copy.
      const order = rng.shuffle([...Array(count).keys()]);
      nodes.forEach((node, i) => groups[order[i % count] as number]!.push(node));
    } else {
      groups[rng.int(0, count - 1)]!.push(nodes[0] as number);
    }
  }
  return groups.filter((g) => g.length > 0).map((g) => g.sort((a, b) => a - b));
}

/**
 * `count` crash-and-restart episodes of one member, one after another from about `start`: each
 * crashes at a random time or, half the time, armed to crash between a persist and its send; it
 * stays down for 0–1.5 s (a quarter of the time it comes straight back). `wipeLast`: the last
 * episode loses every record.
 */
function restartEpisodes(rng: Prng, member: number, start: number, count: number, wipeLast = false): Restart[] {
  const out: Restart[] = [];
  let t = start;
  for (let k = 0; k < count; k++) {
    const at = t + rng.int(0, 1200);
    const window = rng.chance(0.5) ? ARMED_CRASH_WINDOW_MS : 0;
    const down = rng.chance(0.25) ? 0 : rng.int(1, 1500);
    const restartAt = at + window + down;
    out.push({ member, at, window, restartAt, wipe: wipeLast && k === count - 1 });
    t = restartAt + rng.int(50, 800);
  }
  return out;
}

/** Heavy enough that the stable checkpoint moves well past a window (L = 16) during a run. */
function heavyWorkload(n: number): Workload {
  return n === 4 ? { min: 8, max: 15 } : { min: 4, max: 9 };
}

/** Sometimes a little loss and duplication for the first seconds. */
function maybeLossy(rng: Prng, p: number): { link: Partial<LinkModel>; events: NetEvent[] } {
  if (!rng.chance(p)) return { link: {}, events: [] };
  return { link: { drop: rng.int(1, 8) / 100, duplicate: rng.int(1, 8) / 100 }, events: [{ at: rng.int(1000, FAULT_WINDOW_MS), kind: 'loss', drop: 0, duplicate: 0 }] };
}

function longPartition(rng: Prng, member: number): LongPartition {
  const from = rng.int(0, 300);
  return { member, from, until: from + LONG_PARTITION_MAX_MS };
}

const builtIn: Scenario[] = [
  {
    name: 'none',
    description: 'no faults: every member honest, the network only delays and reorders',
    plan: () => ({ adversaries: new Map(), crashes: new Map(), restarts: [], link: {}, network: quiet }),
  },
  {
    name: 'crash',
    description: '1..f members crash at a random time (the first primary about half the time) and stay down',
    plan: ({ rng, n, f }) => {
      const crashes = new Map<number, number>();
      for (const m of pickMembers(rng, n, rng.int(1, f))) crashes.set(m, rng.int(0, FAULT_WINDOW_MS));
      return { adversaries: new Map(), crashes, restarts: [], link: {}, network: quiet };
    },
  },
  {
    name: 'partition',
    description: 'all honest; the network splits into 2 or 3 groups once or twice, then heals',
    plan: ({ rng }) => {
      const net = rng.fork('partition');
      return { adversaries: new Map(), crashes: new Map(), restarts: [], link: {}, network: (layout) => partitionEpisodes(net, layout, 2) };
    },
  },
  {
    name: 'lossy',
    description: 'all honest; messages are lost and duplicated, heavily for a while, sometimes lightly for good',
    plan: ({ rng }) => {
      const drop = rng.int(5, 25) / 100;
      const duplicate = rng.int(2, 15) / 100;
      const until = rng.int(1000, FAULT_WINDOW_MS + 3000);
      const after = rng.chance(0.5) ? { drop: rng.int(1, 5) / 100, duplicate: rng.int(0, 5) / 100 } : { drop: 0, duplicate: 0 };
      return {
        adversaries: new Map(),
        crashes: new Map(),
        restarts: [],
        link: { drop, duplicate, longChance: 0.03 },
        network: () => [{ at: until, kind: 'loss', ...after }],
      };
    },
  },
  {
    name: 'restart',
    description: '1..f honest members crash (at any step, half the time between a persist and its send) and restart from their durable records, one to three times',
    plan: ({ rng, n, f }) => {
      const restarts: Restart[] = [];
      for (const m of pickMembers(rng, n, rng.int(1, f))) restarts.push(...restartEpisodes(rng, m, rng.int(0, 800), rng.int(1, 3)));
      const workload = rng.chance(0.3) ? { min: 3, max: 6 } : undefined;
      const lossy = maybeLossy(rng, 0.2);
      const partitioned = rng.chance(0.2);
      const net = rng.fork('network');
      return {
        adversaries: new Map(), crashes: new Map(), restarts, link: lossy.link, ...(workload ? { workload } : {}),
        network: (layout) => [...(partitioned ? partitionEpisodes(net, layout, 1) : []), ...lossy.events],
      };
    },
  },
  {
    name: 'wipe',
    description: 'an honest member restarts with every record lost (amnesia: it must sign no prepare, commit, view-change until a window past its agreed recovery request); half the time it restarts from its records while it recovers, and sometimes it is wiped again; with f >= 2 another restarts normally',
    plan: ({ rng, n, f }) => {
      const [wiped, other] = pickMembers(rng, n, Math.min(f, 2));
      const restarts = restartEpisodes(rng, wiped!, rng.int(0, 1000), rng.int(1, 2), true);
      // Half the time it restarts from its records while it recovers (asking or waiting), and
      // sometimes it is wiped again after that.
      if (rng.chance(0.5)) {
        restarts.push(...restartEpisodes(rng, wiped!, restarts.at(-1)!.restartAt + rng.int(200, 4000), 1));
        if (rng.chance(0.4)) restarts.push(...restartEpisodes(rng, wiped!, restarts.at(-1)!.restartAt + rng.int(200, 4000), 1, true));
      }
      if (other !== undefined && rng.chance(0.5)) restarts.push(...restartEpisodes(rng, other, rng.int(0, 1500), rng.int(1, 2)));
      // Often enough requests, for long enough, that the stable checkpoint passes the wiped
      // member's horizon (a window beyond what it heard of while it learned, for primarySilence
      // after its restart) and it signs again within the run.
      const workload = rng.chance(0.5) ? (n === 4 ? { min: 12, max: 18, window: 14_000 } : { min: 6, max: 10, window: 14_000 }) : undefined;
      const lossy = maybeLossy(rng, 0.2);
      return { adversaries: new Map(), crashes: new Map(), restarts, link: lossy.link, ...(workload ? { workload } : {}), network: () => lossy.events };
    },
  },
  {
    name: 'wipe-revote',
    description: 'a backup cut off long enough to vote for view 1 alone is wiped; once its amnesia ends the primary crashes and the room must change view without it voting twice for view 1',
    plan: ({ rng, n }) => {
      const wiped = rng.pick([...Array(n).keys()].filter((m) => m !== 0));
      const isolated = rng.int(0, 300);
      const healed = rng.int(6500, 8000);
      const at = healed + rng.int(200, 1000);
      const restarts: Restart[] = [{ member: wiped, at, window: 0, restartAt: at + rng.int(200, 800), wipe: true }];
      const workload = n === 4 ? { min: 20, max: 28, window: 30_000 } : { min: 10, max: 14, window: 30_000 };
      return {
        adversaries: new Map(), crashes: new Map(), restarts, link: {}, workload,
        network: (layout) => [
          { at: isolated, kind: 'partition', groups: [[wiped], layout.memberOf.map((_, x) => x).filter((x) => x !== wiped)] },
          { at: healed, kind: 'heal' },
        ],
        lateCrash: { member: 0, wiped, delay: rng.int(500, 3000) },
      };
    },
  },
  {
    name: 'long-partition',
    description: 'one honest member is cut off while the others decide past garbage collection (30-60 requests), then heals and must catch up by state transfer; with f >= 2 another member sometimes restarts',
    plan: ({ rng, n, f }) => {
      const [away, other] = pickMembers(rng, n, Math.min(f, 2));
      const restarts = other !== undefined && rng.chance(0.4) ? restartEpisodes(rng, other, rng.int(0, 2000), rng.int(1, 2)) : [];
      return {
        adversaries: new Map(), crashes: new Map(), restarts, link: {}, network: quiet,
        longPartition: longPartition(rng, away!), workload: heavyWorkload(n),
      };
    },
  },
  {
    name: 'lying-state',
    description: '1..f members answer state-transfer and catch-up requests with lies while another member, cut off by a long partition, must fetch the state it missed',
    plan: ({ rng, n, f }) => {
      const liars = pickMembers(rng, n, rng.int(1, f));
      const adversaries = new Map(liars.map((m) => [m, 'lying-state'] as const));
      const away = rng.pick([...Array(n).keys()].filter((m) => !adversaries.has(m)));
      return { adversaries, crashes: new Map(), restarts: [], link: {}, network: quiet, longPartition: longPartition(rng, away), workload: heavyWorkload(n) };
    },
  },
];

/** Held messages arrive this late (ms): later than the request and view-change timeouts (4 s). */
const HOLD_MS: readonly [number, number] = [4500, 10_000];

/** Some members, as node ids (every node of each, for Twins), at least one. */
function someNodes(rng: Prng, layout: Layout, max: number): number[] {
  const members = rng.shuffle([...Array(layout.n).keys()]).slice(0, rng.int(1, max));
  return layout.memberOf.flatMap((m, x) => (members.includes(m) ? [x] : []));
}

/**
 * ByzzFuzz's round-based network faults: for some of the first views, a partition drawn from a
 * small set (2 or 3 groups) applies to that view's messages — all of them, or one phase — and
 * what crosses it arrives late, after the timeouts, instead of not at all.
 */
function roundPartitions(rng: Prng, layout: Layout, views: number, until: number): RoundFault[] {
  const out: RoundFault[] = [];
  for (let view = 0; view < views; view++) {
    if (!rng.chance(0.7)) continue;
    const phase = rng.int(0, 4);
    const kinds = phase === 0 ? undefined : phase === 1 ? (['pre-prepare'] as const) : phase === 2 ? (['prepare'] as const)
      : phase === 3 ? (['commit'] as const) : (['view-change', 'new-view'] as const);
    out.push({ view, ...(kinds ? { kinds } : {}), groups: randomGroups(rng, layout), from: 0, until, hold: rng.int(HOLD_MS[0], HOLD_MS[1]) });
  }
  return out;
}

/**
 * Targeted holds: every message of one kind (for one view, or any) to a few members is held
 * back for longer than the timeouts during a window, then delivered.
 */
function targetedHolds(rng: Prng, layout: Layout, count: number, window: readonly [number, number]): RoundFault[] {
  const out: RoundFault[] = [];
  for (let k = 0; k < count; k++) {
    const from = rng.int(window[0], window[1]);
    const kind = rng.pick(VOTING_KINDS);
    const view = rng.chance(0.5) ? rng.int(0, 3) : undefined;
    out.push({
      ...(view === undefined ? {} : { view }), kinds: [kind], to: someNodes(rng, layout, layout.f + 1),
      from, until: from + rng.int(2000, 12_000), hold: rng.int(HOLD_MS[0], HOLD_MS[1]),
    });
  }
  return out;
}

/** The nodes of the given members (both nodes of a Twin). */
function nodesOf(layout: Layout, members: readonly number[]): number[] {
  return layout.memberOf.flatMap((m, x) => (members.includes(m) ? [x] : []));
}

/** Subsets of `items`, the largest first. */
function subsetsLargestFirst(items: readonly number[]): number[][] {
  const all = Array.from({ length: 2 ** items.length }, (_, mask) => items.filter((_, i) => mask & (1 << i)));
  return all.sort((a, b) => b.length - a.length || a.join().localeCompare(b.join()));
}

/**
 * Which members get NEW-VIEW(1) late, which get VIEW-CHANGE(2) late, and which one hears
 * nothing below view 2 (no request, status or catch-up either) but late. At n = 4 every combination is enumerated by turn, the
 * most adversarial first (more members held back); larger rooms draw one.
 */
export function holdPattern(n: number, turn: number, rng: Prng): { newViewLate: number[]; viewChangeLate: number[]; cutOff: number | null } {
  const members = [...Array(n).keys()];
  // The primary of view 1 sends NEW-VIEW(1); it does not receive it.
  const receivers = members.filter((m) => m !== 1 % n);
  if (n !== 4) {
    const some = (list: number[]) => rng.shuffle([...list]).slice(0, rng.int(0, list.length));
    return { newViewLate: some(receivers).sort(), viewChangeLate: some(members).sort(), cutOff: rng.chance(0.7) ? rng.pick(members) : null };
  }
  const viewChange = subsetsLargestFirst(members);
  const newView = subsetsLargestFirst(receivers);
  const cutOffs: (number | null)[] = [...members, null];
  const k = turn % (viewChange.length * newView.length * cutOffs.length);
  return {
    viewChangeLate: viewChange[Math.floor(k / (newView.length * cutOffs.length))]!,
    newViewLate: newView[Math.floor(k / cutOffs.length) % newView.length]!,
    cutOff: cutOffs[k % cutOffs.length]!,
  };
}

/** The first primary cut off from the others long enough for them to change view without it. */
function primaryCutOff(rng: Prng, layout: Layout, at: number): NetEvent[] {
  const primary = layout.memberOf.flatMap((m, x) => (m === 0 ? [x] : []));
  const others = layout.memberOf.map((_, x) => x).filter((x) => !primary.includes(x));
  return [{ at, kind: 'partition', groups: [primary, others] }, { at: at + rng.int(6500, 9000), kind: 'heal' }];
}

/**
 * Twins runs use short timeouts, so that four views go by quickly (a delay is 1-30 ms), and
 * their splits last this long (virtual ms); then the network is whole and every view is free.
 */
export const TWINS_TIMING: Partial<Timing> = { requestTimeout: 1000, viewChangeTimeout: 1000, primarySilence: 1500, heartbeatInterval: 400, retransmitInterval: 500 };
export const TWINS_UNTIL_MS = 12_000;

const structured: Scenario[] = [
  {
    name: 'forgetful-backup',
    description: 'member 2 forgets, in its VIEW-CHANGEs, what it prepared; pre-prepares reach member 1 late, prepares reach the primary late, and neither hears what member 3 decided, so a slot may prepare only at member 3 and the liar before the others change view',
    plan: ({ rng, n }) => {
      const net = rng.fork('forgetful-backup');
      const adversaries = new Map<number, string>(getAdversary('forgetful') ? [[2, 'forgetful']] : []);
      const until = net.int(3000, 8000);
      return {
        adversaries, crashes: new Map(), restarts: [], link: {},
        workload: n === 4 ? { min: 1, max: 3, window: 3000 } : { min: 1, max: 2, window: 3000 },
        network: quiet,
        rounds: (layout) => [
          { view: 0, kinds: ['pre-prepare'], to: nodesOf(layout, [1]), from: 0, until, hold: net.int(HOLD_MS[0], 14_000) },
          { view: 0, kinds: ['prepare'], to: nodesOf(layout, [0]), from: 0, until, hold: net.int(HOLD_MS[0], 14_000) },
          // Nor do they learn from member 3 what it decided: their requests time out, and they
          // change view with the liar, whose vote leaves out what it vouched for.
          { belowView: 1, kinds: ['commit', 'committed', 'status', 'checkpoint', 'state'], to: nodesOf(layout, [0, 1]), from: 0, until, hold: net.int(HOLD_MS[0], 14_000) },
        ],
      };
    },
  },
  {
    name: 'twins-enum',
    description: 'Twins, enumerated (n = 4): member 0 runs two replicas with one key, and in each of views 0-3 the five nodes are split into at most three groups; the messages of that view between groups are lost. Turn k runs schedule k (src/sim/twins.ts); larger rooms draw splits',
    plan: ({ rng, n, turn }) => {
      const net = rng.fork('twins-enum');
      const adversaries = new Map<number, string>(getAdversary('twins') ? [[0, 'twins']] : []);
      return {
        adversaries, crashes: new Map(), restarts: [], link: {}, network: quiet, timing: TWINS_TIMING, endsWhenQuiet: true,
        // Requests keep coming while the splits last, so that later views have work to disagree on.
        workload: { min: 2, max: 4, window: TWINS_UNTIL_MS - 2000 },
        rounds: (layout) => {
          const splits = n === 4 && layout.memberOf.length === 5 ? twinsSchedule(turn) : Array.from({ length: 4 }, () => randomGroups(net, layout));
          return splits.map((groups, view) => ({ view, groups, from: 0, until: TWINS_UNTIL_MS, hold: 'drop' as const }));
        },
      };
    },
  },
  {
    name: 'liar-new-view',
    description: 'the first primary is cut off while its commits (and catching up) reach one honest backup late; the next primary is a liar that changes what it signs (its NEW-VIEW above all)',
    plan: ({ rng, n }) => {
      const net = rng.fork('liar-new-view');
      const cut = net.int(800, 2500);
      const adversaries = new Map<number, string>(getAdversary('mutate') ? [[1 % n, 'mutate']] : []);
      return {
        adversaries, crashes: new Map(), restarts: [], link: {},
        workload: n === 4 ? { min: 2, max: 4, window: 6000 } : { min: 1, max: 3, window: 6000 },
        network: (layout) => primaryCutOff(net, layout, cut),
        // One honest backup hears view 0's commits, and how to catch up, late: when the next
        // view starts it has not executed what the others have.
        rounds: (layout) => [{
          kinds: ['commit', 'status', 'committed', 'state', 'checkpoint'], to: nodesOf(layout, [net.int(2, layout.n - 1)]),
          belowView: 1, from: 0, until: cut + 7000, hold: net.int(HOLD_MS[0], HOLD_MS[1]),
        }],
      };
    },
  },
  {
    name: 'rounds',
    description: 'round-based partitions (ByzzFuzz): in some of the first views, messages of that view (or one phase of it) between groups arrive late, after the timeouts; sometimes a member mutates what it signs',
    plan: ({ rng, n, f }) => {
      const net = rng.fork('rounds');
      const views = rng.int(2, 5);
      const until = rng.int(10_000, 25_000);
      const cut = rng.chance(0.5) ? rng.int(0, 1500) : null;
      const adversaries = new Map<number, string>();
      // Half the time the liar is the primary of view 1, where a NEW-VIEW is its to build.
      if (getAdversary('mutate') && rng.chance(0.4)) adversaries.set(rng.chance(0.5) ? 1 : pickMembers(rng, n, 1)[0]!, 'mutate');
      void f;
      return {
        adversaries, crashes: new Map(), restarts: [], link: {},
        workload: n === 4 ? { min: 2, max: 5, window: 12_000 } : { min: 1, max: 3, window: 12_000 },
        network: (layout) => (cut === null ? [] : primaryCutOff(net, layout, cut)),
        rounds: (layout) => roundPartitions(net, layout, views, until),
      };
    },
  },
  {
    name: 'holds',
    description: 'targeted holds around a view change, enumerated: the first primary is cut off from a quiet room; NEW-VIEW(1) reaches some members late, VIEW-CHANGE(2) reaches some late, and one member hears nothing below view 2 for a while; then requests come',
    plan: ({ rng, n, turn }) => {
      const net = rng.fork('holds');
      const pattern = holdPattern(n, turn, net);
      const cut = net.int(0, 500);
      const heal = cut + net.int(6500, 9000);
      const late = (): number => net.int(HOLD_MS[0], HOLD_MS[1]);
      const [lateNewView, lateViewChange, lateBelow] = [late(), late(), late()];
      const until = cut + 30_000;
      return {
        adversaries: new Map(), crashes: new Map(), restarts: [], link: {},
        // Quiet while the room changes view (as in the review's schedule), then requests.
        workload: n === 4 ? { min: 1, max: 3, start: heal, window: cut + 25_000 } : { min: 1, max: 2, start: heal, window: cut + 25_000 },
        network: (layout) => primaryCutOff(net, layout, cut).map((e) => (e.kind === 'heal' ? { ...e, at: heal } : e)),
        rounds: (layout) => {
          const faults: RoundFault[] = [];
          if (pattern.newViewLate.length > 0) faults.push({ view: 1, kinds: ['new-view'], to: nodesOf(layout, pattern.newViewLate), from: cut, until, hold: lateNewView });
          if (pattern.viewChangeLate.length > 0) faults.push({ view: 2, kinds: ['view-change'], to: nodesOf(layout, pattern.viewChangeLate), from: cut, until, hold: lateViewChange });
          if (pattern.cutOff !== null) faults.push({ belowView: 2, to: nodesOf(layout, [pattern.cutOff]), from: heal, until, hold: lateBelow });
          return faults;
        },
      };
    },
  },
  {
    name: 'long',
    description: 'a long run (requests for 40 s) with faults throughout, not only at the start: partitions, targeted holds, loss, and one member crashing and restarting from its records',
    plan: ({ rng, n, f }) => {
      const net = rng.fork('long');
      const restarts = rng.chance(0.5) ? restartEpisodes(rng, pickMembers(rng, n, 1)[0]!, rng.int(3000, 30_000), rng.int(1, 2)) : [];
      void f;
      return {
        adversaries: new Map(), crashes: new Map(), restarts, link: {},
        workload: n === 4 ? { min: 3, max: 8, window: 40_000 } : { min: 2, max: 4, window: 40_000 },
        network: (layout) => {
          const events: NetEvent[] = [];
          for (let k = net.int(1, 3); k > 0; k--) {
            const at = net.int(3000, 35_000);
            events.push({ at, kind: 'partition', groups: randomGroups(net, layout) }, { at: at + net.int(500, 6000), kind: 'heal' });
          }
          // Keep episodes apart: a heal lifts every partition.
          events.sort((a, b) => a.at - b.at);
          const tidy: NetEvent[] = [];
          let open = false;
          for (const e of events) {
            if (e.kind === 'partition' && open) continue;
            if (e.kind === 'heal' && !open) continue;
            open = e.kind === 'partition';
            tidy.push(e);
          }
          if (net.chance(0.3)) {
            const at = net.int(5000, 30_000);
            tidy.push({ at, kind: 'loss', drop: net.int(5, 20) / 100, duplicate: net.int(0, 5) / 100 }, { at: at + net.int(1000, 5000), kind: 'loss', drop: 0, duplicate: 0 });
          }
          return tidy;
        },
        rounds: (layout) => targetedHolds(net, layout, net.int(1, 3), [3000, 35_000]),
      };
    },
  },
  {
    name: 'slow-network',
    description: 'after the first seconds every message takes 2.5-3.5 s for good: even two message delays take longer than the first timeouts, and only doubling them lets requests execute',
    plan: ({ rng, n }) => {
      const at = rng.int(500, 2000);
      return {
        adversaries: new Map(), crashes: new Map(), restarts: [], link: {},
        workload: n === 4 ? { min: 1, max: 2, window: at + 8000 } : { min: 0, max: 2, window: at + 8000 },
        network: () => [{ at, kind: 'slow', min: 2500, max: 3500 }],
        // One decision takes four message delays plus a view change or two while the timers
        // grow; a member's requests go one after another.
        livenessBound: 240_000,
      };
    },
  },
];

/** A scenario for a registered strategy: 1..f members run it; sometimes the network misbehaves too. */
function adversaryScenario(name: string): Scenario {
  return {
    name,
    description: getAdversary(name)?.description ?? name,
    plan: ({ rng, n, f }) => {
      const adversaries = new Map<number, string>();
      for (const m of pickMembers(rng, n, rng.int(1, f))) adversaries.set(m, name);
      const net = rng.fork('network');
      const lossy = rng.chance(0.2);
      const link: Partial<LinkModel> = lossy ? { drop: rng.int(1, 10) / 100, duplicate: rng.int(1, 10) / 100 } : {};
      const lossEnd = rng.int(1000, FAULT_WINDOW_MS);
      const partitioned = rng.chance(0.3);
      return {
        adversaries,
        crashes: new Map(),
        restarts: [],
        link,
        network: (layout) => {
          // Twins get split by a partition most of the time: that is where they do harm.
          const hasTwins = layout.memberOf.length > layout.n;
          const events = partitioned || (hasTwins && net.chance(0.7)) ? partitionEpisodes(net, layout, 2) : [];
          if (lossy) events.push({ at: lossEnd, kind: 'loss', drop: 0, duplicate: 0 });
          return events;
        },
      };
    },
  };
}

/**
 * Several faults at once: one member runs a strategy picked from the registry (a quarter of the
 * time it also crashes and restarts from its records, wrapped again), with f >= 2 another member
 * crashes for good, restarts from its records or restarts wiped; the network partitions and,
 * half the time, loses and duplicates messages.
 */
const mixed: Scenario = {
  name: 'mixed',
  description: 'a registered strategy (sometimes restarting), with f >= 2 a crash, restart or wipe, partitions and loss, all in one run',
  plan: ({ rng, n, f }) => {
    const names = adversaryNames();
    const [bad, second] = pickMembers(rng, n, Math.min(f, 2));
    const adversaries = new Map<number, string>();
    const restarts: Restart[] = [];
    if (bad !== undefined && names.length > 0) {
      const strategy = rng.pick(names);
      adversaries.set(bad, strategy);
      if (strategy !== 'twins' && rng.chance(0.25)) restarts.push(...restartEpisodes(rng, bad, rng.int(0, 1500), 1));
    }
    const crashes = new Map<number, number>();
    if (second !== undefined) {
      const how = rng.int(0, 2);
      if (how === 0) crashes.set(second, rng.int(0, FAULT_WINDOW_MS));
      else restarts.push(...restartEpisodes(rng, second, rng.int(0, 1500), rng.int(1, 2), how === 2));
    }
    const lossy = rng.chance(0.5);
    const link: Partial<LinkModel> = lossy ? { drop: rng.int(2, 15) / 100, duplicate: rng.int(1, 10) / 100 } : {};
    const lossEnd = rng.int(1000, FAULT_WINDOW_MS + 2000);
    const net = rng.fork('network');
    return {
      adversaries,
      crashes,
      restarts,
      link,
      network: (layout) => {
        const events = partitionEpisodes(net, layout, 2);
        if (lossy) events.push({ at: lossEnd, kind: 'loss', drop: 0, duplicate: 0 });
        return events;
      },
    };
  },
};

/** Every scenario name `--faults` accepts, in the order `--faults all` cycles through. */
export function scenarioNames(): string[] {
  const names = [...builtIn, ...structured].map((s) => s.name);
  for (const a of adversaryNames()) if (!names.includes(a) && a !== mixed.name) names.push(a);
  names.push(mixed.name);
  return names;
}

export function scenarioByName(name: string): Scenario | undefined {
  if (name === mixed.name) return mixed;
  return [...builtIn, ...structured].find((s) => s.name === name) ?? (getAdversary(name) ? adversaryScenario(name) : undefined);
}

/**
 * The scenario a seed runs — a fixed name, or one of a comma list or of 'all', cycled by seed —
 * and its turn: how many seeds before it ran the same scenario in that cycle.
 */
export function scenarioFor(faults: string, seed: number): { scenario: Scenario; turn: number } {
  const names = faults === 'all' ? scenarioNames() : faults.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new Error('no fault scenario named');
  const name = names[seed % names.length] as string;
  const scenario = scenarioByName(name);
  if (!scenario) throw new Error(`unknown fault scenario "${name}"; known: ${scenarioNames().join(', ')}`);
  return { scenario, turn: Math.floor(seed / names.length) };
}
