// Starting a member's replica: new for a member that has just joined a new room, otherwise
// restored from its write-ahead records, as one that lost them when they are gone or damaged.
import type { Effect } from '../core/effects.ts';
import { RECOVERY_NONCE_BYTES } from '../core/messages.ts';
import { quorumFor } from '../core/quorum.ts';
import { Replica, type ReplicaConfig } from '../core/replica.ts';
import { WAL_VERSION } from '../core/wal.ts';
import { restoreProblem, type OtherVersions } from './problems.ts';

/** How this member comes to the room. */
export interface Arrival {
  /** The roster was fixed just now, in this tab. */
  readonly fresh: boolean;
  /** The identity was imported from a file (see RoomOptions.restoredFromFile). */
  readonly restoredFromFile: boolean;
  /** This member's stored records for the room, and how many could not be read at all. */
  load(): Promise<{ records: unknown[]; corrupt: number }>;
  /** Fresh random bytes, for the nonce of a recovery request. */
  random(bytes: number): Uint8Array;
}

/** A started replica, the effects it asks for first, and what to tell the user about it. */
export interface Opened {
  readonly replica: Replica;
  readonly effects: Effect[];
  /** Trouble with the stored records, or null. */
  readonly problem: string | null;
  /** How many stored records the restore used, or null for a member that is new here. */
  readonly restored: number | null;
}

/** The replica for `config`, new or restored as `arrival` says. */
export async function openReplica(config: ReplicaConfig, arrival: Arrival): Promise<Opened> {
  if (arrival.fresh && !arrival.restoredFromFile) {
    // Its first effects write the record that starts its log, so that a reload from here on
    // finds a log that is empty, not lost.
    return { replica: new Replica(config), effects: [], problem: null, restored: null };
  }
  const loaded = await arrival.load();
  // Records without their first record were lost; an imported identity may have signed things
  // in this room from another browser, so it starts as one that lost its records.
  const { replica, effects, report } = Replica.restore(config, loaded.records, {
    lost: loaded.corrupt > 0 || (loaded.records.length === 0 && arrival.restoredFromFile),
    nonce: arrival.random(RECOVERY_NONCE_BYTES),
  });
  return {
    replica,
    effects,
    problem: restoreProblem(
      report.rejected.length + loaded.corrupt,
      report.amnesia,
      // Only what the restore refused: a record it used cannot be another version's.
      otherVersions(report.rejected.map((r) => loaded.records[r.index])),
      quorumFor(config.roster.keys.length).q,
    ),
    restored: arrival.fresh ? null : report.used,
  };
}

/** Record versions this app could ever have written; any other `v` is damage, not a version. */
const MAX_RECORD_VERSION = 1000;

/** How many records carry another plausible record version than this app writes. */
function otherVersions(records: readonly unknown[]): OtherVersions {
  let older = 0;
  let newer = 0;
  for (const r of records) {
    const version = r !== null && typeof r === 'object' ? (r as { v?: unknown }).v : undefined;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1 || version > MAX_RECORD_VERSION) continue;
    if (version < WAL_VERSION) older++;
    else if (version > WAL_VERSION) newer++;
  }
  return { older, newer };
}

