// What a replica asks its caller to do. The caller carries effects out in order: a `persist`
// precedes the `send` that carries what it records, and the send must wait until the write is
// durable (see protocol.md, Durability).
import type { LunchEvent, LunchOp, LunchState } from './lunch.ts';
import type { Coordinates, Proof, RequestOp, Wire, WireKind } from './messages.ts';
import type { ReplicaSnapshot } from './replica.ts';
import type { WalRecord } from './wal.ts';

/**
 * What drives a replica from outside: messages in, ticks, the member's own requests, and a
 * snapshot; effects out. The Replica is one, an adversary wrapping one is another, and so are
 * the simulator's rewriting nodes; no driver looks further in.
 */
export interface ReplicaLike<Snapshot = ReplicaSnapshot> {
  /** A message from member `from` (the authenticated link's peer), as raw bytes. */
  step(from: number, bytes: Uint8Array): Effect[];
  /** The clock moved on to `now` (ms): timers may fire. */
  tick(now: number): Effect[];
  /** The local member's own request. */
  request(op: LunchOp): Effect[];
  /** What the replica holds now, for display and checks. */
  snapshot(): Snapshot;
}

/** A request as it executed: a lunch intent, or one of the protocol's own requests after a loss. */
export interface ExecutedRequest {
  readonly member: number;
  readonly counter: number;
  readonly op: RequestOp;
}

/**
 * Why a member asks to change view: a request it knows of waited too long, it heard nothing from
 * the primary, the view change under way did not finish in time, f + 1 others asked for a higher
 * view, or the primary is proven faulty.
 */
export type ViewChangeReason = 'request-late' | 'primary-silent' | 'view-change-late' | 'others-asked' | 'primary-proven';

export type Effect =
  /**
   * `to: 'all'` means every other member. `bytes` is the encoded `message`; only an adversary
   * sends `garbage`, bytes that are no well-formed message at all. `retransmit` marks a copy of
   * something sent before (the replica resends unfinished work on a timer).
   */
  | { kind: 'send'; to: number | 'all'; type: WireKind; message: Wire; bytes: Uint8Array; retransmit?: boolean }
  | { kind: 'send'; to: number | 'all'; type: 'garbage'; message: null; bytes: Uint8Array; retransmit?: boolean }
  /** A write-ahead record; durable before any send that follows it. */
  | { kind: 'persist'; record: WalRecord }
  | { kind: 'executed'; seq: number; view: number; requests: ExecutedRequest[]; events: LunchEvent[] }
  | { kind: 'evidence'; member: number; slot: string; proof: Proof }
  /** An accusation without proof: shown at most as a claim, it changes nothing. */
  | { kind: 'claim'; accuser: number; accused: number; reason: string }
  /** The replica entered `view` (after a NEW-VIEW). */
  | { kind: 'view'; view: number; changing: false }
  /**
   * The replica, still in `view`, gives up on it and asks for view `to`, for the reason `why`: the
   * tab tells its user why, which the VIEW-CHANGE itself does not say.
   */
  | { kind: 'view'; view: number; changing: true; to: number; why: ViewChangeReason }
  /** The replica adopted a certified stable state (state transfer): the lunch state jumps to it. */
  | { kind: 'state'; seq: number; lunch: LunchState }
  /**
   * A message from `from` was taken in (`dropped` null) or refused, with the reason (the first one,
   * when taking it apart refused several parts). `type` is `garbage` for bytes that were no
   * message at all; `at` says which view, sequence number or request it concerns. `signer` is the
   * member its own signed part names (messages.ts, signerOf), null when it names none: when that
   * is not `from`, the link's peer passed on someone else's message. Absent from older drivers.
   */
  | { kind: 'received'; from: number; type: WireKind | 'garbage'; at: Coordinates; dropped: string | null; signer?: number | null };

/** One write of write-ahead records, and the effects that wait for it. */
export interface WriteThen {
  /** Written together; empty when nothing needs writing first. */
  readonly records: WalRecord[];
  /** Carried out in order once this write, and every write before it, is durable. */
  readonly then: Exclude<Effect, { kind: 'persist' }>[];
}

/**
 * Effects grouped for "durable before send", the one rule every driver with real storage
 * follows: a run of persists becomes one write, and a send leaves only after every record
 * before it is durable. Only a send ends a run; other effects in between wait with the send.
 */
export function writeThenSend(effects: readonly Effect[]): WriteThen[] {
  const groups: WriteThen[] = [];
  let current: WriteThen = { records: [], then: [] };
  let sent = false;
  for (const e of effects) {
    if (e.kind === 'persist') {
      if (sent) {
        groups.push(current);
        current = { records: [], then: [] };
        sent = false;
      }
      current.records.push(e.record);
      continue;
    }
    current.then.push(e);
    if (e.kind === 'send') sent = true;
  }
  if (current.records.length > 0 || current.then.length > 0) groups.push(current);
  return groups;
}
