// Write-ahead records: what a replica persists so that after a restart it is the same member it
// was. They are read back from storage the replica does not control, so every record is versioned
// and validated before use; anything unreadable is reported, and the replica then assumes it has
// forgotten what it signed (see Replica.restore).
import * as v from 'valibot';
import { CommitCert, PreparedCert, SignedAny, SignedCheckpoint, type Signed } from './messages.ts';

export const WAL_VERSION = 1;

export const WalRecord = v.variant('kind', [
  /** Something this member signed for a slot; written before anything carrying it is sent. */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('signed'), signed: SignedAny }),
  /** A slot prepared here: view changes must report it. */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('prepared'), cert: PreparedCert }),
  /** A decided entry. */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('committed'), cert: CommitCert }),
  /** The state at a stable checkpoint, with its proof; everything below it may be forgotten. */
  v.strictObject({
    v: v.literal(WAL_VERSION), kind: v.literal('stable'), seq: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    bytes: v.custom<Uint8Array>((b) => b instanceof Uint8Array, 'must be bytes'), proof: v.array(SignedCheckpoint),
  }),
  /**
   * The member lost its records and must sit out until a stable checkpoint reaches `horizon`
   * (null: not yet known). Kept so that a restart during that time does not end it early.
   * `views`: it never again votes in a view change to a view at or below this one.
   */
  v.strictObject({
    v: v.literal(WAL_VERSION), kind: v.literal('amnesia'), horizon: v.nullable(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
    views: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
  }),
  /** The member is safe to sign again, except view changes to views at or below `views`. */
  v.strictObject({ v: v.literal(WAL_VERSION), kind: v.literal('recovered'), views: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))) }),
]);
export type WalRecord = v.InferOutput<typeof WalRecord>;

export function signedRecord(signed: Signed): WalRecord {
  // Only slot messages are persisted this way, and those are exactly SignedAny.
  return { v: WAL_VERSION, kind: 'signed', signed } as WalRecord;
}

export interface RestoreReport {
  /** Records used. */
  readonly used: number;
  /** Records that could not be used, with why. */
  readonly rejected: readonly { index: number; reason: string }[];
  /** True when the replica must assume it forgot what it signed (records lost, corrupt or conflicting). */
  readonly amnesia: boolean;
}
