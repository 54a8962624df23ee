// Adversary strategies, by name. A strategy builds the node(s) for one faulty member; returning
// several nodes makes them Twins (all speak for that member with its key and all receive what is
// addressed to it). Registered names join the built-in fault scenarios: `--faults <name>` makes
// one to f members run the strategy, and `--faults all` cycles through every name by seed.
import type { Roster } from '../core/messages.ts';
import type { Replica } from '../core/replica.ts';
import type { CryptoSuite } from '../core/suite.ts';
import type { NodeConfig, SimNode } from './node.ts';
import type { Prng } from './prng.ts';

export interface AdversaryContext {
  /** The faulty member this strategy plays. */
  readonly member: number;
  readonly n: number;
  readonly f: number;
  readonly roster: Roster;
  readonly suite: CryptoSuite;
  /** This member's own secret key (and no one else's: forging must fail). */
  readonly secretKey: Uint8Array;
  /** What an honest replica for this member would be built from. */
  readonly config: NodeConfig;
  /** A private random stream, so strategies stay deterministic per seed. */
  readonly rng: Prng;
  /** A real (honest) replica for this member, to wrap; `overrides` adjust its config. */
  replica(overrides?: Partial<NodeConfig>): SimNode;
  /**
   * The core's own Replica for this member, for wrappers that need the class itself (the core's
   * adversaries). After a restart it is the replica `Replica.restore` rebuilt from the member's
   * durable records, so a restarted adversary wraps its restored replica the same way.
   */
  core(): Replica;
  /** True when the factory is called again for a member that crashed and restarts. */
  readonly restarting: boolean;
}

export type AdversaryFactory = (ctx: AdversaryContext) => SimNode | SimNode[];

export interface AdversaryEntry {
  readonly name: string;
  readonly description: string;
  readonly factory: AdversaryFactory;
}

const registry = new Map<string, AdversaryEntry>();

const NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * Register a strategy. Registering a name again replaces the earlier entry (so a full strategy
 * can replace a built-in one of the same name, e.g. `twins`).
 */
export function registerAdversary(name: string, factory: AdversaryFactory, description = ''): void {
  if (!NAME.test(name)) throw new Error(`adversary name must be lowercase letters, digits and dashes: ${JSON.stringify(name)}`);
  if (name === 'all') throw new Error('"all" is reserved');
  registry.set(name, { name, description, factory });
}

export function getAdversary(name: string): AdversaryEntry | undefined {
  return registry.get(name);
}

/** Registered names in registration order (which `--faults all` relies on for determinism). */
export function adversaryNames(): string[] {
  return [...registry.keys()];
}
