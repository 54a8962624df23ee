// Messages that travel between two tabs over their data channel: CBOR bytes, decoded with strict
// options and checked against a schema before anything acts on them. Anything else is dropped and
// counted by reason; nothing thrown here escapes to the caller.
import { encode } from 'cborg';
import * as v from 'valibot';
import { decodeBounded } from '../core/cbor.ts';
import { CHALLENGE_BYTES } from './handshake.ts';

/**
 * The version of the tab-to-tab handshake and of everything the tabs exchange, bumped whenever
 * tabs running different code could misread each other (2: the bounds of src/core/limits.ts;
 * 3: no names in the hello, as names are agreed in the lunch state; 4: rounds count from 1, so
 * the lunch state, and every checkpoint digest over it, differs from version 3's).
 * The core's own PROTOCOL_VERSION (messages.ts) is inside every signature.
 */
export const HANDSHAKE_VERSION = 4;
/**
 * Largest frame on a data channel: below the message size every browser accepts. A protocol
 * message (up to MAX_WIRE_BYTES, src/core/limits.ts) travels as fragments of this size or less.
 */
export const MAX_FRAME_BYTES = 16 * 1024;

const bytes = (length: number) =>
  v.custom<Uint8Array>((b) => b instanceof Uint8Array && b.length === length, `must be ${length} bytes`);
const HexKey = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));

export const Hello = v.strictObject({
  t: v.literal('hello'),
  proto: v.literal(HANDSHAKE_VERSION),
  room: v.string(),
  from: HexKey,
  to: HexKey,
  /** The room size the link asked for: tabs that disagree cannot form one roster. */
  size: v.picklist([4, 7, 10]),
  challenge: bytes(CHALLENGE_BYTES),
});
export const Auth = v.strictObject({ t: v.literal('auth'), sig: bytes(64) });
/** A fragment of a protocol message (see fragments.ts); only accepted from a verified peer. */
export const Frag = v.strictObject({
  t: v.literal('frag'),
  id: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff)),
  index: v.pipe(v.number(), v.integer(), v.minValue(0)),
  total: v.pipe(v.number(), v.integer(), v.minValue(1)),
  data: v.custom<Uint8Array>((b) => b instanceof Uint8Array, 'must be bytes'),
});

/** Round-trip probes between verified peers (used by the benchmark to measure the floor). */
const Probe = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff));
export const Ping = v.strictObject({ t: v.literal('ping'), n: Probe });
export const Pong = v.strictObject({ t: v.literal('pong'), n: Probe });

export const PeerMessage = v.variant('t', [Hello, Auth, Frag, Ping, Pong]);
export type PeerMessage = v.InferOutput<typeof PeerMessage>;

export type DropReason = 'too-large' | 'not-cbor' | 'bad-shape' | 'other-version' | 'unexpected' | 'bad-handshake';

export type Decoded =
  | { ok: true; message: PeerMessage }
  | { ok: false; reason: DropReason; detail: string; version?: unknown };

export function encodeMessage(message: PeerMessage): Uint8Array {
  return encode(message);
}

export function decodeMessage(data: Uint8Array): Decoded {
  if (data.length > MAX_FRAME_BYTES) return { ok: false, reason: 'too-large', detail: `${data.length} bytes` };
  let value: unknown;
  try {
    value = decodeBounded(data);
  } catch (e) {
    return { ok: false, reason: 'not-cbor', detail: e instanceof Error ? e.message : String(e) };
  }
  // A hello from a tab running other code is worth telling the user about, not just dropping.
  if (isRecord(value) && value.t === 'hello' && value.proto !== HANDSHAKE_VERSION) {
    return { ok: false, reason: 'other-version', detail: `protocol ${String(value.proto)}`, version: value.proto };
  }
  const parsed = v.safeParse(PeerMessage, value, { abortEarly: true });
  if (!parsed.success) return { ok: false, reason: 'bad-shape', detail: parsed.issues[0]?.message ?? 'invalid' };
  return { ok: true, message: parsed.output };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
