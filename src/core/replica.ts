// A PBFT replica with signatures (Castro and Liskov, OSDI 1999), as docs/protocol.md states it.
//
// Pure and deterministic: the caller feeds received bytes (`step`), the passage of time (`tick`)
// and the local member's intents (`request`), and carries out the returned effects. There are no
// timers, clocks, randomness or I/O in here; the one fresh nonce a recovery needs is passed in.
//
// Durability: every K sequence numbers members sign checkpoints of the state; 2f + 1 matching ones
// make it stable, and everything below it is forgotten except proofs of equivocation. A replica
// that is behind adopts a certified stable state (state transfer) and the certified entries after
// it. What it signs is handed out as a write-ahead record first, and `Replica.restore` rebuilds a
// replica from those records. A replica whose records are lost or corrupt recovers as recovery.ts
// says: it signs nothing that could contradict what it forgot until the room has agreed on a
// recovery request of its own, and a stable checkpoint lies a window beyond where it executed.
//
// The checks of certificates (prepared, commit, checkpoint proofs, VIEW-CHANGE and NEW-VIEW) and
// the pre-prepares a new view re-issues are pure functions in certificates.ts; what a stable
// checkpoint makes obsolete is wal.ts's rule.
import { decode, encode } from 'cborg';
import { concat, sameBytes, toHex } from './bytes.ts';
import * as v from 'valibot';
import {
  MAX_BATCH, MAX_BATCH_BYTES, MAX_LOG_WINDOW, MAX_MEMBERS, MAX_REQUEST_BYTES, MAX_WIRE_BYTES, STATE_CHUNK_BYTES,
} from './limits.ts';
import {
  applyLunch, decodeLunchState, encodeLunchState, initialLunch, LunchOpSchema, type LunchEvent, type LunchOp, type LunchState,
} from './lunch.ts';
import {
  RECOVERY_NONCE_BYTES, batchBytes, batchDigest, bodyBytes, checkProof, coordinatesOf, decodeWire, encodeWire, isLunchOp, signBody, signerOf, slotKey, verifySigned,
  type AnyBody, type CheckpointBody, type CommitBody, type CommitCert, type NewViewBody, type PreparedCert, type PrePrepareBody,
  type PrepareBody, type Proof, type RequestBody, type RequestOp, type Roster, type Signed, type ViewChangeBody, type Wire,
} from './messages.ts';
import {
  certContext, checkNewView, planNewView, validBatch, validCheckpointProof, validCommitCert, validPreparedCert, validViewChange,
  type CertContext, type PlanEntry,
} from './certificates.ts';
import type { Effect, ExecutedRequest, ReplicaLike, ViewChangeReason } from './effects.ts';
import { primaryOf, quorumFor } from './quorum.ts';
import { Recovery } from './recovery.ts';
import { digest as sha256, type CryptoSuite } from './suite.ts';
import { WAL_VERSION, WalRecord, obsoleteAtOrBelow, signedRecord, type RestoreReport } from './wal.ts';

/** The replica's clocks and bounds, in the milliseconds of the `now` it is given. */
export interface Timing {
  /** A request not executed this long after it was first seen triggers a view change. */
  requestTimeout: number;
  /** How often every member broadcasts its status (the primary's doubles as a heartbeat). */
  heartbeatInterval: number;
  /** A primary not heard from this long, even with nothing pending, is suspected. */
  primarySilence: number;
  /** How often unacknowledged work is sent again. */
  retransmitInterval: number;
  /**
   * First view-change timer; doubles after each failed view change (no NEW-VIEW in time, or a
   * request carried into the new view times out there), reset by progress. Requests carried
   * into a new view wait this long, at least.
   */
  viewChangeTimeout: number;
  /** Most requests in one batch (at most MAX_BATCH; MAX_BATCH_BYTES bounds its bytes too). */
  maxBatch: number;
  /** Sequence numbers the primary may have assigned beyond the last executed one. */
  maxInFlight: number;
  /** K: a checkpoint every K sequence numbers. */
  checkpointInterval: number;
  /** L: sequence numbers above the stable checkpoint that may be in use (a multiple of K). */
  logWindow: number;
}

/** The timing the app runs with; tests and the simulator override parts of it. */
export const DEFAULT_TIMING: Timing = {
  requestTimeout: 4000,
  heartbeatInterval: 1500,
  primarySilence: 6000,
  retransmitInterval: 1000,
  viewChangeTimeout: 4000,
  maxBatch: 16,
  maxInFlight: 4,
  checkpointInterval: 8,
  logWindow: 16,
};
/** The view-change timer doubles at most up to this many times its first value. */
const VIEW_CHANGE_TIMEOUT_CAP = 8;
/**
 * A member's requests are admitted only this far above its last executed counter: an honest
 * member has one outstanding, so this bounds what a liar can make everyone keep.
 */
export const REQUESTS_AHEAD = 8;
/** Verified signatures remembered (by the bytes they cover), so that retransmissions cost no crypto. */
const VERIFIED_BYTES_KEPT = 8 * 1024 * 1024;
/** Answers to a peer's requests remembered for rate limiting; older ones are forgotten first. */
const SERVED_PER_MEMBER = 16;

/** What a replica is started with. */
export interface ReplicaConfig {
  /** The room and every member's public key, in member order. */
  roster: Roster;
  /** This member's index in the roster. */
  me: number;
  /** This member's signing key; it never leaves the replica. */
  secretKey: Uint8Array;
  suite: CryptoSuite;
  /** Overrides of DEFAULT_TIMING. */
  timing?: Partial<Timing>;
  /** The time the replica starts at (default 0); `tick` moves it on. */
  now?: number;
}

/** How `Replica.restore` treats the records it is given. */
export interface RestoreOptions {
  /** The records are known to be gone (storage was wiped), whatever is passed. */
  lost?: boolean;
  /**
   * Fresh randomness (16 bytes) from the caller: used only if the records turn out lost, as the
   * nonce of the recovery request, which must be one that cannot have existed before the loss.
   */
  nonce: Uint8Array;
}

/** What a replica shows of itself (`Replica.snapshot`): for the tab, the tests and the simulator's checks. */
export interface ReplicaSnapshot {
  /** The view the replica is in. */
  view: number;
  /** The view it is changing to, or null when it is not changing view. */
  changing: number | null;
  /** The highest sequence number executed. */
  executedSeq: number;
  /** Each member's highest executed request counter. */
  lastCounter: number[];
  lunch: LunchState;
  /** The lunch state's canonical encoding, equal at every member that executed as far. */
  lunchBytes: Uint8Array;
  /** The members proven to have signed two things for one slot, ascending. */
  proven: number[];
  /** This member's lunch intents not executed yet: its outstanding request and those queued after it. */
  pendingOwn: number;
  /** How often each reason to refuse (part of) a message, or not to sign, has come up. */
  drops: Record<string, number>;
  /** The sequence number of the stable checkpoint. */
  stable: number;
  /** True while the replica must not sign PRE-PREPARE, PREPARE, COMMIT, VIEW-CHANGE or NEW-VIEW (records lost). */
  amnesia: boolean;
  /** Sizes of what the replica keeps, to show that garbage collection and the bounds per member hold. */
  sizes: Record<string, number>;
}

interface Slot {
  readonly view: number;
  readonly seq: number;
  pp: Signed<PrePrepareBody> | null;
  batch: Signed<RequestBody>[] | null;
  prepares: Map<number, Signed<PrepareBody>>;
  commits: Map<number, Signed<CommitBody>>;
  prepared: boolean;
  committed: boolean;
  /** What this replica sent for the slot, kept as signed so retransmission resends the same bytes. */
  sent: Wire[];
}

interface PendingRequest {
  readonly req: Signed<RequestBody>;
  /** The request timer, keyed by (member, counter): started when first seen, reset on a new view. */
  since: number;
  /** Waiting when the current view was entered: if it times out again, that view change failed. */
  carried: boolean;
}

/** The most a batch's array header adds to the encoded requests (MAX_BATCH < 256: two bytes). */
const BATCH_OVERHEAD = 2;
/** What one request adds to an encoded batch. */
const requestBytes = (r: Signed<RequestBody>): number => encode([r.body, r.sig]).length;
/** What a stable state is made of: the lunch state and every member's last executed counter. */
const StateTuple = v.tuple([v.custom<Uint8Array>((b) => b instanceof Uint8Array), v.array(v.pipe(v.number(), v.safeInteger(), v.minValue(0)))]);

interface Transfer {
  readonly seq: number;
  readonly digest: Uint8Array;
  readonly proof: Signed<CheckpointBody>[];
  chunks: (Uint8Array | undefined)[];
  attempt: number;
  at: number;
}

/**
 * One member's replica (see the top of this file). It reads top to bottom: inputs, receiving, the
 * normal case, view change, checkpoints and state transfer, timers, restore.
 */
export class Replica implements ReplicaLike {
  /** This member's index in the roster. */
  readonly me: number;
  /** Members in the room: 3f + 1. */
  readonly n: number;
  /** Most faulty members the room tolerates. */
  readonly f: number;
  /** 2f + 1, the quorum. */
  readonly q: number;
  private readonly roster: Roster;
  private readonly suite: CryptoSuite;
  private readonly secretKey: Uint8Array;
  private readonly timing: Timing;
  /** What the certificate checks (certificates.ts) need, with this replica's `valid` as their signature check. */
  private readonly certs: CertContext;
  private now: number;

  private view = 0;
  /** Target view while a view change is under way. */
  private changing: number | null = null;
  /**
   * The highest view this member voted for (in its current epoch). It never accepts or signs a
   * PRE-PREPARE, PREPARE, COMMIT or NEW-VIEW below it: its vote vouches for what it prepared there.
   */
  private voted = 0;
  private lunch: LunchState;
  private executedSeq = 0;
  private readonly lastCounter: number[];

  private readonly pending = new Map<string, PendingRequest>();
  private myCounter = 0;
  private myOutstanding: Signed<RequestBody> | null = null;
  private readonly myQueue: LunchOp[] = [];

  private readonly slots = new Map<string, Slot>();
  private readonly committed = new Map<number, CommitCert>();
  private readonly preparedCerts = new Map<number, PreparedCert>();
  private nextSeq = 1;
  private readonly assigned = new Set<string>();
  private rrStart = 0;

  /** Each member's vote for the highest view above ours that we heard of (one per member). */
  private readonly viewChanges = new Map<number, Signed<ViewChangeBody>>();
  /** This member's own votes, by target view, kept as signed for retransmission. */
  private readonly myViewChanges = new Map<number, Wire>();
  private newView: Signed<NewViewBody> | null = null;
  private sentNewViewFor = -1;
  private vcDeadline: number | null = null;
  private vcTimeout: number;
  /** Something executed since the current view was entered. */
  private progressInView = true;

  /** The first validly signed body seen for every slot within reach, to catch equivocation. */
  private readonly seen = new Map<string, Signed>();
  /** Entries of `seen` per member (its own excluded), bounded by `seenPerMember`. */
  private readonly seenCount: number[];
  /** VIEW-CHANGE entries of `seen` per member and view (different epochs). */
  private readonly epochsSeen = new Map<string, number>();
  private readonly seenPerMember: number;
  private readonly exposed = new Set<string>();
  private readonly proofs = new Map<number, Proof>();

  private lastHeardPrimary: number;
  private nextHeartbeat: number;
  private nextRetransmit: number;
  private readonly peerExecuted: number[];
  private fetching: { seq: number; at: number } | null = null;
  private readonly lastServed = new Map<string, number>();
  private readonly verified = new Map<string, Uint8Array>();
  private verifiedBytes = 0;
  private readonly drops = new Map<string, number>();

  private stable = 0;
  private stableProof: Signed<CheckpointBody>[] = [];
  private stableBytes: Uint8Array;
  private readonly checkpoints = new Map<number, Map<number, Signed<CheckpointBody>>>();
  private readonly myStates = new Map<number, Uint8Array>();
  private transfer: Transfer | null = null;
  private readonly recovery: Recovery;
  /** A fresh replica writes the record that starts its log with its first effects. */
  private needsStart = true;

  private out: Effect[] = [];
  /** The first reason (part of) the message being received was refused, for its `received` effect. */
  private dropped: string | null = null;
  /** Sends made now are copies of earlier ones (the retransmission timer). */
  private resending = false;

  /** A fresh member of the room, with no records yet; throws a RangeError for a config it cannot run with. */
  constructor(config: ReplicaConfig) {
    const { n, f, q } = quorumFor(config.roster.keys.length);
    if (!Number.isInteger(config.me) || config.me < 0 || config.me >= n) throw new RangeError(`member ${config.me} is not in a roster of ${n}`);
    this.n = n;
    this.f = f;
    this.q = q;
    this.me = config.me;
    this.roster = config.roster;
    this.suite = config.suite;
    this.secretKey = config.secretKey;
    this.timing = { ...DEFAULT_TIMING, ...config.timing };
    if (this.timing.logWindow % this.timing.checkpointInterval !== 0) throw new RangeError('logWindow must be a multiple of checkpointInterval');
    // The message limits (limits.ts) are computed for these bounds: beyond them an honest
    // view-change or NEW-VIEW could be too large to send.
    if (this.timing.logWindow > MAX_LOG_WINDOW) throw new RangeError(`logWindow must be at most ${MAX_LOG_WINDOW}`);
    if (this.timing.maxBatch < 1 || this.timing.maxBatch > MAX_BATCH) throw new RangeError(`maxBatch must be 1..${MAX_BATCH}`);
    if (n > MAX_MEMBERS) throw new RangeError(`a room has at most ${MAX_MEMBERS} members`);
    this.certs = certContext(this.suite, this.roster, this.timing, (s) => this.valid(s));
    this.now = config.now ?? 0;
    this.lunch = initialLunch(n);
    this.lastCounter = new Array<number>(n).fill(0);
    this.peerExecuted = new Array<number>(n).fill(0);
    this.seenCount = new Array<number>(n).fill(0);
    // Per member, what is within reach: pre-prepares, prepares and commits for the window in
    // three views (9L), checkpoints (4L/K), requests ahead (8), two epochs of votes for 2n + 1
    // views and a few new views; this only backs those bounds up.
    this.seenPerMember = 10 * this.timing.logWindow + 8 * this.n + 32;
    this.vcTimeout = this.timing.viewChangeTimeout;
    this.lastHeardPrimary = this.now;
    this.nextHeartbeat = this.now;
    this.nextRetransmit = this.now + this.timing.retransmitInterval;
    this.stableBytes = this.stateBytes();
    this.recovery = new Recovery(this.timing.logWindow);
  }

  // ---- Inputs ----
  // The driver feeds received bytes (step), the passage of time (tick) and the member's intents
  // (request), and reads snapshot, proofOf and primary. Each input returns the effects that `run`
  // collects from the helpers below: drops, sends, answers to peers and signatures.

  /**
   * Bytes received from member `from`. Whatever they are, the effects end with one `received`
   * effect that says what the message was and, if any part of it was refused, the first reason.
   */
  step(from: number, bytes: Uint8Array): Effect[] {
    return this.run(() => {
      const refuse = (reason: string) => {
        this.count(reason);
        this.out.push({ kind: 'received', from, type: 'garbage', at: coordinatesOf(null), dropped: reason });
      };
      if (!Number.isInteger(from) || from < 0 || from >= this.n || from === this.me) return refuse('unknown-sender');
      const decoded = decodeWire(bytes);
      if (!decoded.ok) return refuse(decoded.reason);
      const m = decoded.message;
      this.dropped = null;
      // Refused at admission: a request larger than any honest one would crowd batches.
      if (m.k === 'request' && bytes.length > MAX_REQUEST_BYTES) this.drop(from, 'request-too-large');
      else this.receive(from, m);
      this.out.push({ kind: 'received', from, type: m.k, at: coordinatesOf(m), dropped: this.dropped, signer: signerOf(m) });
    });
  }

  /**
   * The time is now `now` (an earlier time than the last leaves the clock where it was), and
   * whatever is due happens: heartbeats, timeouts, retransmissions.
   */
  tick(now: number): Effect[] {
    return this.run(() => {
      if (now > this.now) this.now = now;
      this.timers();
    });
  }

  /**
   * Ask for a lunch intent to be agreed. Throws a RangeError, before anything is signed, for an
   * op the others would refuse: signed and sent, it would wait for ever and hold up every later
   * request of this member.
   */
  request(op: LunchOp): Effect[] {
    const check = v.safeParse(LunchOpSchema, op, { abortEarly: true });
    if (!check.success) throw new RangeError(`not a valid lunch request: ${check.issues[0].message}`);
    return this.run(() => {
      if (this.myOutstanding || !this.recovery.knowsCounters) this.myQueue.push(op);
      else this.issue(op);
    });
  }

  /** What the replica shows of itself now; see ReplicaSnapshot. */
  snapshot(): ReplicaSnapshot {
    const lunch = this.lunch;
    return {
      view: this.view,
      changing: this.changing,
      executedSeq: this.executedSeq,
      lastCounter: [...this.lastCounter],
      lunch: this.lunch,
      // Encoded only when read: the UI takes a snapshot on every change and never reads it.
      get lunchBytes() {
        return encodeLunchState(lunch);
      },
      proven: [...this.proofs.keys()].sort((a, b) => a - b),
      pendingOwn: (this.myOutstanding && isLunchOp(this.myOutstanding.body.op) ? 1 : 0) + this.myQueue.length,
      drops: Object.fromEntries(this.drops),
      stable: this.stable,
      amnesia: this.recovery.amnesic,
      sizes: {
        slots: this.slots.size, committed: this.committed.size, preparedCerts: this.preparedCerts.size, seen: this.seen.size,
        checkpoints: this.checkpoints.size, myStates: this.myStates.size, pending: this.pending.size,
        viewChanges: this.viewChanges.size, myViewChanges: this.myViewChanges.size, lastServed: this.lastServed.size,
        verified: this.verified.size, assigned: this.assigned.size, exposed: this.exposed.size,
      },
    };
  }

  /** The proof that `member` signed two things for one slot, if this replica holds one. */
  proofOf(member: number): Proof | undefined {
    return this.proofs.get(member);
  }

  /** The primary of `view` (by default, of the view the replica is in). */
  primary(view = this.view): number {
    return primaryOf(view, this.n);
  }

  /** Runs one input and returns what it did; a fresh replica's first effect starts its log. */
  private run(body: () => void): Effect[] {
    this.out = [];
    if (this.needsStart) {
      this.needsStart = false;
      this.out.push({ kind: 'persist', record: { v: WAL_VERSION, kind: 'start' } });
    }
    body();
    const effects = this.out;
    this.out = [];
    return effects;
  }

  /** Refuse (part of) the message being received; the `received` effect reports the first reason. */
  private drop(_from: number, reason: string): void {
    this.count(reason);
    this.dropped ??= reason;
  }

  private count(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  private send(to: number | 'all', message: Wire): void {
    const bytes = encodeWire(message);
    // The limits keep every honest message below this (limits.test.ts); should one ever exceed
    // it, it is a counted drop here rather than a send the network layer cannot make.
    if (bytes.length > MAX_WIRE_BYTES) return this.count('too-large-to-send');
    this.out.push({ kind: 'send', to, type: message.k, message, bytes, ...(this.resending ? { retransmit: true } : {}) });
  }

  /**
   * Answer a peer's request at most twice per retransmission interval per kind. What is
   * remembered for that is bounded per member: the oldest entries go first.
   */
  private serve(to: number, what: string, message: Wire): void {
    const key = `${what}/${to}`;
    const last = this.lastServed.get(key);
    if (last !== undefined && this.now - last < this.timing.retransmitInterval / 2) return;
    this.lastServed.delete(key);
    if (this.lastServed.size >= SERVED_PER_MEMBER * this.n) {
      for (const [k, at] of this.lastServed) {
        if (this.lastServed.size < SERVED_PER_MEMBER * this.n && this.now - at < this.timing.retransmitInterval) break;
        this.lastServed.delete(k);
      }
    }
    this.lastServed.set(key, this.now);
    this.send(to, message);
  }

  /**
   * Sign a body for a slot: handed out as a record to persist before anything carrying it is
   * sent (with the batch, for a pre-prepare). Refuses (null) what recovery.ts forbids, and
   * anything that conflicts with what this member signed before for the same slot.
   */
  private sign<B extends AnyBody>(body: B, batch?: Signed<RequestBody>[]): Signed<B> | null {
    const refusal = this.recovery.refusal(body, this.voted);
    if (refusal !== null) {
      this.count(refusal);
      return null;
    }
    const slot = slotKey(body);
    const earlier = slot === null ? undefined : this.seen.get(slot);
    if (earlier && earlier.body.from === this.me && !sameBytes(bodyBytes(earlier.body), bodyBytes(body))) {
      this.count('refused-conflicting-signature');
      return null;
    }
    const signed = signBody(this.suite, this.secretKey, body);
    if (slot !== null) {
      this.out.push({ kind: 'persist', record: signedRecord(signed, batch) });
      this.seen.set(slot, signed);
    }
    return signed;
  }

  // ---- Receiving ----
  // `step` has decoded the message; `receive` hands it to its handler. Every signature is checked
  // once and remembered, and every validly signed slot message is compared with the first one seen
  // for its slot, so that a member that signs two things for one slot is convicted.

  private receive(from: number, m: Wire): void {
    switch (m.k) {
      case 'request':
        return this.onRequest(from, m.req);
      case 'pre-prepare':
        return this.onPrePrepare(from, m.pp, m.batch);
      case 'prepare':
        return this.onPrepare(from, m.prepare, m.pp);
      case 'commit':
        return this.onCommit(from, m.commit);
      case 'view-change':
        return this.onViewChange(from, m.vc);
      case 'new-view':
        return this.onNewView(from, m.nv);
      case 'status':
        if (!this.valid(m.status)) return this.drop(from, 'bad-signature');
        return this.onStatus(m.status.body.from, m.status.body.view, m.status.body.executed);
      case 'fetch':
        return this.onFetch(from, m.seq);
      case 'committed':
        return this.onCommitted(from, m.cert);
      case 'get-new-view':
        return this.onGetNewView(from, m.view);
      case 'evidence': {
        const check = checkProof(this.suite, this.roster, m.proof);
        if (!check.ok) return this.drop(from, 'bad-proof');
        if (!this.proofs.has(check.member)) this.convict(m.proof, check.slot);
        return;
      }
      case 'checkpoint':
        return this.onCheckpoint(from, m.checkpoint);
      case 'get-state':
        return this.onGetState(from, m.seq, m.chunk);
      case 'state':
        return this.onState(from, m);
      case 'accuse': {
        if (!this.valid(m.accuse)) return this.drop(from, 'bad-signature');
        const { from: accuser, accused, reason } = m.accuse.body;
        if (accused >= this.n) return this.drop(from, 'bad-accusation');
        this.out.push({ kind: 'claim', accuser, accused, reason });
        return;
      }
    }
  }

  /** Signature and room check, remembering what verified so retransmissions cost no crypto. */
  private valid(s: Signed): boolean {
    const body = bodyBytes(s.body);
    const key = toHex(s.sig);
    const known = this.verified.get(key);
    if (!known || !sameBytes(known, body)) {
      if (!verifySigned(this.suite, this.roster, s)) return false;
      if (this.verifiedBytes + body.length > VERIFIED_BYTES_KEPT) {
        this.verified.clear();
        this.verifiedBytes = 0;
      }
      this.verified.set(key, body);
      this.verifiedBytes += body.length;
    }
    // Also when it verified before: then it may have been out of reach, and now be within it.
    this.observe(s, body);
    return true;
  }

  /**
   * Every validly signed slot message within reach is compared with the first one seen for its
   * slot. What is out of reach (far sequence numbers or views, counters far ahead, a third epoch
   * for one view) is not kept, so what one member can make an honest replica keep is bounded —
   * by the window and the views around the current one — and cannot crowd out the slots that
   * matter now; `seenPerMember` only backs that up.
   */
  private observe(s: Signed, body: Uint8Array): void {
    const slot = slotKey(s.body);
    if (slot === null || !this.withinReach(s.body)) return;
    const first = this.seen.get(slot);
    if (!first) {
      const from = s.body.from;
      if (from !== this.me) {
        if (this.seenCount[from]! >= this.seenPerMember) return this.count('seen-full');
        this.seenCount[from]!++;
      }
      this.seen.set(slot, s);
      if (s.body.t === 'view-change') this.epochsSeen.set(`${from}/${s.body.view}`, (this.epochsSeen.get(`${from}/${s.body.view}`) ?? 0) + 1);
      return;
    }
    // One signature, one body. Only slot bodies (never status or accusations) reach `seen`, so
    // the pair is a Proof.
    if (!sameBytes(first.sig, s.sig) && !sameBytes(bodyBytes(first.body), body)) this.convict({ a: first, b: s } as Proof, slot);
  }

  private withinReach(b: AnyBody): boolean {
    const L = this.timing.logWindow;
    switch (b.t) {
      case 'request':
        return b.counter > this.lastCounter[b.from]! && b.counter <= this.lastCounter[b.from]! + REQUESTS_AHEAD;
      case 'pre-prepare':
      case 'prepare':
      case 'commit':
        if (b.t === 'pre-prepare' && b.from !== this.primary(b.view)) return false;
        return b.seq > this.stable && b.seq <= this.stable + L && b.view + 1 >= this.view && b.view <= this.view + 1;
      case 'checkpoint':
        return b.seq > this.stable && b.seq <= this.stable + 4 * L;
      case 'view-change':
        // An honest member votes once per view in each epoch; two epochs per view are plenty.
        return b.view >= this.view && b.view <= this.view + 2 * this.n && (this.epochsSeen.get(`${b.from}/${b.view}`) ?? 0) < 2;
      case 'new-view':
        return b.from === this.primary(b.view) && b.view >= this.view && b.view <= this.view + 2 * this.n;
      default:
        return false;
    }
  }

  private forget(slot: string): void {
    const s = this.seen.get(slot);
    if (!s) return;
    this.seen.delete(slot);
    if (s.body.from !== this.me) this.seenCount[s.body.from]!--;
    if (s.body.t === 'view-change') {
      const key = `${s.body.from}/${s.body.view}`;
      const left = (this.epochsSeen.get(key) ?? 1) - 1;
      if (left > 0) this.epochsSeen.set(key, left);
      else this.epochsSeen.delete(key);
    }
  }

  private convict(proof: Proof, slot: string): void {
    const member = proof.a.body.from;
    if (this.proofs.has(member)) return;
    this.proofs.set(member, proof);
    this.out.push({ kind: 'evidence', member, slot, proof });
    this.send('all', { k: 'evidence', proof });
    // A primary proven to lie is not given the benefit of the doubt.
    if (member === this.primary() && this.changing === null) this.startViewChange(this.view + 1, 'primary-proven');
  }

  private expose(message: Wire, signed: Signed): void {
    const key = `${slotKey(signed.body)}/${toHex(signed.sig)}`;
    if (this.exposed.has(key) || signed.body.from === this.me) return;
    if (this.exposed.size > 4096) this.exposed.clear();
    this.exposed.add(key);
    this.send('all', message);
  }

  private validRequest(r: Signed<RequestBody>): boolean {
    return this.valid(r);
  }

  // ---- The normal case ----
  // A request is admitted, the primary assigns it a sequence number in a PRE-PREPARE, backups
  // PREPARE it, 2f matching prepares make it prepared and each member COMMITs, 2f + 1 matching
  // commits make it committed, and committed batches execute in sequence order.

  private onRequest(from: number, req: Signed<RequestBody>): void {
    if (!this.validRequest(req)) return this.drop(from, 'bad-signature');
    this.admit(req, from);
  }

  /**
   * A valid request joins the pool unless already executed or too far ahead of its member's last
   * executed counter; its timer starts now.
   */
  private admit(req: Signed<RequestBody>, from = this.me): void {
    const { from: member, counter } = req.body;
    if (counter <= this.lastCounter[member]!) return;
    if (counter > this.lastCounter[member]! + REQUESTS_AHEAD) return this.drop(from, 'request-too-far-ahead');
    const id = requestId(member, counter);
    if (this.pending.has(id)) return;
    this.pending.set(id, { req, since: this.now, carried: false });
    if (this.isPrimary() && this.changing === null) this.assign();
  }

  private issue(op: RequestOp): void {
    // A recovery request takes the next counter this member knows of; the others continue its own.
    this.myCounter = Math.max(this.myCounter, this.lastCounter[this.me]!);
    const counter = op.kind === 'recover' ? this.lastCounter[this.me]! + 1 : ++this.myCounter;
    const req = this.sign<RequestBody>({ t: 'request', room: this.roster.room, from: this.me, counter, op });
    if (!req) return;
    this.myOutstanding = req;
    this.send('all', { k: 'request', req });
    this.admit(req);
  }

  /**
   * The next request of this member, once the last one executed: a queued lunch intent, or while
   * it recovers its recovery request or an `advance` (Recovery.nextRequest says which).
   */
  private issueQueued(): void {
    if (this.myOutstanding) return;
    const next = this.recovery.nextRequest(this.myQueue);
    if (next) this.issue(next);
  }

  /** Its own request is outstanding only until it has executed, however that became known. */
  private forgetExecutedOwn(): void {
    if (this.myOutstanding && this.myOutstanding.body.counter <= this.lastCounter[this.me]!) this.myOutstanding = null;
  }

  private isPrimary(view = this.view): boolean {
    return this.primary(view) === this.me;
  }

  /**
   * Assign waiting requests to sequence numbers, in batches, taking members in turn so that one
   * member flooding requests cannot starve the others.
   */
  private assign(): void {
    if (!this.recovery.maySignIn(this.view, this.voted)) return;
    while (this.nextSeq - 1 - this.executedSeq < this.timing.maxInFlight && this.nextSeq <= this.stable + this.timing.logWindow) {
      const byMember = new Map<number, Signed<RequestBody>[]>();
      for (const p of this.pending.values()) {
        const { from, counter } = p.req.body;
        if (counter <= this.lastCounter[from]! || this.assigned.has(requestId(from, counter))) continue;
        const list = byMember.get(from) ?? [];
        list.push(p.req);
        byMember.set(from, list);
      }
      if (byMember.size === 0) return;
      for (const list of byMember.values()) list.sort((a, b) => a.body.counter - b.body.counter);
      // Bounded in count and in bytes. Every admitted request is far below MAX_BATCH_BYTES, so a
      // batch always takes at least one; the rest wait for the next sequence number.
      const batch: Signed<RequestBody>[] = [];
      let bytes = BATCH_OVERHEAD;
      let full = false;
      for (let round = 0; !full; round++) {
        let added = false;
        for (let k = 0; k < this.n && !full; k++) {
          const r = byMember.get((this.rrStart + k) % this.n)?.[round];
          if (!r) continue;
          const size = requestBytes(r);
          if (batch.length > 0 && bytes + size > MAX_BATCH_BYTES) {
            full = true;
            break;
          }
          batch.push(r);
          bytes += size;
          added = true;
          full = batch.length >= this.timing.maxBatch;
        }
        if (!added) break;
      }
      this.rrStart = (this.rrStart + 1) % this.n;
      const seq = this.nextSeq++;
      const pp = this.sign<PrePrepareBody>({
        t: 'pre-prepare', room: this.roster.room, from: this.me, view: this.view, seq, digest: batchDigest(batch),
      }, batch);
      if (!pp) return;
      const msg: Wire = { k: 'pre-prepare', pp, batch };
      this.send('all', msg);
      this.acceptPrePrepare(pp, batch);
      this.slot(this.view, seq).sent.push(msg);
    }
  }

  private onPrePrepare(from: number, pp: Signed<PrePrepareBody>, batch: Signed<RequestBody>[]): void {
    const { view } = pp.body;
    if (!this.valid(pp)) return this.drop(from, 'bad-signature');
    if (pp.body.from !== this.primary(view)) return this.drop(from, 'not-from-primary');
    if (view > this.view) return this.askNewView(from, view);
    if (view < this.view || view < this.voted || this.changing !== null) return this.drop(from, 'wrong-view');
    if (!this.acceptBatch(from, pp, batch)) return;
    this.lastHeardPrimary = this.now;
    this.acceptPrePrepare(pp, batch);
  }

  private acceptBatch(from: number, pp: Signed<PrePrepareBody>, batch: Signed<RequestBody>[]): boolean {
    let problem: string | null = null;
    // Encoded only for a slot in the window: a liar's pre-prepares far ahead cost no encoding.
    const encoded = this.inWindow(pp.body.seq) ? batchBytes(batch) : null;
    if (encoded === null) problem = 'outside-window';
    else if (encoded.length > MAX_BATCH_BYTES) problem = 'batch-too-large';
    else if (!sameBytes(sha256(encoded), pp.body.digest)) problem = 'digest-mismatch';
    else if (!batch.every((r) => this.validRequest(r))) problem = 'bad-request-in-batch';
    if (problem) this.drop(from, problem);
    return problem === null;
  }

  /** Accept the primary's assignment for (view, seq) and, as a backup, vouch for it with a prepare. */
  private acceptPrePrepare(pp: Signed<PrePrepareBody>, batch: Signed<RequestBody>[]): void {
    const slot = this.slot(pp.body.view, pp.body.seq);
    if (slot.pp) return; // one per (view, seq); a different one has already convicted the primary
    slot.pp = pp;
    slot.batch = batch;
    this.exposeMismatches(slot);
    for (const r of batch) this.assigned.add(requestId(r.body.from, r.body.counter));
    if (!this.isPrimary(pp.body.view)) {
      const prepare = this.sign<PrepareBody>({
        t: 'prepare', room: this.roster.room, from: this.me, view: pp.body.view, seq: pp.body.seq, digest: pp.body.digest,
      });
      if (prepare) {
        slot.prepares.set(this.me, prepare);
        const msg: Wire = { k: 'prepare', prepare, pp };
        slot.sent.push(msg);
        this.send('all', msg);
      }
    }
    this.checkPrepared(slot);
  }

  private slot(view: number, seq: number): Slot {
    const key = `${view}:${seq}`;
    let s = this.slots.get(key);
    if (!s) {
      s = { view, seq, pp: null, batch: null, prepares: new Map(), commits: new Map(), prepared: false, committed: false, sent: [] };
      this.slots.set(key, s);
    }
    return s;
  }

  private onPrepare(from: number, prepare: Signed<PrepareBody>, pp: Signed<PrePrepareBody>): void {
    // The primary's signed header rides along so that conflicting pre-prepares meet here.
    if (!this.valid(prepare) || !this.valid(pp)) return this.drop(from, 'bad-signature');
    const { view, seq, digest } = prepare.body;
    if (pp.body.from !== this.primary(pp.body.view)) return this.drop(from, 'not-from-primary');
    if (pp.body.view !== view || pp.body.seq !== seq || !sameBytes(pp.body.digest, digest)) {
      // A signed prepare that contradicts the header it carries: whoever holds its author's other
      // prepare for this slot can prove the author lied, so show it to everyone.
      this.expose({ k: 'prepare', prepare, pp }, prepare);
      return this.drop(from, 'header-mismatch');
    }
    if (prepare.body.from === this.primary(view)) return this.drop(from, 'prepare-from-primary');
    if (view > this.view) return this.askNewView(from, view);
    if (view < this.view || view < this.voted) return this.drop(from, 'wrong-view');
    if (!this.inWindow(seq)) return this.drop(from, 'outside-window');
    const slot = this.slot(view, seq);
    if (!slot.prepares.has(prepare.body.from)) slot.prepares.set(prepare.body.from, prepare);
    this.checkPrepared(slot);
  }

  private onCommit(from: number, commit: Signed<CommitBody>): void {
    if (!this.valid(commit)) return this.drop(from, 'bad-signature');
    const { view, seq } = commit.body;
    if (view > this.view) return this.askNewView(from, view);
    if (view < this.view || view < this.voted) return this.drop(from, 'wrong-view');
    if (!this.inWindow(seq)) return this.drop(from, 'outside-window');
    const slot = this.slot(view, seq);
    if (!slot.commits.has(commit.body.from)) slot.commits.set(commit.body.from, commit);
    this.exposeMismatches(slot);
    this.checkCommitted(slot);
  }

  /**
   * Commits that disagree with the slot's pre-prepare are passed to everyone once: a member that
   * told others something else is then caught wherever the two versions meet. (A prepare carries
   * the pre-prepare it answers; one that contradicts it is passed on by onPrepare.)
   */
  private exposeMismatches(slot: Slot): void {
    if (!slot.pp) return;
    for (const c of slot.commits.values()) {
      if (!sameBytes(c.body.digest, slot.pp.body.digest)) this.expose({ k: 'commit', commit: c }, c);
    }
  }

  private matching<T extends Signed<PrepareBody | CommitBody>>(slot: Slot, map: Map<number, T>): T[] {
    const digest = slot.pp!.body.digest;
    return [...map.values()].filter((m) => sameBytes(m.body.digest, digest));
  }

  private checkPrepared(slot: Slot): void {
    if (slot.prepared || !slot.pp || !slot.batch || this.changing !== null || slot.view !== this.view) return;
    const prepares = this.matching(slot, slot.prepares).filter((p) => p.body.from !== this.primary(slot.view));
    if (prepares.length < 2 * this.f) return;
    slot.prepared = true;
    const cert: PreparedCert = {
      pp: slot.pp,
      prepares: prepares.sort((a, b) => a.body.from - b.body.from).slice(0, 2 * this.f),
      batch: slot.batch,
    };
    const old = this.preparedCerts.get(slot.seq);
    if (!old || old.pp.body.view < slot.view) this.preparedCerts.set(slot.seq, cert);
    this.out.push({ kind: 'persist', record: { v: WAL_VERSION, kind: 'prepared', cert } });
    const commit = this.sign<CommitBody>({
      t: 'commit', room: this.roster.room, from: this.me, view: slot.view, seq: slot.seq, digest: slot.pp.body.digest,
    });
    if (commit) {
      slot.commits.set(this.me, commit);
      const msg: Wire = { k: 'commit', commit };
      slot.sent.push(msg);
      this.send('all', msg);
    }
    this.checkCommitted(slot);
  }

  private checkCommitted(slot: Slot): void {
    if (slot.committed || !slot.prepared || !slot.pp || !slot.batch) return;
    const commits = this.matching(slot, slot.commits);
    if (commits.length < this.q) return;
    slot.committed = true;
    if (!this.committed.has(slot.seq) && slot.seq > this.executedSeq) {
      const cert: CommitCert = { pp: slot.pp, batch: slot.batch, commits: commits.sort((a, b) => a.body.from - b.body.from).slice(0, this.q) };
      this.committed.set(slot.seq, cert);
      this.out.push({ kind: 'persist', record: { v: WAL_VERSION, kind: 'committed', cert } });
    }
    this.execute();
  }

  private execute(): void {
    let progressed = false;
    for (let cert = this.committed.get(this.executedSeq + 1); cert; cert = this.committed.get(this.executedSeq + 1)) {
      const seq = this.executedSeq + 1;
      const view = cert.pp.body.view;
      const requests: ExecutedRequest[] = [];
      const events: LunchEvent[] = [];
      for (const r of cert.batch) {
        const { from: member, counter, op } = r.body;
        this.pending.delete(requestId(member, counter));
        // Duplicates and replays are skipped here, the same way by everyone.
        if (counter <= this.lastCounter[member]!) continue;
        this.lastCounter[member] = counter;
        requests.push({ member, counter, op });
        if (isLunchOp(op)) {
          const applied = applyLunch(this.lunch, member, { member, counter }, op);
          this.lunch = applied.state;
          events.push(...applied.events);
        } else if (member === this.me) {
          // Where its recovery request lands bounds what this member forgot (recovery.ts).
          const landed = this.recovery.executed(op, seq, view);
          if (landed) this.out.push({ kind: 'persist', record: landed });
        }
      }
      this.executedSeq = seq;
      progressed = true;
      this.out.push({ kind: 'executed', seq, view, requests, events });
      if (seq % this.timing.checkpointInterval === 0) this.checkpoint(seq);
    }
    if (progressed) this.afterProgress();
  }

  private afterProgress(): void {
    this.vcTimeout = this.timing.viewChangeTimeout;
    this.progressInView = true;
    for (const id of [...this.assigned]) {
      const [m, c] = id.split(':').map(Number) as [number, number];
      if (c <= this.lastCounter[m]!) this.assigned.delete(id);
    }
    // A request overtaken by a higher counter of its member can never execute: its timer must
    // not hold the room hostage.
    for (const [id, p] of this.pending) if (p.req.body.counter <= this.lastCounter[p.req.body.from]!) this.pending.delete(id);
    this.forgetExecutedOwn();
    this.recovery.settle(this.stable);
    this.issueQueued();
    if (this.isPrimary() && this.changing === null) this.assign();
    this.fetchMissing();
  }

  // ---- View change ----
  // A member that suspects the primary votes for the next view (VIEW-CHANGE) with what it
  // prepared; 2f + 1 votes let the new primary send a NEW-VIEW that re-issues the prepared batches.

  private startViewChange(wanted: number, why: ViewChangeReason): void {
    // A member without its records cannot vote; it keeps following the view it is in (and any
    // NEW-VIEW the others agree on) instead of giving up on it.
    if (this.recovery.amnesic) return;
    if (wanted <= this.view || (this.changing !== null && this.changing >= wanted)) return;
    this.changing = wanted;
    this.vcDeadline = null;
    this.out.push({ kind: 'view', view: this.view, changing: true, to: wanted, why });
    const prepared = [...this.preparedCerts.values()].filter((c) => c.pp.body.seq > this.stable).sort((a, b) => a.pp.body.seq - b.pp.body.seq);
    const vc = this.sign<ViewChangeBody>({
      t: 'view-change', room: this.roster.room, from: this.me, view: wanted, epoch: this.recovery.epoch,
      stable: this.stable, proof: this.stableProof, prepared,
    });
    if (!vc) return;
    this.voted = Math.max(this.voted, wanted);
    const msg: Wire = { k: 'view-change', vc };
    this.myViewChanges.set(wanted, msg);
    this.viewChanges.set(this.me, vc);
    this.send('all', msg);
    this.checkViewChangeQuorum(wanted);
  }

  private onViewChange(from: number, vc: Signed<ViewChangeBody>): void {
    if (!validViewChange(this.certs, vc)) return this.drop(from, 'bad-view-change');
    const target = vc.body.view;
    if (target <= this.view) {
      // A member still changing to a view we already entered: hand it the new view.
      if (target === this.view && this.newView) this.serve(vc.body.from, 'new-view', { k: 'new-view', nv: this.newView });
      return;
    }
    // One vote per member is kept, its highest: a member never goes back to a lower view.
    const old = this.viewChanges.get(vc.body.from);
    if (!old || old.body.view < target) this.viewChanges.set(vc.body.from, vc);
    // f + 1 members want a higher view: at least one is honest, so join the smallest of them.
    const floor = Math.max(this.view, this.changing ?? this.view);
    const above = [...this.viewChanges.values()].map((x) => x.body.view).filter((w) => w > floor);
    if (above.length >= this.f + 1) this.startViewChange(Math.min(...above), 'others-asked');
    if (this.changing !== null && target >= this.changing) this.checkViewChangeQuorum(this.changing);
  }

  /** The members whose latest vote is for exactly `view`, by member. */
  private votesFor(view: number): Signed<ViewChangeBody>[] {
    return [...this.viewChanges.values()].filter((vc) => vc.body.view === view).sort((a, b) => a.body.from - b.body.from);
  }

  private membersWantingAtLeast(view: number): number {
    let count = 0;
    for (const vc of this.viewChanges.values()) if (vc.body.view >= view) count++;
    return count;
  }

  private checkViewChangeQuorum(target: number): void {
    if (this.changing !== target) return;
    // The view-change timer runs once 2f + 1 members want this view or a higher one.
    if (this.membersWantingAtLeast(target) >= this.q) this.vcDeadline ??= this.now + this.vcTimeout;
    const votes = this.votesFor(target);
    if (votes.length < this.q) return;
    if (!this.isPrimary(target) || this.sentNewViewFor >= target) return;
    this.sentNewViewFor = target;
    const chosen = votes.slice(0, this.q);
    const plan = planNewView(chosen);
    const pps: Signed<PrePrepareBody>[] = [];
    for (const e of plan) {
      const pp = this.sign<PrePrepareBody>({ t: 'pre-prepare', room: this.roster.room, from: this.me, view: target, seq: e.seq, digest: e.digest }, e.batch);
      if (!pp) return;
      pps.push(pp);
    }
    const nv = this.sign<NewViewBody>({ t: 'new-view', room: this.roster.room, from: this.me, view: target, vcs: chosen, pps });
    if (!nv) return;
    this.send('all', { k: 'new-view', nv });
    this.enterView(nv, plan);
  }

  private onNewView(from: number, nv: Signed<NewViewBody>): void {
    const { view } = nv.body;
    if (view <= this.view) return;
    // Never look back: having voted for a higher view, this member has vouched for everything it
    // prepared below it; following a lower view now would make that statement false.
    if (view < this.voted) return this.drop(from, 'new-view-below-vote');
    const checked = checkNewView(this.certs, nv);
    if ('refused' in checked) return this.drop(from, checked.refused);
    this.enterView(nv, checked.plan);
  }

  private enterView(nv: Signed<NewViewBody>, plan: PlanEntry[]): void {
    const view = nv.body.view;
    this.view = view;
    this.changing = null;
    this.vcDeadline = null;
    this.newView = nv;
    this.progressInView = false;
    this.lastHeardPrimary = this.now;
    this.out.push({ kind: 'persist', record: { v: WAL_VERSION, kind: 'view', nv } });
    for (const key of [...this.slots.keys()]) if (this.slots.get(key)!.view < view) this.slots.delete(key);
    for (const [m, vc] of [...this.viewChanges]) if (vc.body.view <= view) this.viewChanges.delete(m);
    for (const w of [...this.myViewChanges.keys()]) if (w < view) this.myViewChanges.delete(w);
    this.assigned.clear();
    for (const p of this.pending.values()) {
      p.since = this.now;
      p.carried = true;
    }
    // The new view starts above the highest stable checkpoint among its view-changes; a member
    // below it fetches that state.
    const best = nv.body.vcs.reduce((a, b) => (b.body.stable > a.body.stable ? b : a));
    this.learnStable(best.body.stable, best.body.proof);
    const maxS = plan.length ? plan[plan.length - 1]!.seq : best.body.stable;
    this.nextSeq = Math.max(maxS, this.executedSeq, this.stable) + 1;
    this.out.push({ kind: 'view', view, changing: false });
    for (const [i, e] of plan.entries()) {
      const pp = nv.body.pps[i]!;
      this.acceptPrePrepare(pp, e.batch);
      // The primary sends its re-issued pre-prepares again like any other, for whoever missed them.
      if (this.isPrimary(view)) this.slot(view, e.seq).sent.push({ k: 'pre-prepare', pp, batch: e.batch });
    }
    this.collectGarbage();
    if (this.proofs.has(this.primary())) this.startViewChange(view + 1, 'primary-proven');
    else if (this.isPrimary()) this.assign();
  }

  private onGetNewView(from: number, view: number): void {
    if (this.newView && this.newView.body.view === view) this.serve(from, 'new-view', { k: 'new-view', nv: this.newView });
  }

  private askNewView(from: number, view: number): void {
    if (view <= this.view) return;
    this.serve(from, 'get-new-view', { k: 'get-new-view', view });
  }

  // ---- Checkpoints and state transfer ----
  // Every K sequence numbers a checkpoint; 2f + 1 matching ones make it stable, and what lies
  // below it is forgotten. A member that is behind fetches commit certificates, or the certified
  // state itself.

  private inWindow(seq: number): boolean {
    return seq > this.stable && seq <= this.stable + this.timing.logWindow;
  }

  private stateBytes(): Uint8Array {
    return encode([encodeLunchState(this.lunch), this.lastCounter]);
  }

  private checkpoint(seq: number): void {
    const bytes = this.stateBytes();
    this.myStates.set(seq, bytes);
    const cp = this.sign<CheckpointBody>({ t: 'checkpoint', room: this.roster.room, from: this.me, seq, digest: sha256(bytes) });
    if (!cp) return;
    this.checkpointsAt(seq).set(this.me, cp);
    this.send('all', { k: 'checkpoint', checkpoint: cp });
    this.checkStable(seq);
  }

  private checkpointsAt(seq: number): Map<number, Signed<CheckpointBody>> {
    let m = this.checkpoints.get(seq);
    if (!m) {
      m = new Map();
      this.checkpoints.set(seq, m);
    }
    return m;
  }

  private onCheckpoint(from: number, cp: Signed<CheckpointBody>): void {
    if (!this.valid(cp)) return this.drop(from, 'bad-signature');
    const { seq } = cp.body;
    if (seq % this.timing.checkpointInterval !== 0) return this.drop(from, 'bad-checkpoint');
    if (seq <= this.stable) return;
    // Bounded memory: checkpoints within reach, and beyond it only while few sequence numbers are kept.
    if (seq > this.stable + 4 * this.timing.logWindow && !this.checkpoints.has(seq) && this.checkpoints.size > 4 * this.n) return;
    this.checkpointsAt(seq).set(cp.body.from, cp);
    this.checkStable(seq);
  }

  /** 2f + 1 matching checkpoints make `seq` stable; a replica without that state fetches it. */
  private checkStable(seq: number): void {
    const at = this.checkpoints.get(seq);
    if (!at || seq <= this.stable) return;
    const groups = new Map<string, Signed<CheckpointBody>[]>();
    for (const cp of at.values()) {
      const key = toHex(cp.body.digest);
      groups.set(key, [...(groups.get(key) ?? []), cp]);
    }
    for (const proof of groups.values()) {
      if (proof.length < this.q) continue;
      return this.learnStable(seq, proof);
    }
  }

  /**
   * A certified checkpoint, however it reached us (2f + 1 CHECKPOINTs, or the proof inside a
   * view-change or NEW-VIEW), becomes our stable state: at once if we executed to it ourselves,
   * by state transfer if we are behind. Without this, a member that executed past a checkpoint
   * but never collected its quorum keeps its window below a NEW-VIEW that starts above it, and as
   * primary can assign nothing (found by the 100,000-seed run, seed 32590).
   */
  private learnStable(seq: number, proof: Signed<CheckpointBody>[]): void {
    if (seq <= this.stable) return;
    const mine = this.myStates.get(seq);
    if (mine && sameBytes(sha256(mine), proof[0]!.body.digest)) return this.makeStable(seq, proof, mine);
    if (seq > this.executedSeq) this.startTransfer(seq, proof);
  }

  private makeStable(seq: number, proof: Signed<CheckpointBody>[], bytes: Uint8Array): void {
    this.stable = seq;
    this.stableProof = [...proof].sort((a, b) => a.body.from - b.body.from).slice(0, this.q);
    this.stableBytes = bytes;
    this.out.push({ kind: 'persist', record: { v: WAL_VERSION, kind: 'stable', seq, bytes, proof: this.stableProof } });
    this.recovery.settle(seq);
    this.collectGarbage();
  }

  /** Forget everything at or below the stable checkpoint, except proofs of equivocation, and what lies in views left behind. */
  private collectGarbage(): void {
    const h = this.stable;
    for (const [key, slot] of this.slots) if (slot.seq <= h) this.slots.delete(key);
    for (const seq of this.committed.keys()) if (seq <= h) this.committed.delete(seq);
    for (const seq of this.preparedCerts.keys()) if (seq <= h) this.preparedCerts.delete(seq);
    for (const seq of this.checkpoints.keys()) if (seq <= h) this.checkpoints.delete(seq);
    for (const seq of this.myStates.keys()) if (seq <= h) this.myStates.delete(seq);
    for (const [key, signed] of this.seen) if (this.forgettable(signed.body, h)) this.forget(key);
    if (this.nextSeq <= h) this.nextSeq = h + 1;
  }

  /**
   * Whether a body in `seen` may be forgotten with the stable checkpoint at `h`: what the
   * checkpoint makes obsolete (wal.ts), and what lies out of reach behind the current view or a
   * member's executed counter.
   */
  private forgettable(b: AnyBody, h: number): boolean {
    const obsoleteAt = obsoleteAtOrBelow(b);
    if (obsoleteAt !== null && obsoleteAt <= h) return true;
    switch (b.t) {
      case 'pre-prepare':
      case 'prepare':
      case 'commit':
        return b.view + 1 < this.view;
      case 'checkpoint':
        return false;
      case 'request':
        return b.counter <= this.lastCounter[b.from]!;
      case 'view-change':
      case 'new-view':
        return b.view < this.view;
      default:
        return true;
    }
  }

  private onStatus(member: number, view: number, executed: number): void {
    if (member === this.primary() && view === this.view) this.lastHeardPrimary = this.now;
    this.peerExecuted[member] = Math.max(this.peerExecuted[member]!, executed);
    if (view > this.view && (this.changing === null || view >= this.changing)) this.askNewView(member, view);
    this.fetchMissing();
  }

  /** Whenever a peer has executed further, fetch the next batch with its commit certificate. */
  private fetchMissing(): void {
    const want = this.executedSeq + 1;
    if (this.committed.has(want)) return;
    if (this.fetching && this.fetching.seq === want && this.now - this.fetching.at < this.timing.retransmitInterval) return;
    const ahead = this.peerExecuted.map((e, m) => ({ e, m })).filter((p) => p.e >= want && p.m !== this.me);
    if (ahead.length === 0) return;
    // Rotate through the peers that are ahead so one that refuses to answer only delays us.
    const attempt = this.fetching?.seq === want ? Math.floor(this.now / this.timing.retransmitInterval) : 0;
    const peer = ahead[attempt % ahead.length]!.m;
    this.fetching = { seq: want, at: this.now };
    this.send(peer, { k: 'fetch', seq: want });
  }

  private onFetch(from: number, seq: number): void {
    const cert = this.committed.get(seq);
    if (cert) return this.serve(from, `fetch/${seq}`, { k: 'committed', cert });
    // Forgotten below the stable checkpoint: offer the certified state instead.
    if (seq <= this.stable && this.stable > 0) this.onGetState(from, this.stable, 0);
  }

  private onCommitted(from: number, cert: CommitCert): void {
    if (!validCommitCert(this.certs, cert)) return this.drop(from, 'bad-certificate');
    const { seq } = cert.pp.body;
    if (seq <= this.executedSeq || this.committed.has(seq) || seq > this.stable + 4 * this.timing.logWindow) return;
    this.committed.set(seq, cert);
    this.out.push({ kind: 'persist', record: { v: WAL_VERSION, kind: 'committed', cert } });
    this.execute();
  }

  private startTransfer(seq: number, proof: Signed<CheckpointBody>[]): void {
    if (seq <= this.executedSeq || (this.transfer && this.transfer.seq >= seq)) return;
    this.transfer = { seq, digest: proof[0]!.body.digest, proof, chunks: [], attempt: 0, at: this.now };
    this.requestChunk();
  }

  /** Ask the next signer of the proof for the first missing chunk: one that lies only delays us. */
  private requestChunk(): void {
    const t = this.transfer!;
    const holders = t.proof.map((cp) => cp.body.from).filter((m) => m !== this.me);
    const peer = holders[t.attempt % holders.length]!;
    let chunk = t.chunks.findIndex((c) => c === undefined);
    if (chunk < 0) chunk = t.chunks.length;
    t.at = this.now;
    this.send(peer, { k: 'get-state', seq: t.seq, chunk });
  }

  private onGetState(from: number, seq: number, chunk: number): void {
    if (seq !== this.stable || this.stable === 0) return;
    const chunks = Math.max(1, Math.ceil(this.stableBytes.length / STATE_CHUNK_BYTES));
    if (chunk >= chunks) return this.drop(from, 'bad-state-request');
    const bytes = this.stableBytes.subarray(chunk * STATE_CHUNK_BYTES, (chunk + 1) * STATE_CHUNK_BYTES);
    this.serve(from, `state/${chunk}`, { k: 'state', seq, proof: this.stableProof, chunk, chunks, bytes });
  }

  private onState(from: number, m: Extract<Wire, { k: 'state' }>): void {
    if (m.seq <= this.executedSeq && m.seq <= this.stable) return;
    if (!this.transfer || this.transfer.seq < m.seq) {
      // Offered a newer stable state than we knew of: its proof decides whether we want it.
      if (m.seq <= this.executedSeq || validCheckpointProof(this.certs, m.seq, m.proof) === null) return this.drop(from, 'bad-state');
      this.startTransfer(m.seq, m.proof);
    }
    const t = this.transfer!;
    if (m.seq !== t.seq || m.chunks < 1 || m.chunks > 4096 || m.chunk >= m.chunks) return this.drop(from, 'bad-state');
    if (t.chunks.length !== m.chunks) t.chunks = new Array<Uint8Array | undefined>(m.chunks).fill(undefined);
    t.chunks[m.chunk] = m.bytes;
    if (t.chunks.some((c) => c === undefined)) return this.requestChunk();
    const bytes = concat(...(t.chunks as Uint8Array[]));
    const state = sameBytes(sha256(bytes), t.digest) ? this.decodeState(bytes) : null;
    if (!state) {
      // A responder sent something other than the certified state: try the next one.
      t.chunks = [];
      t.attempt++;
      this.drop(from, 'bad-state');
      return this.requestChunk();
    }
    this.transfer = null;
    this.adoptState(t.seq, t.proof, bytes, state.lunch, state.lastCounter);
  }

  private decodeState(bytes: Uint8Array): { lunch: LunchState; lastCounter: number[] } | null {
    let raw: unknown;
    try {
      raw = decode(bytes, { strict: true, useMaps: false });
    } catch {
      return null;
    }
    const parsed = v.safeParse(StateTuple, raw);
    if (!parsed.success || parsed.output[1].length !== this.n) return null;
    const lunch = decodeLunchState(parsed.output[0], this.n);
    return lunch ? { lunch, lastCounter: parsed.output[1] } : null;
  }

  private adoptState(seq: number, proof: Signed<CheckpointBody>[], bytes: Uint8Array, lunch: LunchState, lastCounter: number[]): void {
    this.lunch = lunch;
    for (let m = 0; m < this.n; m++) this.lastCounter[m] = lastCounter[m]!;
    this.executedSeq = seq;
    this.out.push({ kind: 'state', seq, lunch });
    this.makeStable(seq, proof, bytes);
    this.afterProgress();
    this.execute();
  }

  // ---- Timers ----
  // Heartbeats, the request and view-change timeouts, retransmission.

  private timers(): void {
    const t = this.timing;
    if (this.now >= this.nextHeartbeat) {
      this.nextHeartbeat = this.now + t.heartbeatInterval;
      const status = signBody(this.suite, this.secretKey, {
        t: 'status', room: this.roster.room, from: this.me, view: this.view, executed: this.executedSeq,
      } as const);
      this.send('all', { k: 'status', status });
    }
    if (this.changing === null) {
      // After a failed view change requests wait as long as the (doubled) view-change timer.
      const limit = Math.max(t.requestTimeout, this.vcTimeout);
      const expired = [...this.pending.values()].filter((p) => this.now - p.since >= limit);
      const silent = !this.isPrimary() && this.now - this.lastHeardPrimary >= t.primarySilence;
      if (expired.length > 0 || silent) {
        // A request carried into this view timed out again with nothing executed here: the view
        // change that brought us here failed, and the next one gets twice as long.
        if (!this.progressInView && expired.some((p) => p.carried)) this.doubleViewChangeTimeout();
        this.startViewChange(this.view + 1, expired.length > 0 ? 'request-late' : 'primary-silent');
      }
    } else if (this.vcDeadline !== null && this.now >= this.vcDeadline) {
      this.doubleViewChangeTimeout();
      this.startViewChange(this.changing + 1, 'view-change-late');
    }
    if (this.now >= this.nextRetransmit) {
      this.nextRetransmit = this.now + t.retransmitInterval;
      this.resending = true;
      this.retransmit();
      this.resending = false;
    }
    if (this.transfer && this.now - this.transfer.at >= t.retransmitInterval) {
      this.transfer.attempt++;
      this.requestChunk();
    }
    this.fetchMissing();
  }

  private doubleViewChangeTimeout(): void {
    this.vcTimeout = Math.min(this.vcTimeout * 2, this.timing.viewChangeTimeout * VIEW_CHANGE_TIMEOUT_CAP);
  }

  /** Resend the stored signed bytes of unfinished work; never re-sign a slot. */
  private retransmit(): void {
    if (this.myOutstanding) this.send('all', { k: 'request', req: this.myOutstanding });
    // A proof is passed on until every honest member must have it: it may have been lost, or
    // met a partition, the first time.
    for (const proof of this.proofs.values()) this.send('all', { k: 'evidence', proof });
    // Backups pass on requests the primary seems not to have assigned, in case it never got them.
    if (this.changing === null && !this.isPrimary()) {
      for (const p of this.pending.values()) {
        const { from, counter } = p.req.body;
        if (from !== this.me && !this.assigned.has(requestId(from, counter)) && this.now - p.since >= this.timing.retransmitInterval) {
          this.send(this.primary(), { k: 'request', req: p.req });
        }
      }
    }
    if (this.changing !== null) {
      const vc = this.myViewChanges.get(this.changing);
      if (vc) this.send('all', vc);
      return;
    }
    for (const slot of this.slots.values()) {
      if (slot.view !== this.view || slot.seq <= this.executedSeq) continue;
      for (const msg of slot.sent) this.send('all', msg);
    }
  }

  // ---- Restore ----
  // Rebuilding a replica from its write-ahead records after a restart.

  /**
   * Rebuild a replica from its write-ahead records after a restart. Records are checked like any
   * other input. When they are lost (`lost`, or no record starts the log), unreadable, or
   * contradict each other, the replica keeps what it can but assumes it forgot what it signed,
   * and recovers (recovery.ts) with `options.nonce`.
   */
  static restore(config: ReplicaConfig, records: readonly unknown[], options: RestoreOptions): { replica: Replica; effects: Effect[]; report: RestoreReport } {
    if (!(options.nonce instanceof Uint8Array) || options.nonce.length !== RECOVERY_NONCE_BYTES) {
      throw new TypeError(`restore needs ${RECOVERY_NONCE_BYTES} fresh random bytes as the nonce of a possible recovery`);
    }
    const r = new Replica(config);
    r.needsStart = false;
    const rejected: { index: number; reason: string }[] = [];
    const effects = r.run(() => r.load(records, rejected, options));
    return { replica: r, effects, report: { used: records.length - rejected.length, rejected, amnesia: r.recovery.amnesic } };
  }

  private load(records: readonly unknown[], rejected: { index: number; reason: string }[], options: RestoreOptions): void {
    let stable: { seq: number; bytes: Uint8Array; proof: Signed<CheckpointBody>[]; state: { lunch: LunchState; lastCounter: number[] } } | null = null;
    const committed: CommitCert[] = [];
    const ownPrePrepares: { pp: Signed<PrePrepareBody>; batch: Signed<RequestBody>[] }[] = [];
    let maxView = 0;
    let lastRequest: Signed<RequestBody> | null = null;
    let newView: { nv: Signed<NewViewBody>; index: number } | null = null;
    let started = false;
    for (const [index, raw] of records.entries()) {
      const parsed = v.safeParse(WalRecord, raw);
      if (!parsed.success) {
        rejected.push({ index, reason: 'not a write-ahead record of this version' });
        continue;
      }
      const rec = parsed.output;
      switch (rec.kind) {
        case 'start':
          started = true;
          break;
        case 'lost':
        case 'recovery':
          this.recovery.load(rec, index);
          break;
        case 'signed': {
          const b = rec.signed.body;
          const slot = slotKey(b);
          if (b.from !== this.me || slot === null || !this.valid(rec.signed)) {
            rejected.push({ index, reason: 'not a valid message signed by this member' });
            break;
          }
          const earlier = this.seen.get(slot);
          if (earlier && earlier.body.from === this.me && !sameBytes(bodyBytes(earlier.body), bodyBytes(b))) {
            rejected.push({ index, reason: `conflicts with an earlier record for ${slot}` });
            break;
          }
          this.seen.set(slot, rec.signed);
          if (b.t === 'request' && (!lastRequest || b.counter > lastRequest.body.counter)) lastRequest = rec.signed as Signed<RequestBody>;
          if (b.t === 'pre-prepare' || b.t === 'prepare' || b.t === 'commit' || b.t === 'new-view') maxView = Math.max(maxView, b.view);
          if (b.t === 'pre-prepare' && rec.batch) {
            // A batch that is not the one signed is damage, not something to number over.
            if (!validBatch(this.certs, rec.batch, b.digest)) {
              rejected.push({ index, reason: 'a pre-prepare whose batch is not the one it signed' });
              break;
            }
            ownPrePrepares.push({ pp: rec.signed as Signed<PrePrepareBody>, batch: rec.batch });
          }
          if (b.t === 'view-change') this.myViewChanges.set(b.view, { k: 'view-change', vc: rec.signed as Signed<ViewChangeBody> });
          break;
        }
        case 'stable': {
          const digest = validCheckpointProof(this.certs, rec.seq, rec.proof);
          const state = digest && sameBytes(sha256(rec.bytes), digest) ? this.decodeState(rec.bytes) : null;
          if (!state) rejected.push({ index, reason: 'stable state does not match its checkpoint proof' });
          else if (!stable || rec.seq > stable.seq) stable = { seq: rec.seq, bytes: rec.bytes, proof: rec.proof, state };
          break;
        }
        case 'view':
          if (!newView || rec.nv.body.view > newView.nv.body.view) newView = { nv: rec.nv, index };
          break;
        case 'prepared':
          if (!validPreparedCert(this.certs, rec.cert, Number.MAX_SAFE_INTEGER)) rejected.push({ index, reason: 'invalid prepared certificate' });
          else {
            const old = this.preparedCerts.get(rec.cert.pp.body.seq);
            if (!old || old.pp.body.view < rec.cert.pp.body.view) this.preparedCerts.set(rec.cert.pp.body.seq, rec.cert);
          }
          break;
        case 'committed':
          if (!validCommitCert(this.certs, rec.cert)) rejected.push({ index, reason: 'invalid commit certificate' });
          else committed.push(rec.cert);
          break;
      }
    }
    if (stable) {
      this.lunch = stable.state.lunch;
      for (let m = 0; m < this.n; m++) this.lastCounter[m] = stable.state.lastCounter[m]!;
      this.executedSeq = stable.seq;
      this.stable = stable.seq;
      this.stableProof = stable.proof;
      this.stableBytes = stable.bytes;
      this.out.push({ kind: 'state', seq: stable.seq, lunch: this.lunch });
    }
    for (const cert of committed) if (cert.pp.body.seq > this.executedSeq) this.committed.set(cert.pp.body.seq, cert);
    // The view it was in: the latest NEW-VIEW it followed (checked again, like any input), or the
    // latest view it signed in.
    if (newView && newView.nv.body.view >= maxView) {
      const checked = checkNewView(this.certs, newView.nv);
      if ('refused' in checked) rejected.push({ index: newView.index, reason: `a NEW-VIEW that does not check (${checked.refused})` });
      else {
        this.newView = newView.nv;
        maxView = newView.nv.body.view;
      }
    }
    this.view = maxView;
    this.progressInView = false;
    this.voted = Math.max(0, ...this.myViewChanges.keys());
    const vcViews = [...this.myViewChanges.keys()].filter((w) => w > maxView);
    if (vcViews.length > 0) {
      this.changing = Math.max(...vcViews);
      this.viewChanges.set(this.me, (this.myViewChanges.get(this.changing) as Extract<Wire, { k: 'view-change' }>).vc);
    }
    // A restarted primary goes on numbering after what it assigned in this view, and can send
    // those pre-prepares again.
    for (const { pp, batch } of ownPrePrepares) {
      const { view, seq } = pp.body;
      if (view !== this.view || seq <= this.stable) continue;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      const slot = this.slot(view, seq);
      slot.pp = pp;
      slot.batch = batch;
      slot.sent.push({ k: 'pre-prepare', pp, batch });
      for (const r of batch) this.assigned.add(requestId(r.body.from, r.body.counter));
    }
    const loss = this.recovery.restored(options.lost === true, started, rejected, options.nonce);
    if (loss) for (const record of loss) this.out.push({ kind: 'persist', record });
    // The request it signed last is outstanding until it executes: re-executing its records must
    // not let it sign another one meanwhile (one at a time). While it asks to recover, its one
    // outstanding request is its recovery request.
    this.myCounter = lastRequest?.body.counter ?? 0;
    this.myOutstanding = lastRequest !== null && this.recovery.knowsCounters ? lastRequest : null;
    this.execute();
    // The restored stable state may already say it executed, with no record above it to
    // execute again and say so.
    this.forgetExecutedOwn();
    if (lastRequest && lastRequest.body.counter > this.lastCounter[this.me]!) this.admit(lastRequest);
    this.rebuildNewViewSlots();
    if (!loss) this.recovery.settle(this.stable);
    this.collectGarbage();
    this.issueQueued();
  }

  /**
   * After a restart, the slots the NEW-VIEW of the current view re-issued, with what this member
   * signed for them, so that it can go on with them and send its part again.
   */
  private rebuildNewViewSlots(): void {
    const nv = this.newView;
    if (!nv || nv.body.view !== this.view) return;
    const checked = checkNewView(this.certs, nv);
    if ('refused' in checked) return;
    for (const [i, e] of checked.plan.entries()) {
      if (e.seq <= this.executedSeq) continue;
      const pp = nv.body.pps[i]!;
      const slot = this.slot(this.view, e.seq);
      if (slot.pp) continue;
      slot.pp = pp;
      slot.batch = e.batch;
      for (const r of e.batch) this.assigned.add(requestId(r.body.from, r.body.counter));
      if (this.isPrimary()) slot.sent.push({ k: 'pre-prepare', pp, batch: e.batch });
      const prepare = this.seen.get(`prepare/${this.me}/${this.view}/${e.seq}`) as Signed<PrepareBody> | undefined;
      if (prepare && sameBytes(prepare.body.digest, pp.body.digest)) {
        slot.prepares.set(this.me, prepare);
        slot.sent.push({ k: 'prepare', prepare, pp });
      }
      const commit = this.seen.get(`commit/${this.me}/${this.view}/${e.seq}`) as Signed<CommitBody> | undefined;
      if (commit && sameBytes(commit.body.digest, pp.body.digest)) {
        slot.commits.set(this.me, commit);
        slot.sent.push({ k: 'commit', commit });
      }
    }
  }
}

function requestId(member: number, counter: number): string {
  return `${member}:${counter}`;
}


