// Write-ahead records: what a replica persists so that after a restart it is the same member it
// was. They are read back from storage the replica does not control, so every record is versioned
// and validated before use; anything unreadable is reported, and the replica then assumes it has
// forgotten what it signed (see Replica.restore and docs/protocol.md, "Lost records").
import * as v from 'valibot';
import {
  CommitCert, PreparedCert, RECOVERY_NONCE_BYTES, SignedAny, SignedCheckpoint, SignedNewView, SignedRequest, type AnyBody, type Signed,
} from './messages.ts';

/**
 * Bumped whenever a record written by other code could be misread (3: the lunch state in `stable`
 * records counts rounds from 1, so a version 2 state no longer decodes).
 */
export const WAL_VERSION = 3;

const index = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const nonce = v.custom<Uint8Array>((b) => b instanceof Uint8Array && b.length === RECOVERY_NONCE_BYTES, `must be ${RECOVERY_NONCE_BYTES} bytes`);

/** The schema of one write-ahead record: every record read back is checked against it. */
export const WalRecord = v.variant('kind', [
  /**
   * The first record of a log that is whole: written when the replica starts in a room, and again
   * when it starts a new log after a loss. A log without one was lost, not empty.
   */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('start') }),
  /**
   * Something this member signed for a slot; written before anything carrying it is sent. A
   * pre-prepare keeps its batch, so that a restarted primary can send it again.
   */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('signed'), signed: SignedAny, batch: v.optional(v.array(SignedRequest)) }),
  /** A slot prepared here: view changes must report it. */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('prepared'), cert: PreparedCert }),
  /** A decided entry. */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('committed'), cert: CommitCert }),
  /** The state at a stable checkpoint, with its proof; everything below it may be forgotten. */
  v.strictObject({
    v: v.literal(WAL_VERSION), kind: v.literal('stable'), seq: index,
    bytes: v.custom<Uint8Array>((b) => b instanceof Uint8Array, 'must be bytes'), proof: v.array(SignedCheckpoint),
  }),
  /** The NEW-VIEW of the view this member entered, to serve to members that missed it. */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('view'), nv: SignedNewView }),
  /**
   * The member lost its records (or found them unreadable) and recovers with a request carrying
   * this fresh nonce; until it executes, the member signs nothing that could contradict what it
   * forgot.
   */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('lost'), nonce }),
  /** The recovery request with this nonce executed at `seq` in `view`: the bounds of what was forgotten. */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('recovery'), nonce, seq: index, view: index }),
]);
/** One write-ahead record, as the replica hands it out in a `persist` effect. */
export type WalRecord = v.InferOutput<typeof WalRecord>;

/** The record of something this member signed (and, for a pre-prepare, the batch it assigned). */
export function signedRecord(signed: Signed, batch?: Signed[]): WalRecord {
  // Only slot messages are persisted this way, and those are exactly SignedAny.
  return (batch === undefined ? { v: WAL_VERSION, kind: 'signed', signed } : { v: WAL_VERSION, kind: 'signed', signed, batch }) as WalRecord;
}

/**
 * What a stable checkpoint makes obsolete, for the records in storage (room-store.ts compacts the
 * log with it) and for the signed bodies a replica keeps in memory (its garbage collection): the
 * sequence number at or below which a stable checkpoint makes this record or body obsolete, or
 * null when a checkpoint never does. Slot messages (pre-prepare, prepare, commit, checkpoint) and
 * prepared and committed certificates belong to their sequence number; a stable record is
 * obsolete beside the newer one kept. Requests, votes for views, new views, the start of the log
 * and what it says about a loss are not made obsolete by any checkpoint.
 */
export function obsoleteAtOrBelow(item: WalRecord | AnyBody): number | null {
  if ('t' in item) {
    if (item.t === 'pre-prepare' || item.t === 'prepare' || item.t === 'commit' || item.t === 'checkpoint') return item.seq;
    return null;
  }
  switch (item.kind) {
    case 'signed':
      return obsoleteAtOrBelow(item.signed.body);
    case 'prepared':
    case 'committed':
      return item.cert.pp.body.seq;
    case 'stable':
      return item.seq;
    default:
      return null;
  }
}

/** What a restore made of the records it was given. */
export interface RestoreReport {
  /** Records used. */
  readonly used: number;
  /** Records that could not be used, with why. */
  readonly rejected: readonly { index: number; reason: string }[];
  /** True when the replica must assume it forgot what it signed (records lost, corrupt or conflicting). */
  readonly amnesia: boolean;
}
