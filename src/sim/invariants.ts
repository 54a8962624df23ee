// The properties every run must keep, checked incrementally as effects come out of the nodes.
//
// Terms: a node is *honest* when it runs the unmodified replica for a member that is not faulty
// (a member that crashes is honest until it stops); a member is *faulty* when it runs an
// adversary strategy or Twins; a node is *correct* when it is honest and never crashes. Safety
// properties are checked at every honest node; liveness and accountability concern correct ones.
import { encode } from 'cborg';
import type { Effect } from '../core/effects.ts';
import type { LunchOp } from '../core/lunch.ts';
import { checkProof, sameBytes, type Roster } from '../core/messages.ts';
import type { CryptoSuite } from '../core/suite.ts';
import type { NodeSnapshot } from './node.ts';

/**
 * After the network has last healed (and the faulty set is final), every correct member's
 * request must be executed at every correct node within this much virtual time (ms). Generous
 * on purpose: view-change timeouts double while views fail.
 */
export const LIVENESS_BOUND_MS = 60_000;
/** Once every request has executed, proofs of misbehaviour get this long (virtual ms) to reach every correct node. */
export const ACCOUNTABILITY_GRACE_MS = 30_000;

export type InvariantName =
  | 'agreement'
  | 'validity'
  | 'integrity'
  | 'order'
  | 'no-honest-proven'
  | 'accountability'
  | 'liveness'
  | 'no-throw'
  | 'step-budget';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: InvariantName,
    readonly details: string,
  ) {
    super(`${invariant}: ${details}`);
    this.name = 'InvariantViolation';
  }
}

export interface Cast {
  readonly n: number;
  /** Member of each node. */
  readonly memberOf: readonly number[];
  /** Members running an adversary strategy or Twins. */
  readonly faultyMember: readonly boolean[];
  /** Members that crash at some point (honest until then). */
  readonly crashingMember: readonly boolean[];
}

type ExecutedEffect = Extract<Effect, { kind: 'executed' }>;
type EvidenceEffect = Extract<Effect, { kind: 'evidence' }>;

const opKey = (op: LunchOp): string => {
  // Canonical CBOR: equal ops give equal keys whatever their key order.
  const bytes = encode(op);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
};

const showOp = (op: LunchOp): string => JSON.stringify(op);

export class Invariants {
  readonly honestNode: boolean[];
  readonly correctNode: boolean[];
  readonly correctMembers: number[];
  /** seq → the batch the first honest node executed there, as a comparable key, and who. */
  private readonly batchAt = new Map<number, { key: string; node: number; text: string }>();
  /** executedSeq → lunch state encoding the first honest node reported there. */
  private readonly stateAt = new Map<number, { bytes: Uint8Array; node: number }>();
  /** Per honest member: op key → how many times it asked for it (multiset of its requests). */
  private readonly issued: Map<string, number>[];
  /** Per honest member: op key → how many distinct counters executed it so far (anywhere). */
  private readonly matched: Map<string, number>[];
  /** `member/counter` → op key, for honest members, the first time anyone executed it. */
  private readonly opOf = new Map<string, string>();
  /** Per node: `member/counter` executed there. */
  private readonly executedAt: Set<string>[];
  private readonly lastSeq: number[];
  /** Per node, per member: how many of that member's requests it executed. */
  private readonly countAt: number[][];
  /** Per correct member: deadline of each of its requests, in order of issue. */
  private readonly deadlines: number[][];
  private nextDeadline = Infinity;

  constructor(
    readonly cast: Cast,
    private readonly suite: CryptoSuite,
    private readonly roster: Roster,
    /** From this virtual time on the network is fair and the faulty set final. */
    readonly stableAt: number,
    readonly livenessBound = LIVENESS_BOUND_MS,
  ) {
    const { n, memberOf, faultyMember, crashingMember } = cast;
    this.honestNode = memberOf.map((m) => !faultyMember[m]);
    this.correctNode = memberOf.map((m) => !faultyMember[m] && !crashingMember[m]);
    this.correctMembers = [...Array(n).keys()].filter((m) => !faultyMember[m] && !crashingMember[m]);
    this.issued = Array.from({ length: n }, () => new Map());
    this.matched = Array.from({ length: n }, () => new Map());
    this.executedAt = memberOf.map(() => new Set());
    this.lastSeq = memberOf.map(() => 0);
    this.countAt = memberOf.map(() => Array<number>(n).fill(0));
    this.deadlines = Array.from({ length: n }, () => []);
  }

  /** An honest member asked its replica for `op` at `now`. */
  requested(member: number, op: LunchOp, now: number): void {
    if (this.cast.faultyMember[member]) return;
    const key = opKey(op);
    const mine = this.issued[member]!;
    mine.set(key, (mine.get(key) ?? 0) + 1);
    if (this.correctMembers.includes(member)) {
      const deadline = Math.max(now, this.stableAt) + this.livenessBound;
      this.deadlines[member]!.push(deadline);
      this.nextDeadline = Math.min(this.nextDeadline, deadline);
    }
  }

  executed(node: number, e: ExecutedEffect): void {
    if (!this.honestNode[node]) return;
    const member = this.cast.memberOf[node]!;
    if (e.seq <= this.lastSeq[node]!) {
      throw new InvariantViolation('order', `member ${member} (node ${node}) executed seq ${e.seq} after seq ${this.lastSeq[node]}`);
    }
    this.lastSeq[node] = e.seq;

    const parts: string[] = [];
    for (const r of e.requests) {
      const key = opKey(r.op);
      parts.push(`${r.member}/${r.counter}/${key}`);
      const id = `${r.member}/${r.counter}`;
      const mine = this.executedAt[node]!;
      if (mine.has(id)) {
        throw new InvariantViolation('integrity', `member ${member} (node ${node}) executed request ${r.member}#${r.counter} twice (again at seq ${e.seq})`);
      }
      mine.add(id);
      this.countAt[node]![r.member] = (this.countAt[node]![r.member] ?? 0) + 1;
      if (!this.cast.faultyMember[r.member]) this.checkValidity(node, e.seq, r.member, r.counter, r.op, key);
    }
    const key = parts.join('|');
    const first = this.batchAt.get(e.seq);
    if (first === undefined) {
      this.batchAt.set(e.seq, { key, node, text: describeBatch(e) });
    } else if (first.key !== key) {
      throw new InvariantViolation(
        'agreement',
        `at seq ${e.seq}: member ${this.cast.memberOf[first.node]} (node ${first.node}) executed ${first.text}, ` +
          `member ${member} (node ${node}) executed ${describeBatch(e)}`,
      );
    }
  }

  private checkValidity(node: number, seq: number, member: number, counter: number, op: LunchOp, key: string): void {
    const id = `${member}/${counter}`;
    const known = this.opOf.get(id);
    if (known !== undefined) {
      if (known !== key) {
        throw new InvariantViolation('validity', `request ${id} of honest member ${member} executed with two different ops (node ${node}, seq ${seq}: ${showOp(op)})`);
      }
      return;
    }
    const asked = this.issued[member]!.get(key) ?? 0;
    const used = this.matched[member]!.get(key) ?? 0;
    if (used >= asked) {
      throw new InvariantViolation(
        'validity',
        `node ${node} executed request ${id} at seq ${seq} with op ${showOp(op)}, which honest member ${member} ` +
          (asked === 0 ? 'never asked for' : `asked for only ${asked} time(s)`),
      );
    }
    this.matched[member]!.set(key, used + 1);
    this.opOf.set(id, key);
  }

  /**
   * The node adopted a certified state at `seq` (state transfer) instead of executing the
   * batches up to it: it must equal what honest nodes reached by executing, and counts as having
   * executed every request its per-member counters cover.
   */
  transferred(node: number, seq: number, lunchBytes: Uint8Array, lastCounter: readonly number[]): void {
    if (!this.honestNode[node]) return;
    if (seq < this.lastSeq[node]!) {
      throw new InvariantViolation('order', `node ${node} went back from seq ${this.lastSeq[node]} to a transferred state at seq ${seq}`);
    }
    this.lastSeq[node] = seq;
    this.compareState(node, seq, lunchBytes);
    // Honest members number their requests 1, 2, 3, …, so the counter is also the count.
    lastCounter.forEach((c, m) => {
      if (c > this.countAt[node]![m]!) this.countAt[node]![m] = c;
    });
  }

  private compareState(node: number, seq: number, bytes: Uint8Array): void {
    const first = this.stateAt.get(seq);
    if (first === undefined) {
      this.stateAt.set(seq, { bytes, node });
    } else if (!sameBytes(first.bytes, bytes)) {
      throw new InvariantViolation('agreement', `after seq ${seq} the lunch state of node ${first.node} and node ${node} differ`);
    }
  }

  /** The node's state after a step in which it executed something. */
  state(node: number, snap: NodeSnapshot): void {
    if (!this.honestNode[node]) return;
    this.compareState(node, snap.executedSeq, snap.lunchBytes);
    for (const m of snap.proven) this.checkAccused(node, m, 'its snapshot lists');
  }

  evidence(node: number, e: EvidenceEffect): void {
    if (!this.honestNode[node]) return;
    this.checkAccused(node, e.member, `it produced evidence (${e.slot}) against`);
    const check = checkProof(this.suite, this.roster, e.proof);
    if (!check.ok || check.member !== e.member) {
      throw new InvariantViolation(
        'no-honest-proven',
        `node ${node} produced evidence against member ${e.member} that does not check: ${check.ok ? `it names member ${check.member}` : check.reason}`,
      );
    }
  }

  private checkAccused(node: number, member: number, how: string): void {
    if (!this.cast.faultyMember[member]) {
      throw new InvariantViolation('no-honest-proven', `node ${node} (member ${this.cast.memberOf[node]}): ${how} honest member ${member}`);
    }
  }

  /** Throws if a correct member's request has missed its deadline at some correct node. */
  checkDeadlines(now: number): void {
    if (now < this.nextDeadline) return;
    let next = Infinity;
    for (const m of this.correctMembers) {
      const deadlines = this.deadlines[m]!;
      const slowest = this.slowest(m);
      for (let j = slowest.count; j < deadlines.length; j++) {
        const d = deadlines[j]!;
        if (d <= now) {
          throw new InvariantViolation(
            'liveness',
            `request number ${j + 1} of correct member ${m} (deadline ${d} ms: ${this.livenessBound} ms after ` +
              `max(issue, stable at ${this.stableAt} ms)) has not executed at node ${slowest.node} by ${now} ms`,
          );
        }
        next = Math.min(next, d);
      }
    }
    this.nextDeadline = next;
  }

  private slowest(member: number): { node: number; count: number } {
    let node = -1;
    let count = Infinity;
    this.correctNode.forEach((ok, x) => {
      if (ok && this.countAt[x]![member]! < count) {
        count = this.countAt[x]![member]!;
        node = x;
      }
    });
    return { node, count };
  }

  /** Every correct member's requests so far have executed at every correct node. */
  allExecuted(): boolean {
    return this.correctMembers.every((m) => this.slowest(m).count >= this.deadlines[m]!.length);
  }

  /** How many requests correct members have issued, and how many are still to execute somewhere. */
  outstanding(): { issued: number; missing: string[] } {
    let issued = 0;
    const missing: string[] = [];
    for (const m of this.correctMembers) {
      const want = this.deadlines[m]!.length;
      issued += want;
      this.correctNode.forEach((ok, x) => {
        if (ok && this.countAt[x]![m]! < want) missing.push(`node ${x} has ${this.countAt[x]![m]}/${want} of member ${m}'s requests`);
      });
    }
    return { issued, missing };
  }

  /** Final cross-check against what the correct nodes' snapshots say they have proven. */
  checkFinalProofs(snapshots: (NodeSnapshot | null)[]): void {
    const sets = snapshots.flatMap((s, x) =>
      s !== null && this.correctNode[x] ? [{ x, members: [...new Set(s.proven)].sort((a, b) => a - b).join(',') }] : [],
    );
    const first = sets[0];
    const odd = first && sets.find((s) => s.members !== first.members);
    if (first && odd) {
      throw new InvariantViolation(
        'accountability',
        `after quiescence node ${first.x} lists proven [${first.members}] but node ${odd.x} lists [${odd.members}]`,
      );
    }
  }
}

function describeBatch(e: ExecutedEffect): string {
  if (e.requests.length === 0) return '[null]';
  return `[${e.requests.map((r) => `${r.member}#${r.counter} ${showOp(r.op)}`).join(', ')}]`;
}
