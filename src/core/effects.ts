// What a replica asks its caller to do. The caller carries effects out in order: a `persist`
// precedes the `send` that carries what it records, and the send must wait until the write is
// durable (see protocol.md, Durability).
import type { LunchEvent, LunchOp } from './lunch.ts';
import type { Proof, Signed, Wire, WireKind } from './messages.ts';

export interface ExecutedRequest {
  readonly member: number;
  readonly counter: number;
  readonly op: LunchOp;
}

export type Effect =
  /**
   * `to: 'all'` means every other member. `bytes` is the encoded `message`; only an adversary
   * sends `garbage`, bytes that are no well-formed message at all.
   */
  | { kind: 'send'; to: number | 'all'; type: WireKind; message: Wire; bytes: Uint8Array }
  | { kind: 'send'; to: number | 'all'; type: 'garbage'; message: null; bytes: Uint8Array }
  /** Something this replica signed for a slot; durable before any send that carries it. */
  | { kind: 'persist'; slot: string; signed: Signed }
  | { kind: 'executed'; seq: number; view: number; requests: ExecutedRequest[]; events: LunchEvent[] }
  | { kind: 'evidence'; member: number; slot: string; proof: Proof }
  /** An accusation without proof: shown at most as a claim, it changes nothing. */
  | { kind: 'claim'; accuser: number; accused: number; reason: string }
  | { kind: 'view'; view: number; changing: boolean }
  | { kind: 'drop'; from: number; reason: string };
