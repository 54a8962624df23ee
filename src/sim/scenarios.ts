// Fault scenarios, selectable by name. A scenario decides, from the seed's random stream, which
// members are faulty and how (crash, or an adversary strategy from the registry), and what the
// network does over time (partitions, heals, loss). The rest of the run — delays, workload —
// is the simulator's. At most f members are ever faulty.
import type { LinkModel } from './network.ts';
import type { Prng } from './prng.ts';
import { adversaryNames, getAdversary } from './registry.ts';

/** Faults start within this much virtual time from the start of a run (ms). */
export const FAULT_WINDOW_MS = 3000;

export interface Layout {
  readonly n: number;
  readonly f: number;
  /** Member of each node (node ids 0..n-1 are the members' first nodes; Twins' extra nodes follow). */
  readonly memberOf: readonly number[];
}

export type NetEvent =
  | { at: number; kind: 'partition'; groups: number[][] }
  | { at: number; kind: 'heal' }
  | { at: number; kind: 'loss'; drop: number; duplicate: number };

export interface Plan {
  /** member → registered strategy name. */
  adversaries: Map<number, string>;
  /** member → virtual time of its crash (it never restarts). */
  crashes: Map<number, number>;
  link: Partial<LinkModel>;
  /** The network's schedule, once the nodes are known. */
  network(layout: Layout): NetEvent[];
}

export interface ScenarioContext {
  readonly rng: Prng;
  readonly n: number;
  readonly f: number;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  plan(ctx: ScenarioContext): Plan;
}

const quiet = (): NetEvent[] => [];

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

const builtIn: Scenario[] = [
  {
    name: 'none',
    description: 'no faults: every member honest, the network only delays and reorders',
    plan: () => ({ adversaries: new Map(), crashes: new Map(), link: {}, network: quiet }),
  },
  {
    name: 'crash',
    description: '1..f members crash at a random time (the first primary about half the time) and stay down',
    plan: ({ rng, n, f }) => {
      const crashes = new Map<number, number>();
      for (const m of pickMembers(rng, n, rng.int(1, f))) crashes.set(m, rng.int(0, FAULT_WINDOW_MS));
      return { adversaries: new Map(), crashes, link: {}, network: quiet };
    },
  },
  {
    name: 'partition',
    description: 'all honest; the network splits into 2 or 3 groups once or twice, then heals',
    plan: ({ rng }) => {
      const net = rng.fork('partition');
      return { adversaries: new Map(), crashes: new Map(), link: {}, network: (layout) => partitionEpisodes(net, layout, 2) };
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
        link: { drop, duplicate, longChance: 0.03 },
        network: () => [{ at: until, kind: 'loss', ...after }],
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
 * Several faults at once: one member runs a strategy picked from the registry, with f >= 2 another
 * crashes, the network partitions and, half the time, loses and duplicates messages.
 */
const mixed: Scenario = {
  name: 'mixed',
  description: 'a registered strategy, a crash when f >= 2, partitions and loss, all in one run',
  plan: ({ rng, n, f }) => {
    const names = adversaryNames();
    const [bad, crashed] = pickMembers(rng, n, Math.min(f, 2));
    const adversaries = new Map<number, string>();
    if (bad !== undefined && names.length > 0) adversaries.set(bad, rng.pick(names));
    const crashes = new Map<number, number>();
    if (crashed !== undefined) crashes.set(crashed, rng.int(0, FAULT_WINDOW_MS));
    const lossy = rng.chance(0.5);
    const link: Partial<LinkModel> = lossy ? { drop: rng.int(2, 15) / 100, duplicate: rng.int(1, 10) / 100 } : {};
    const lossEnd = rng.int(1000, FAULT_WINDOW_MS + 2000);
    const net = rng.fork('network');
    return {
      adversaries,
      crashes,
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
  const names = builtIn.map((s) => s.name);
  for (const a of adversaryNames()) if (!names.includes(a) && a !== mixed.name) names.push(a);
  names.push(mixed.name);
  return names;
}

export function scenarioByName(name: string): Scenario | undefined {
  if (name === mixed.name) return mixed;
  return builtIn.find((s) => s.name === name) ?? (getAdversary(name) ? adversaryScenario(name) : undefined);
}

/** The scenario a seed runs: a fixed name, or for 'all' the seed's turn in the cycle. */
export function scenarioFor(faults: string, seed: number): Scenario {
  const names = faults === 'all' ? scenarioNames() : faults.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new Error('no fault scenario named');
  const name = names[seed % names.length] as string;
  const scenario = scenarioByName(name);
  if (!scenario) throw new Error(`unknown fault scenario "${name}"; known: ${scenarioNames().join(', ')}`);
  return scenario;
}
