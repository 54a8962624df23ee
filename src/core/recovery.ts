// What a member may sign after it lost its write-ahead records (docs/protocol.md, "Lost records").
//
// A member that lost its records does not know what it signed, so it asks the room to agree on a
// fresh *recovery request* (a nonce only it has seen, so the request cannot have existed before
// the loss). Where that request executes bounds everything the member could have signed before:
//   - every pre-loss slot lies below seq + L (the request executed above every checkpoint that was
//     stable before the loss, and nothing is signed more than L above one), so once a stable
//     checkpoint reaches seq + L - 1 no old slot can come up again;
//   - every pre-loss vote for a view lies at or below view + 1 (voting two views ahead of where
//     2f + 1 members have been needs 2f + 1 votes, of which f + 1 honest, and at least one of them
//     committed the recovery request in `view` afterwards, which it could not do below its vote);
//   - every pre-loss request counter lies at or below the counter the recovery request consumed.
// Until the request executes the member signs nothing that could contradict what it forgot; then
// it waits for that stable checkpoint; after it, it never prepares, commits, pre-prepares or
// builds a NEW-VIEW below the view floor, and its votes carry a new epoch.
import { VOTING_KINDS, type AnyBody, type LunchOp, type RequestOp } from './messages.ts';
import { WAL_VERSION, type WalRecord } from './wal.ts';

/** Why a body may not be signed now; each is counted as a drop reason when it happens. */
export type Refusal = 'refused-while-amnesic' | 'refused-view-before-loss' | 'refused-looking-back';

/** The kinds a member that lost its records must not sign: they vouch for what it may have forgotten. */
export const FORGETFUL_KINDS: ReadonlySet<AnyBody['t']> = new Set(VOTING_KINDS);
/** The kinds that take part in agreement within one view. */
const IN_VIEW_KINDS: ReadonlySet<AnyBody['t']> = new Set(['pre-prepare', 'prepare', 'commit', 'new-view']);

/** Where a member stands: whole, asking the room to order its recovery request, or waiting for a checkpoint. */
export type RecoveryPhase = 'whole' | 'asking' | 'waiting';

/**
 * The state of a member's recovery from lost records, and every rule that depends on it: the
 * replica asks this object, in one call each, whether it may sign, vote or number its requests.
 */
export class Recovery {
  /** The nonce of the recovery under way, null when the member is whole. */
  private nonce: Uint8Array | null = null;
  /** Where this recovery's request executed, once it has. */
  private landed: { seq: number; view: number } | null = null;
  /** The member never signs PRE-PREPARE, PREPARE, COMMIT or NEW-VIEW in a view below this one. */
  floor = 0;
  /** 0 until the member first recovers, then the sequence number where its latest recovery executed. */
  epoch = 0;
  /** During a restore, the index of the last `lost` record read (-1: none). */
  private lostAt = -1;

  /** `window`: L, how far above a stable checkpoint anything may be signed. */
  constructor(private readonly window: number) {}

  /** Whole, asking (recovery request not yet executed) or waiting (for the checkpoint at the horizon). */
  get phase(): RecoveryPhase {
    return this.nonce === null ? 'whole' : this.landed === null ? 'asking' : 'waiting';
  }

  /** True while the member must assume it forgot what it signed. */
  get amnesic(): boolean {
    return this.nonce !== null;
  }

  /** Whether it knows which request counters are still free: not before its recovery request executed. */
  get knowsCounters(): boolean {
    return this.phase !== 'asking';
  }

  /** The stable checkpoint that ends the waiting (null until the recovery request executed). */
  get horizon(): number | null {
    return this.landed === null ? null : this.landed.seq + this.window - 1;
  }


  /** Records were lost: start asking, with a nonce fresh from the caller. Returns the records that say so. */
  lose(nonce: Uint8Array): WalRecord[] {
    this.nonce = nonce;
    this.landed = null;
    return [{ v: WAL_VERSION, kind: 'start' }, { v: WAL_VERSION, kind: 'lost', nonce }];
  }

  /** Whether a recovery request with this nonce is the one under way and has not executed yet. */
  awaits(nonce: Uint8Array): boolean {
    return this.phase === 'asking' && sameNonce(this.nonce!, nonce);
  }

  /**
   * A request of this member executed at `seq` in `view`: when it is the recovery request under
   * way, the bounds of what the member forgot are known now. Returns the record that says so, to
   * persist, or null for any other request.
   */
  executed(op: RequestOp, seq: number, view: number): WalRecord | null {
    return op.kind === 'recover' && this.awaits(op.nonce) ? this.land(seq, view) : null;
  }

  /** The recovery request executed at `seq` in `view`: the bounds are known. Returns the record to persist. */
  land(seq: number, view: number): WalRecord {
    this.landed = { seq, view };
    this.floor = Math.max(this.floor, view + 1);
    this.epoch = seq;
    return { v: WAL_VERSION, kind: 'recovery', nonce: this.nonce!, seq, view };
  }

  /** Ends the waiting once a stable checkpoint at `stable` reaches the horizon; true if it did just now. */
  settle(stable: number): boolean {
    const horizon = this.horizon;
    if (horizon === null || stable < horizon) return false;
    this.nonce = null;
    this.landed = null;
    return true;
  }

  /** Reads a `lost` or `recovery` record, the `index`th of the log, back during a restore. */
  load(record: Extract<WalRecord, { kind: 'lost' | 'recovery' }>, index: number): void {
    if (record.kind === 'lost') {
      this.nonce = record.nonce;
      this.landed = null;
      this.lostAt = index;
    } else if (this.nonce !== null && sameNonce(this.nonce, record.nonce)) {
      this.land(record.seq, record.view);
    }
  }

  /**
   * After a restore has read every record: whether the member must count them as lost. They are
   * when storage was wiped (`wiped`), when no record starts the log (`started` is false: the log
   * was lost, not empty), or when a record after the last noted loss is unreadable (those before
   * it are already being recovered from). If so the member starts asking again with `nonce`, and
   * this returns the records that say so; null when the records are whole.
   */
  restored(wiped: boolean, started: boolean, rejected: readonly { index: number }[], nonce: Uint8Array): WalRecord[] | null {
    const lost = wiped || !started || rejected.some((r) => r.index > this.lostAt);
    return lost ? this.lose(nonce) : null;
  }

  /**
   * The member's next request, when it has none outstanding: while asking, its recovery request
   * (again, when the last one was passed over); while waiting, the next queued intent, or else an
   * `advance` request that moves the log on to the checkpoint that ends the waiting; when whole,
   * the next queued intent, if any. What it returns from `queue` it takes off the front.
   */
  nextRequest(queue: LunchOp[]): RequestOp | undefined {
    switch (this.phase) {
      case 'asking':
        return { kind: 'recover', nonce: this.nonce! };
      case 'waiting':
        return queue.shift() ?? { kind: 'advance' };
      case 'whole':
        return queue.shift();
    }
  }

  /**
   * Whether the member may take part in agreement (pre-prepare, prepare, commit) in `view` at all:
   * asked before anything is built to be signed; `refusal` then checks each body the same way.
   */
  maySignIn(view: number, voted: number): boolean {
    return !this.amnesic && this.viewRefusal(view, voted) === null;
  }

  /**
   * The one question every signature asks: may this body be signed now? `voted` is the highest
   * view this member voted for in its current epoch; nothing in a view below it is ever signed
   * (its vote vouches for everything it prepared below that view).
   */
  refusal(body: AnyBody, voted: number): Refusal | null {
    if (this.amnesic && FORGETFUL_KINDS.has(body.t)) return 'refused-while-amnesic';
    if (!IN_VIEW_KINDS.has(body.t) || !('view' in body)) return null;
    return this.viewRefusal(body.view, voted);
  }

  /** Never look back below its vote, nor sign in a view before its loss. */
  private viewRefusal(view: number, voted: number): Refusal | null {
    if (view < voted) return 'refused-looking-back';
    if (view < this.floor) return 'refused-view-before-loss';
    return null;
  }
}

function sameNonce(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
