// The signaling wire format, shared by the server and the browser client (it lives with the
// browser code; the server imports it from here). The server only
// introduces peers: it relays opaque `data` between two members of one room and never needs to
// understand it. Every frame in either direction is checked against these schemas.
import * as v from 'valibot';

export const SIGNALING_PATH = '/signal';
/** Largest signaling frame either side accepts (a WebSocket message, not a data-channel frame). */
export const MAX_SIGNALING_FRAME_BYTES = 64 * 1024;
export const ROOM_SIZES = [4, 7, 10] as const;
export type RoomSize = (typeof ROOM_SIZES)[number];
export const DEFAULT_ROOM_SIZE: RoomSize = 4;
/** Domain tag of the signature that proves a joining socket holds the key its peer id names. */
export const JOIN_DOMAIN = 'byzantine-lunch/signaling-join/v1';

export const RoomId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'room must be 1-64 characters of A-Z a-z 0-9 _ -'));
/** A peer id is the member's Ed25519 public key in lowercase hex. */
export const PeerId = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'peer must be a 64-digit lowercase hex public key'));
const Hex64Bytes = v.pipe(v.string(), v.regex(/^[0-9a-f]{128}$/, 'sig must be 128 lowercase hex digits'));
const Nonce = v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/, 'nonce must be 32 lowercase hex digits'));
const Size = v.picklist(ROOM_SIZES, 'size must be 4, 7 or 10');

export const ClientFrame = v.variant('type', [
  v.strictObject({ type: v.literal('join'), room: RoomId, peer: PeerId, size: Size, sig: Hex64Bytes }),
  v.strictObject({ type: v.literal('signal'), to: PeerId, data: v.unknown() }),
  v.strictObject({ type: v.literal('leave') }),
  // Browsers cannot send WebSocket pings; this one lets a tab notice a dead connection.
  v.strictObject({ type: v.literal('ping') }),
]);
export type ClientFrame = v.InferOutput<typeof ClientFrame>;

/** Why the server refused a frame; the message beside it says it in words and quotes little. */
export const ErrorCode = v.picklist([
  'bad-json', 'bad-frame', 'too-large', 'rate-limited', 'not-joined', 'already-joined', 'bad-signature',
  'room-full', 'size-mismatch', 'too-many-rooms', 'unknown-peer', 'replaced', 'server-full',
  // A relay refused because its target is not reading it fast enough; the target is not dropped.
  'peer-busy',
  // A join refused for now because the server is checking too many joins; try again shortly.
  'busy',
]);
export type ErrorCode = v.InferOutput<typeof ErrorCode>;

/** One STUN or TURN URL as RTCIceServer.urls takes it (RFC 7064, RFC 7065). */
export const IceUrl = v.pipe(
  v.string(),
  v.maxLength(300),
  v.regex(/^(?:stuns?:[^\s?#/]+|turns?:[^\s?#/]+(?:\?transport=(?:udp|tcp))?)$/, 'must be a stun:, stuns:, turn: or turns: URL'),
);
export const IceServer = v.strictObject({
  urls: v.pipe(v.array(IceUrl), v.minLength(1), v.maxLength(8)),
  username: v.optional(v.pipe(v.string(), v.maxLength(256))),
  credential: v.optional(v.pipe(v.string(), v.maxLength(256))),
});
export type IceServer = v.InferOutput<typeof IceServer>;

export const ServerFrame = v.variant('type', [
  v.strictObject({ type: v.literal('challenge'), nonce: Nonce }),
  v.strictObject({ type: v.literal('joined'), room: RoomId, size: Size, peers: v.array(PeerId) }),
  // The STUN/TURN servers this server was started with, sent before `joined` and again before
  // short-lived TURN credentials expire. `expires` is in Unix seconds; absent: they do not expire.
  v.strictObject({
    type: v.literal('ice'),
    iceServers: v.pipe(v.array(IceServer), v.maxLength(4)),
    iceTransportPolicy: v.picklist(['all', 'relay']),
    expires: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  }),
  v.strictObject({ type: v.literal('peer-joined'), peer: PeerId }),
  v.strictObject({ type: v.literal('peer-left'), peer: PeerId }),
  v.strictObject({ type: v.literal('signal'), from: PeerId, data: v.unknown() }),
  v.strictObject({ type: v.literal('error'), code: ErrorCode, message: v.string() }),
  v.strictObject({ type: v.literal('pong') }),
]);
export type ServerFrame = v.InferOutput<typeof ServerFrame>;

/** What a joining client signs: the server's fresh nonce bound to the room, size and peer id. */
export function joinPayload(nonce: string, room: string, peer: string, size: RoomSize) {
  return { nonce, room, peer, size };
}

/**
 * A readable one-line summary of why a frame failed its schema. Paths and messages are clipped:
 * valibot quotes the value it received, and that value comes from the client.
 */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max)}…`);
  return issues
    .slice(0, 3)
    .map((i) => {
      const path = clip(i.path?.map((p) => clip(String(p.key), 24)).join('.') ?? '', 60);
      const message = clip(i.message, 120);
      return path ? `${path}: ${message}` : message;
    })
    .join('; ');
}
