// A tiny deterministic cluster for scripted tests, in the spirit of etcd raft's interaction tests:
// messages wait in one FIFO queue until the script delivers them, optionally filtered.
import { generateKeyPair, ed25519Suite } from '../crypto/ed25519.ts';
import type { Effect, ReplicaLike } from './effects.ts';
import type { LunchOp } from './lunch.ts';
import { RECOVERY_NONCE_BYTES, bodyBytes, decodeWire, slotKey, type Roster, type Signed, type Wire, type WireKind } from './messages.ts';
import { Replica, type Timing } from './replica.ts';
import { InsecureSimulationSuite, type CryptoSuite } from './suite.ts';

/** A member's node in the cluster: the replica, or an adversary wrapping it. */
export interface Node extends ReplicaLike {
  readonly me: number;
}

/** A message on its way: sent by `from`, not yet delivered to `to`. */
export interface InFlight {
  from: number;
  to: number;
  type: WireKind | 'garbage';
  bytes: Uint8Array;
}

/** A member of the test roster and its secret key. */
export interface Member {
  index: number;
  secretKey: Uint8Array;
}

/** A roster of n members with real Ed25519 keys (`real`) or the simulator's stand-in, and their keys. */
export function makeRoster(n: number, real: boolean, room = 'test-room'): { roster: Roster; suite: CryptoSuite; members: Member[] } {
  const sim = new InsecureSimulationSuite();
  const pairs = Array.from({ length: n }, (_, i) => (real ? generateKeyPair() : sim.keyPair(`${room}/${i}`)));
  return {
    roster: { room, keys: pairs.map((p) => p.publicKey) },
    suite: real ? ed25519Suite : sim,
    members: pairs.map((p, index) => ({ index, secretKey: p.secretKey })),
  };
}

/**
 * n members in one process: what they send waits in `queue` until the test delivers it, time
 * moves only when the test runs it, and every effect is kept in `effects` for the test to read.
 */
export class Cluster {
  readonly queue: InFlight[] = [];
  readonly effects: { at: number; effect: Effect }[] = [];
  readonly sent = new Map<WireKind | 'garbage', number>();
  now = 0;
  nodes: Node[];
  readonly roster: Roster;
  readonly suite: CryptoSuite;
  readonly members: Member[];
  /** Members whose traffic is dropped in both directions. */
  readonly down = new Set<number>();
  /** Messages held back by `runHolding` until `release` puts them back in the queue. */
  readonly held: InFlight[] = [];
  /** Write-ahead records each member has made durable, in order. */
  readonly records: unknown[][];
  private restarts = 0;
  private readonly timing: Partial<Timing> | undefined;

  constructor(n: number, options: { real?: boolean; timing?: Partial<Timing>; wrap?: (replica: Replica, member: Member, c: Cluster) => Node } = {}) {
    const { roster, suite, members } = makeRoster(n, options.real ?? false);
    this.roster = roster;
    this.suite = suite;
    this.members = members;
    this.timing = options.timing;
    this.records = members.map(() => []);
    this.nodes = members.map((m) => {
      const replica = new Replica({ roster, me: m.index, secretKey: m.secretKey, suite, timing: options.timing });
      return options.wrap ? options.wrap(replica, m, this) : replica;
    });
  }

  collect(from: number, effects: Effect[]): void {
    for (const effect of effects) {
      this.effects.push({ at: from, effect });
      if (effect.kind === 'persist') this.records[from]!.push(effect.record);
      if (effect.kind !== 'send') continue;
      const targets = effect.to === 'all' ? this.nodes.map((_, i) => i).filter((i) => i !== from) : [effect.to];
      for (const to of targets) {
        this.sent.set(effect.type, (this.sent.get(effect.type) ?? 0) + 1);
        this.queue.push({ from, to, type: effect.type, bytes: effect.bytes });
      }
    }
  }

  request(member: number, op: LunchOp): void {
    this.collect(member, this.nodes[member]!.request(op));
  }

  /** Deliver queued messages (and whatever they cause) until none is left or `limit` is reached. */
  deliverAll(filter: (m: InFlight) => boolean = () => true, limit = 100_000): number {
    let delivered = 0;
    while (this.queue.length > 0 && delivered < limit) {
      const m = this.queue.shift()!;
      if (this.down.has(m.from) || this.down.has(m.to) || !filter(m)) continue;
      delivered++;
      this.collect(m.to, this.nodes[m.to]!.step(m.from, m.bytes));
    }
    return delivered;
  }

  /** Deliver only the queued messages that match (and what they cause that matches); keep the rest queued. */
  deliverMatching(match: (m: InFlight) => boolean): void {
    for (let i = 0; i < this.queue.length; ) {
      const m = this.queue[i]!;
      if (!match(m)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      if (!this.down.has(m.from) && !this.down.has(m.to)) this.collect(m.to, this.nodes[m.to]!.step(m.from, m.bytes));
    }
  }

  /** Advance virtual time in steps, ticking every node and delivering what follows. */
  run(ms: number, stepMs = 100, filter?: (m: InFlight) => boolean): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += stepMs;
      for (const node of this.nodes) if (!this.down.has(node.me)) this.collect(node.me, node.tick(this.now));
      this.deliverAll(filter);
    }
  }

  /**
   * Like `run`, but a message for which `hold` says yes is set aside, not delivered and not
   * dropped: it arrives only once `release` lets it go (a message slower than every timeout).
   */
  runHolding(ms: number, hold: (m: InFlight) => boolean, stepMs = 100): void {
    this.run(ms, stepMs, this.holding(hold));
  }

  /**
   * Put held messages that match back in the queue (in the order they were held) and deliver
   * them and what they cause, still holding back what `hold` says.
   */
  release(match: (m: InFlight) => boolean = () => true, hold: (m: InFlight) => boolean = () => false): void {
    const released: InFlight[] = [];
    for (let i = 0; i < this.held.length; ) {
      if (match(this.held[i]!)) released.push(...this.held.splice(i, 1));
      else i++;
    }
    // The released messages arrive now; whatever they cause is subject to `hold` again.
    for (const m of released) {
      if (!this.down.has(m.from) && !this.down.has(m.to)) this.collect(m.to, this.nodes[m.to]!.step(m.from, m.bytes));
    }
    this.deliverAll(this.holding(hold));
  }

  private holding(hold: (m: InFlight) => boolean): (m: InFlight) => boolean {
    return (m) => {
      if (!hold(m)) return true;
      this.held.push(m);
      return false;
    };
  }

  /**
   * Restart a member from the given records (default: all it made durable). `lost` says the
   * records are known to be gone, as when storage was wiped.
   */
  restart(member: number, options: { records?: unknown[]; lost?: boolean } = {}): ReturnType<typeof Replica.restore>['report'] {
    const records = options.records ?? [...this.records[member]!];
    this.records[member] = [...records];
    const { replica, effects, report } = Replica.restore(
      { roster: this.roster, me: member, secretKey: this.members[member]!.secretKey, suite: this.suite, timing: this.timing, now: this.now },
      records,
      { lost: options.lost ?? false, nonce: freshNonce(++this.restarts) },
    );
    this.nodes[member] = replica;
    this.collect(member, effects);
    return report;
  }

  executed(member: number): Extract<Effect, { kind: 'executed' }>[] {
    return this.effects.filter((e) => e.at === member && e.effect.kind === 'executed').map((e) => e.effect as Extract<Effect, { kind: 'executed' }>);
  }

  evidence(member: number): Extract<Effect, { kind: 'evidence' }>[] {
    return this.effects.filter((e) => e.at === member && e.effect.kind === 'evidence').map((e) => e.effect as Extract<Effect, { kind: 'evidence' }>);
  }

  decode(m: InFlight): Wire {
    const d = decodeWire(m.bytes);
    if (!d.ok) throw new Error(`undecodable message in flight: ${d.reason}`);
    return d.message;
  }
}

/** A nonce no earlier restart of this cluster used (the harness needs unique, not unpredictable). */
function freshNonce(k: number): Uint8Array {
  const nonce = new Uint8Array(RECOVERY_NONCE_BYTES);
  new DataView(nonce.buffer).setUint32(0, k);
  return nonce;
}

/**
 * The first fork among `members` of a cluster — two of them executed different batches at one
 * sequence number — said in words, or null when they agree.
 */
export function findFork(c: Cluster, members: number[]): string | null {
  const at = new Map<number, { member: number; batch: string }>();
  for (const m of members) {
    for (const e of c.executed(m)) {
      const batch = JSON.stringify(e.requests.map((r) => [r.member, r.counter]));
      const first = at.get(e.seq);
      if (!first) at.set(e.seq, { member: m, batch });
      else if (first.batch !== batch) return `seq ${e.seq}: member ${m} executed ${batch}, member ${first.member} ${first.batch}`;
    }
  }
  return null;
}

/**
 * The first slot for which member `m` signed two different bodies across its incarnations (given
 * the write-ahead records of each), said in words, or null when it never did.
 */
export function findDoubleSigning(m: number, ...incarnations: unknown[][]): string | null {
  const bySlot = new Map<string, string>();
  for (const records of incarnations) {
    for (const r of records as { kind: string; signed?: Signed }[]) {
      if (r.kind !== 'signed' || !r.signed || r.signed.body.from !== m) continue;
      const slot = slotKey(r.signed.body);
      if (slot === null) continue;
      const body = Buffer.from(bodyBytes(r.signed.body)).toString('hex');
      if ((bySlot.get(slot) ?? body) !== body) return `member ${m} signed two bodies for ${slot}`;
      bySlot.set(slot, body);
    }
  }
  return null;
}

/** Decide `count` requests, one at a time, from the given members in turn. */
export function decideEach(c: Cluster, from: number[], count: number, filter?: (m: InFlight) => boolean): void {
  for (let i = 0; i < count; i++) {
    c.request(from[i % from.length]!, { kind: 'propose', place: `Place ${i}`, time: '12:00' });
    c.run(300, 100, filter);
  }
}
