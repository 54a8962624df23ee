// The properties every run must keep, checked incrementally as effects come out of the nodes.
//
// Terms: a node is *honest* when it runs the unmodified replica for a member that is not faulty
// (a member that crashes is honest until it stops; one that crashes and restarts, from its records
// or wiped, is honest in every incarnation); a member is *faulty* when it runs an adversary
// strategy or Twins; a node is *correct* while it is honest, up and not amnesic, and it never
// crashes for good. Safety properties are checked at every honest node in every incarnation;
// liveness and accountability concern the nodes correct at the time.
import { encode } from 'cborg';
import type { Effect } from '../core/effects.ts';
import type { LunchOp } from '../core/lunch.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { bodyBytes, checkProof, isLunchOp, slotKey, verifySigned, type RequestOp, type Roster, type Signed } from '../core/messages.ts';
import { sameBytes } from '../core/bytes.ts';
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
  | 'step-budget'
  | 'no-equivocation'
  | 'restore'
  | 'amnesia'
  | 'certified';

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
  /** Members that crash at some point and stay down (honest until then, never correct). */
  readonly crashingMember: readonly boolean[];
}

type ExecutedEffect = Extract<Effect, { kind: 'executed' }>;
type EvidenceEffect = Extract<Effect, { kind: 'evidence' }>;

const opKey = (op: RequestOp): string => {
  // Canonical CBOR: equal ops give equal keys whatever their key order.
  const bytes = encode(op);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
};

const showOp = (op: RequestOp): string => JSON.stringify(op, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));

export class Invariants {
  readonly honestNode: boolean[];
  /** Honest members that never crash for good: their requests have deadlines while they are correct. */
  readonly trackedMembers: number[];
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
  /** Per node, this incarnation: `member/counter` executed there. */
  private readonly executedAt: Set<string>[];
  private readonly lastSeq: number[];
  /** Per node, this incarnation, per member: the highest request counter executed (or adopted). */
  private readonly counterAt: number[][];
  /**
   * Per member, its current incarnation: when it asked for each request, in order, and the
   * counters its replica signed them with, in the same order (one request outstanding at a time).
   */
  private readonly asks: number[][];
  private readonly signedCounters: number[][];
  /** Per node: whether it is correct now, and since when (virtual ms). */
  private readonly correct: boolean[];
  private readonly since: number[];
  /**
   * Per honest member, across all its incarnations: slot key → what it signed there (signature
   * and body) — everything it made durable or sent.
   */
  private readonly signedBy: Map<string, Signed>[];
  private nextDeadline = Infinity;

  constructor(
    readonly cast: Cast,
    private readonly suite: CryptoSuite,
    private readonly roster: Roster,
    /** From this virtual time on the network is fair and the faulty set final (see `setStableAt`). */
    public stableAt: number,
    readonly livenessBound = LIVENESS_BOUND_MS,
  ) {
    const { n, memberOf, faultyMember, crashingMember } = cast;
    this.honestNode = memberOf.map((m) => !faultyMember[m]);
    this.correct = memberOf.map((m) => !faultyMember[m] && !crashingMember[m]);
    this.since = memberOf.map(() => 0);
    this.trackedMembers = [...Array(n).keys()].filter((m) => !faultyMember[m] && !crashingMember[m]);
    this.issued = Array.from({ length: n }, () => new Map());
    this.matched = Array.from({ length: n }, () => new Map());
    this.executedAt = memberOf.map(() => new Set());
    this.lastSeq = memberOf.map(() => 0);
    this.counterAt = memberOf.map(() => Array<number>(n).fill(0));
    this.asks = Array.from({ length: n }, () => []);
    this.signedCounters = Array.from({ length: n }, () => []);
    this.signedBy = Array.from({ length: n }, () => new Map());
  }

  /** The network became fair at `t` after all (a long partition healed before its latest time). */
  setStableAt(t: number): void {
    this.stableAt = t;
    this.nextDeadline = -Infinity;
  }

  /** Whether node x is correct now: honest, up, not amnesic, and not one that crashes for good. */
  isCorrect(x: number): boolean {
    return this.correct[x] === true;
  }

  /** The node went down (false) or came back / ended its amnesia (true) at `now`. */
  setCorrect(x: number, correct: boolean, now: number): void {
    const m = this.cast.memberOf[x]!;
    const ok = correct && !this.cast.faultyMember[m] && !this.cast.crashingMember[m];
    if (ok && !this.correct[x]) this.since[x] = now;
    this.correct[x] = ok;
    this.nextDeadline = -Infinity;
  }

  /**
   * Node x restarted: a new incarnation. What it executes from now on (including what its records
   * replay) is counted afresh; its member's earlier requests no longer have deadlines (those not
   * durably signed died with it), the ones it makes from now on do.
   */
  restarted(x: number): void {
    const m = this.cast.memberOf[x]!;
    this.executedAt[x] = new Set();
    this.lastSeq[x] = 0;
    this.counterAt[x] = Array<number>(this.cast.n).fill(0);
    this.asks[m] = [];
    this.signedCounters[m] = [];
    this.nextDeadline = -Infinity;
  }

  /** An honest member asked its replica for `op` at `now`. */
  requested(member: number, op: LunchOp, now: number): void {
    if (this.cast.faultyMember[member]) return;
    const key = opKey(op);
    const mine = this.issued[member]!;
    mine.set(key, (mine.get(key) ?? 0) + 1);
    if (this.trackedMembers.includes(member)) {
      this.asks[member]!.push(now);
      this.nextDeadline = -Infinity;
    }
  }

  /** An honest member's replica signed its own request `counter` (the next one it was asked for). */
  signedRequest(member: number, counter: number): void {
    if (!this.trackedMembers.includes(member)) return;
    const list = this.signedCounters[member]!;
    if (list.length > 0 && counter <= list[list.length - 1]!) {
      throw new InvariantViolation('integrity', `member ${member} signed its request counter ${counter} after counter ${list[list.length - 1]}`);
    }
    list.push(counter);
  }

  /**
   * A signed part that honest member `member` made durable or sent. Across all its incarnations
   * it must never have signed two different bodies for one slot (that would be equivocation,
   * provable by anyone who holds both).
   */
  signed(member: number, s: Signed, how: string): void {
    if (this.cast.faultyMember[member] || s.body.from !== member) return;
    const slot = slotKey(s.body);
    if (slot === null) return;
    const mine = this.signedBy[member]!;
    const earlier = mine.get(slot);
    if (earlier === undefined) {
      mine.set(slot, s);
      return;
    }
    // Both suites sign deterministically: the same body gives the same signature.
    if (sameBytes(earlier.sig, s.sig) || sameBytes(bodyBytes(earlier.body), bodyBytes(s.body))) return;
    throw new InvariantViolation(
      'no-equivocation',
      `honest member ${member} ${how} a second, different body for ${slot}: first ${describeBody(earlier)}, now ${describeBody(s)}`,
    );
  }

  /** Whether honest member `member` made durable or sent exactly this signed part before. */
  hasSigned(member: number, s: Signed): boolean {
    const slot = slotKey(s.body);
    const earlier = slot === null ? undefined : this.signedBy[member]?.get(slot);
    return earlier !== undefined && (sameBytes(earlier.sig, s.sig) || sameBytes(bodyBytes(earlier.body), bodyBytes(s.body)));
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
      const counters = this.counterAt[node]!;
      if (r.counter <= counters[r.member]!) {
        throw new InvariantViolation('integrity', `member ${member} (node ${node}) executed request ${r.member}#${r.counter} after ${r.member}#${counters[r.member]} (seq ${e.seq})`);
      }
      counters[r.member] = r.counter;
      // The protocol's own requests (recover, advance) are made by the replica, not asked for.
      if (!this.cast.faultyMember[r.member] && isLunchOp(r.op)) this.checkValidity(node, e.seq, r.member, r.counter, r.op, key);
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
   * The node adopted a certified state at `seq` (state transfer, or its own stable record on a
   * restart) instead of executing the batches up to it: it must equal what honest nodes reached
   * by executing, and counts as having executed every request its per-member counters cover.
   */
  transferred(node: number, seq: number, lunchBytes: Uint8Array, lastCounter: readonly number[]): void {
    if (!this.honestNode[node]) return;
    if (seq < this.lastSeq[node]!) {
      throw new InvariantViolation('order', `node ${node} went back from seq ${this.lastSeq[node]} to a transferred state at seq ${seq}`);
    }
    this.lastSeq[node] = seq;
    this.compareState(node, seq, lunchBytes);
    const counters = this.counterAt[node]!;
    lastCounter.forEach((c, m) => {
      if (c > counters[m]!) counters[m] = c;
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

  /**
   * An honest node made checkpoint `seq` stable (and will forget the log below it): the proof it
   * keeps must be 2f + 1 valid checkpoints of distinct members for that state.
   */
  stable(node: number, seq: number, bytes: Uint8Array, proof: readonly Signed[]): void {
    if (!this.honestNode[node]) return;
    const digest = sha256(bytes);
    const signers = new Set<number>();
    for (const cp of proof) {
      const b = cp.body;
      if (b.t !== 'checkpoint' || b.seq !== seq || !sameBytes(b.digest, digest) || !verifySigned(this.suite, this.roster, cp)) {
        throw new InvariantViolation('certified', `node ${node} made s${seq} stable with a checkpoint that does not match its state: ${describeBody(cp)}`);
      }
      signers.add(b.from);
    }
    const q = 2 * Math.floor((this.cast.n - 1) / 3) + 1;
    if (signers.size < q) {
      throw new InvariantViolation('certified', `node ${node} made s${seq} stable with checkpoints of ${signers.size} member(s); it takes ${q}`);
    }
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

  /** How many of member m's requests of its current incarnation node x has executed. */
  private completed(x: number, m: number): number {
    const hw = this.counterAt[x]![m]!;
    const list = this.signedCounters[m]!;
    let k = 0;
    while (k < list.length && list[k]! <= hw) k++;
    return k;
  }

  /** The deadline of member m's request number j at node x. */
  private deadline(x: number, m: number, j: number): number {
    return Math.max(this.asks[m]![j]!, this.stableAt, this.since[m]!, this.since[x]!) + this.livenessBound;
  }

  /** Throws if a correct member's request has missed its deadline at some correct node. */
  checkDeadlines(now: number): void {
    if (now < this.nextDeadline) return;
    let next = Infinity;
    for (const m of this.trackedMembers) {
      if (!this.correct[m]) continue;
      const asks = this.asks[m]!;
      for (let x = 0; x < this.correct.length; x++) {
        if (!this.correct[x]) continue;
        for (let j = this.completed(x, m); j < asks.length; j++) {
          const d = this.deadline(x, m, j);
          if (d <= now) {
            throw new InvariantViolation(
              'liveness',
              `request number ${j + 1} of correct member ${m} in its current incarnation (deadline ${d} ms: ${this.livenessBound} ms after ` +
                `max(issue, stable at ${this.stableAt} ms, both nodes correct)) has not executed at node ${x} by ${now} ms`,
            );
          }
          next = Math.min(next, d);
        }
      }
    }
    this.nextDeadline = next;
  }

  /** Every correct member's requests so far have executed at every correct node. */
  allExecuted(): boolean {
    for (const m of this.trackedMembers) {
      if (!this.correct[m]) continue;
      const want = this.asks[m]!.length;
      for (let x = 0; x < this.correct.length; x++) if (this.correct[x] && this.completed(x, m) < want) return false;
    }
    return true;
  }

  /** How many requests correct members have issued, and how many are still to execute somewhere. */
  outstanding(): { issued: number; missing: string[] } {
    let issued = 0;
    const missing: string[] = [];
    for (const m of this.trackedMembers) {
      if (!this.correct[m]) continue;
      const want = this.asks[m]!.length;
      issued += want;
      for (let x = 0; x < this.correct.length; x++) {
        if (this.correct[x] && this.completed(x, m) < want) missing.push(`node ${x} has ${this.completed(x, m)}/${want} of member ${m}'s requests`);
      }
    }
    return { issued, missing };
  }

  /** Final cross-check against what the correct nodes' snapshots say they have proven. */
  checkFinalProofs(snapshots: (NodeSnapshot | null)[]): void {
    const sets = snapshots.flatMap((s, x) =>
      s !== null && this.correct[x] ? [{ x, members: [...new Set(s.proven)].sort((a, b) => a - b).join(',') }] : [],
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

function describeBody(s: Signed): string {
  return JSON.stringify(s.body, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex').slice(0, 12) : v)).slice(0, 300);
}

function describeBatch(e: ExecutedEffect): string {
  if (e.requests.length === 0) return '[null]';
  return `[${e.requests.map((r) => `${r.member}#${r.counter} ${showOp(r.op)}`).join(', ')}]`;
}
