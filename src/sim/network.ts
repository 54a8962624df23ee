// The virtual network: who can reach whom, and when a message sent now arrives. It knows nodes
// (an index into the simulation's node list) and the member each node speaks for; with Twins two
// nodes speak for one member and both receive what is addressed to it.
//
// Faults it models: random delay (which reorders), occasional long delay, loss, duplication,
// partitions (groups of nodes that cannot reach each other until healed) and crashed nodes
// (which may restart).
import type { Prng } from './prng.ts';

export interface LinkModel {
  /** Uniform delay range for most messages, ms. */
  minDelay: number;
  maxDelay: number;
  /** Chance that a message takes the long path instead, and its range, ms. */
  longChance: number;
  longMin: number;
  longMax: number;
  /** Chance that a message is lost. */
  drop: number;
  /** Chance that a message is delivered twice (each copy with its own delay). */
  duplicate: number;
}

export const DEFAULT_LINK: LinkModel = {
  minDelay: 1,
  maxDelay: 30,
  longChance: 0.01,
  longMin: 100,
  longMax: 1500,
  drop: 0,
  duplicate: 0,
};

export interface NetworkStats {
  /** Point-to-point copies handed to the network (a send to 'all' counts once per recipient node). */
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  blockedByPartition: number;
  toCrashed: number;
}

export interface Delivery {
  node: number;
  at: number;
}

export class VirtualNetwork {
  readonly link: LinkModel;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, blockedByPartition: 0, toCrashed: 0 };
  /** Partition group of every node; all zero when healed. */
  private readonly group: number[];
  private readonly crashed: boolean[];
  private partitioned = false;

  /** `memberOf[node]` is the member that node speaks for. */
  constructor(
    readonly memberOf: readonly number[],
    private readonly rng: Prng,
    link: Partial<LinkModel> = {},
  ) {
    this.link = { ...DEFAULT_LINK, ...link };
    this.group = memberOf.map(() => 0);
    this.crashed = memberOf.map(() => false);
  }

  get nodeCount(): number {
    return this.memberOf.length;
  }

  setLoss(drop: number, duplicate: number): void {
    this.link.drop = drop;
    this.link.duplicate = duplicate;
  }

  /** Every message from now on takes `min`..`max` ms (a slow network is still a fair one). */
  setDelay(min: number, max: number): void {
    this.link.minDelay = min;
    this.link.maxDelay = max;
    this.link.longChance = 0;
  }

  /** Nodes in different groups cannot reach each other; nodes named in no group form one group together. */
  partition(groups: readonly (readonly number[])[]): void {
    this.group.fill(0);
    groups.forEach((nodes, g) => {
      for (const node of nodes) {
        if (node < 0 || node >= this.group.length) throw new RangeError(`no node ${node}`);
        this.group[node] = g + 1;
      }
    });
    this.partitioned = true;
  }

  heal(): void {
    this.group.fill(0);
    this.partitioned = false;
  }

  get isPartitioned(): boolean {
    return this.partitioned;
  }

  crash(node: number): void {
    this.crashed[node] = true;
  }

  /** A crashed node is back (restarted): it sends and receives again. */
  restart(node: number): void {
    this.crashed[node] = false;
  }

  isLive(node: number): boolean {
    return this.crashed[node] === false;
  }

  canReach(from: number, to: number): boolean {
    return this.group[from] === this.group[to];
  }

  /** The nodes a message from `fromNode` to member `to` (or every other member) is meant for. */
  recipients(fromNode: number, to: number | 'all'): number[] {
    const me = this.memberOf[fromNode];
    const out: number[] = [];
    for (let node = 0; node < this.memberOf.length; node++) {
      const m = this.memberOf[node];
      if (to === 'all' ? m !== me : m === to) out.push(node);
    }
    return out;
  }

  /**
   * Decide the fate of one message sent at `now`: for each recipient node, zero, one or two
   * arrival times. A partition or crash at send time blocks it; `deliverable` checks again on arrival.
   */
  route(fromNode: number, to: number | 'all', now: number): Delivery[] {
    const out: Delivery[] = [];
    for (const node of this.recipients(fromNode, to)) {
      this.stats.sent++;
      if (!this.isLive(node)) {
        this.stats.toCrashed++;
        continue;
      }
      if (!this.canReach(fromNode, node)) {
        this.stats.blockedByPartition++;
        continue;
      }
      if (this.rng.chance(this.link.drop)) {
        this.stats.lost++;
        continue;
      }
      out.push({ node, at: now + this.delay() });
      if (this.rng.chance(this.link.duplicate)) {
        this.stats.duplicated++;
        out.push({ node, at: now + this.delay() });
      }
    }
    return out;
  }

  /** Checked when a message arrives: the link may have been cut, or the receiver crashed, in flight. */
  deliverable(fromNode: number, toNode: number): boolean {
    if (!this.isLive(toNode)) {
      this.stats.toCrashed++;
      return false;
    }
    if (!this.canReach(fromNode, toNode)) {
      this.stats.blockedByPartition++;
      return false;
    }
    this.stats.delivered++;
    return true;
  }

  private delay(): number {
    const l = this.link;
    if (this.rng.chance(l.longChance)) return this.rng.int(l.longMin, l.longMax);
    return this.rng.int(l.minDelay, l.maxDelay);
  }
}
