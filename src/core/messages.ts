// The PBFT messages of Byzantine Lunch: their shapes, canonical signed bytes, and validation.
//
// Every signed part is `{ body, sig }`. The signature covers deterministic CBOR of
// [PROTOCOL_DOMAIN, body], and every body names the room and its own type `t`, so a signature
// can never be replayed in another room, for another message type or by another protocol
// version. The outer wire message (`k`) is only a container: it says what is inside but proves
// nothing by itself.
import { encode } from 'cborg';
import * as v from 'valibot';
import { sameBytes, toHex } from './bytes.ts';
import { CborBoundsError, decodeBounded } from './cbor.ts';
import { MAX_BATCH, MAX_LOG_WINDOW, MAX_MEMBERS, MAX_WIRE_BYTES, STATE_CHUNK_BYTES } from './limits.ts';
import { LunchOpSchema, type LunchOp } from './lunch.ts';
import { digest, type CryptoSuite } from './suite.ts';

/** Inside every signed body; bumped whenever replicas running different code could misread each other. */
export const PROTOCOL_VERSION = 2;
export const PROTOCOL_DOMAIN = `byzantine-lunch/pbft/v${PROTOCOL_VERSION}`;

const u32 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff));
const member = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(255));
const bytes = (length: number) =>
  v.custom<Uint8Array>((b) => b instanceof Uint8Array && b.length === length, `must be ${length} bytes`);
const Digest = bytes(32);
const Sig = bytes(64);
const Room = v.pipe(v.string(), v.minLength(1), v.maxLength(64));

/** Bytes of the fresh nonce that makes a recovery request one that did not exist before a loss. */
export const RECOVERY_NONCE_BYTES = 16;

/**
 * What a request asks for: a lunch intent, or one of two requests the protocol makes for itself
 * after a member lost its records (docs/protocol.md, "Lost records"): `recover` is agreed like
 * any request and where it lands bounds everything the member signed before; `advance` changes
 * nothing but moves the agreed log on, so that a stable checkpoint passes that bound.
 */
export type RequestOp = LunchOp | { kind: 'recover'; nonce: Uint8Array } | { kind: 'advance' };
export const RequestOpSchema = v.variant('kind', [
  LunchOpSchema,
  v.strictObject({ kind: v.literal('recover'), nonce: bytes(RECOVERY_NONCE_BYTES) }),
  v.strictObject({ kind: v.literal('advance') }),
]);

const base = { room: Room, from: member };
export const RequestBody = v.strictObject({ t: v.literal('request'), ...base, counter: u32, op: RequestOpSchema });
export const PrePrepareBody = v.strictObject({ t: v.literal('pre-prepare'), ...base, view: u32, seq: u32, digest: Digest });
export const PrepareBody = v.strictObject({ t: v.literal('prepare'), ...base, view: u32, seq: u32, digest: Digest });
export const CommitBody = v.strictObject({ t: v.literal('commit'), ...base, view: u32, seq: u32, digest: Digest });
export const StatusBody = v.strictObject({ t: v.literal('status'), ...base, view: u32, executed: u32 });
export const CheckpointBody = v.strictObject({ t: v.literal('checkpoint'), ...base, seq: u32, digest: Digest });
export const AccuseBody = v.strictObject({
  t: v.literal('accuse'), ...base, accused: member, reason: v.pipe(v.string(), v.maxLength(200)),
});

const signed = <T extends v.GenericSchema>(body: T) => v.strictObject({ body, sig: Sig });
export const SignedRequest = signed(RequestBody);
export const SignedPrePrepare = signed(PrePrepareBody);
export const SignedPrepare = signed(PrepareBody);
export const SignedCommit = signed(CommitBody);
export const SignedCheckpoint = signed(CheckpointBody);
/** 2f + 1 matching checkpoints: proof that a state is stable. */
const CheckpointProof = v.pipe(v.array(SignedCheckpoint), v.maxLength(MAX_MEMBERS));

const Batch = v.pipe(v.array(SignedRequest), v.maxLength(MAX_BATCH));
export const PreparedCert = v.strictObject({
  pp: SignedPrePrepare,
  prepares: v.pipe(v.array(SignedPrepare), v.maxLength(MAX_MEMBERS)),
  batch: Batch,
});
/**
 * `epoch` tells apart the votes of one member before and after it lost its records: 0 until it
 * first recovers, then the sequence number at which its latest recovery request executed. A vote
 * in a new epoch is a new slot (the old one is forgotten, not contradicted; see docs/protocol.md).
 */
export const ViewChangeBody = v.strictObject({
  t: v.literal('view-change'), ...base, view: u32, epoch: u32, stable: u32, proof: CheckpointProof,
  prepared: v.pipe(v.array(PreparedCert), v.maxLength(MAX_LOG_WINDOW)),
});
export const SignedViewChange = signed(ViewChangeBody);
export const NewViewBody = v.strictObject({
  t: v.literal('new-view'), ...base, view: u32,
  vcs: v.pipe(v.array(SignedViewChange), v.maxLength(MAX_MEMBERS)),
  pps: v.pipe(v.array(SignedPrePrepare), v.maxLength(MAX_LOG_WINDOW)),
});
export const SignedNewView = signed(NewViewBody);
export const SignedStatus = signed(StatusBody);
export const SignedAccuse = signed(AccuseBody);

/** Any signed body: what a proof of equivocation is made of. */
export const SignedAny = v.union([
  SignedRequest, SignedPrePrepare, SignedPrepare, SignedCommit, SignedViewChange, SignedNewView, SignedCheckpoint,
]);
export const Proof = v.strictObject({ a: SignedAny, b: SignedAny });
export const CommitCert = v.strictObject({
  pp: SignedPrePrepare,
  batch: Batch,
  commits: v.pipe(v.array(SignedCommit), v.maxLength(MAX_MEMBERS)),
});

export const Wire = v.variant('k', [
  v.strictObject({ k: v.literal('request'), req: SignedRequest }),
  v.strictObject({ k: v.literal('pre-prepare'), pp: SignedPrePrepare, batch: Batch }),
  v.strictObject({ k: v.literal('prepare'), prepare: SignedPrepare, pp: SignedPrePrepare }),
  v.strictObject({ k: v.literal('commit'), commit: SignedCommit }),
  v.strictObject({ k: v.literal('view-change'), vc: SignedViewChange }),
  v.strictObject({ k: v.literal('new-view'), nv: SignedNewView }),
  v.strictObject({ k: v.literal('status'), status: SignedStatus }),
  v.strictObject({ k: v.literal('fetch'), seq: u32 }),
  v.strictObject({ k: v.literal('committed'), cert: CommitCert }),
  v.strictObject({ k: v.literal('get-new-view'), view: u32 }),
  v.strictObject({ k: v.literal('evidence'), proof: Proof }),
  v.strictObject({ k: v.literal('accuse'), accuse: SignedAccuse }),
  v.strictObject({ k: v.literal('checkpoint'), checkpoint: SignedCheckpoint }),
  // State transfer: the state at a stable checkpoint, with its proof, in bounded chunks.
  v.strictObject({ k: v.literal('get-state'), seq: u32, chunk: u32 }),
  v.strictObject({
    k: v.literal('state'), seq: u32, proof: CheckpointProof, chunk: u32, chunks: u32,
    bytes: v.custom<Uint8Array>((b) => b instanceof Uint8Array && b.length <= STATE_CHUNK_BYTES, 'state chunk too large'),
  }),
]);

export type RequestBody = v.InferOutput<typeof RequestBody>;
export type PrePrepareBody = v.InferOutput<typeof PrePrepareBody>;
export type PrepareBody = v.InferOutput<typeof PrepareBody>;
export type CommitBody = v.InferOutput<typeof CommitBody>;
export type ViewChangeBody = v.InferOutput<typeof ViewChangeBody>;
export type NewViewBody = v.InferOutput<typeof NewViewBody>;
export type StatusBody = v.InferOutput<typeof StatusBody>;
export type CheckpointBody = v.InferOutput<typeof CheckpointBody>;
export type AccuseBody = v.InferOutput<typeof AccuseBody>;
export type AnyBody =
  | RequestBody | PrePrepareBody | PrepareBody | CommitBody | ViewChangeBody | NewViewBody | StatusBody | AccuseBody | CheckpointBody;
export interface Signed<B extends AnyBody = AnyBody> { body: B; sig: Uint8Array }
export type PreparedCert = v.InferOutput<typeof PreparedCert>;
export type CommitCert = v.InferOutput<typeof CommitCert>;
export type Proof = v.InferOutput<typeof Proof>;
export type Wire = v.InferOutput<typeof Wire>;
export type WireKind = Wire['k'];

/** The normal case in order: what a request goes through before it executes. */
export const NORMAL_CASE_KINDS = ['request', 'pre-prepare', 'prepare', 'commit'] as const;
/** A kind of the normal case. */
export type NormalCaseKind = (typeof NORMAL_CASE_KINDS)[number];

/**
 * The kinds that vote within a view (the three phases, and a view change and its NEW-VIEW):
 * what a member that lost its records must not sign, and what a round of network faults holds.
 */
export const VOTING_KINDS = ['pre-prepare', 'prepare', 'commit', 'view-change', 'new-view'] as const;
/** A kind that votes within a view. */
export type VotingKind = (typeof VOTING_KINDS)[number];

/** Every signed part of a message, each checked on its own by a receiver. */
export function signedParts(m: Wire): Signed[] {
  switch (m.k) {
    case 'request':
      return [m.req];
    case 'pre-prepare':
      return [m.pp, ...m.batch];
    case 'prepare':
      return [m.prepare, m.pp];
    case 'commit':
      return [m.commit];
    case 'status':
      return [m.status];
    case 'checkpoint':
      return [m.checkpoint];
    case 'view-change':
      return [m.vc];
    case 'new-view':
      return [m.nv];
    case 'committed':
      return [m.cert.pp, ...m.cert.batch, ...m.cert.commits];
    case 'evidence':
      return [m.proof.a, m.proof.b];
    case 'accuse':
      return [m.accuse];
    case 'state':
      return m.proof;
    case 'fetch':
    case 'get-new-view':
    case 'get-state':
      return [];
  }
}
export type { LunchOp };
/**
 * Where a message belongs: its view and sequence number, or the request (`member:counter`) it
 * carries; and for the three phases, which batch (the first hex digits of its digest), so two
 * different messages for one slot are never taken for copies of one.
 */
export interface Coordinates {
  readonly view: number | null;
  readonly seq: number | null;
  readonly request: string | null;
  readonly digest: string | null;
}

const NOWHERE: Coordinates = { view: null, seq: null, request: null, digest: null };
const shortDigest = (d: Uint8Array) => toHex(d.subarray(0, 4));

/** The coordinates of a message, read from its signed parts (null where it has none). */
export function coordinatesOf(m: Wire | null): Coordinates {
  switch (m?.k) {
    case 'request':
      return { view: null, seq: null, request: `${m.req.body.from}:${m.req.body.counter}`, digest: null };
    case 'pre-prepare':
      return { view: m.pp.body.view, seq: m.pp.body.seq, request: null, digest: shortDigest(m.pp.body.digest) };
    case 'prepare':
      return { view: m.prepare.body.view, seq: m.prepare.body.seq, request: null, digest: shortDigest(m.prepare.body.digest) };
    case 'commit':
      return { view: m.commit.body.view, seq: m.commit.body.seq, request: null, digest: shortDigest(m.commit.body.digest) };
    case 'view-change':
      return { view: m.vc.body.view, seq: null, request: null, digest: null };
    case 'new-view':
      return { view: m.nv.body.view, seq: null, request: null, digest: null };
    case 'committed':
      return { view: m.cert.pp.body.view, seq: m.cert.pp.body.seq, request: null, digest: shortDigest(m.cert.pp.body.digest) };
    default:
      return NOWHERE;
  }
}

/**
 * The member a message speaks for: the author its own signed part names (a prepare's, not the
 * pre-prepare header it carries), or null for messages that only carry others' signatures or
 * none. Read before any signature is checked, so it is a claim, not a fact, until one is.
 */
export function signerOf(m: Wire): number | null {
  switch (m.k) {
    case 'request':
      return m.req.body.from;
    case 'pre-prepare':
      return m.pp.body.from;
    case 'prepare':
      return m.prepare.body.from;
    case 'commit':
      return m.commit.body.from;
    case 'status':
      return m.status.body.from;
    case 'checkpoint':
      return m.checkpoint.body.from;
    case 'view-change':
      return m.vc.body.from;
    case 'new-view':
      return m.nv.body.from;
    case 'accuse':
      return m.accuse.body.from;
    default:
      return null;
  }
}

/** Any request of this kind is a lunch intent, not one of the protocol's own requests. */
export function isLunchOp(op: RequestOp): op is LunchOp {
  return op.kind !== 'recover' && op.kind !== 'advance';
}

// Bodies are never changed once built, and one body is encoded many times over (to verify it,
// to compare it with its slot's first body, to check a proof): encoding was a fifth of a
// simulated run. The cache goes with the body.
const encodedBodies = new WeakMap<AnyBody, Uint8Array>();

/** The bytes a signature covers: the body under the protocol's domain tag. */
export function bodyBytes(body: AnyBody): Uint8Array {
  let bytes = encodedBodies.get(body);
  if (bytes === undefined) {
    bytes = encode([PROTOCOL_DOMAIN, body]);
    encodedBodies.set(body, bytes);
  }
  return bytes;
}

export function signBody<B extends AnyBody>(suite: CryptoSuite, secretKey: Uint8Array, body: B): Signed<B> {
  return { body, sig: suite.sign(secretKey, bodyBytes(body)) };
}

/** The roster a signature is checked against: member i's key is keys[i]. */
export interface Roster {
  readonly room: string;
  readonly keys: readonly Uint8Array[];
}

/** Room, sender and signature: the checks every signed part gets before anything else looks at it. */
export function verifySigned(suite: CryptoSuite, roster: Roster, s: Signed): boolean {
  const key = roster.keys[s.body.from];
  return s.body.room === roster.room && key !== undefined && suite.verify(key, bodyBytes(s.body), s.sig);
}

/** The canonical bytes of a batch: what its digest covers and what MAX_BATCH_BYTES bounds. */
export function batchBytes(batch: readonly Signed<RequestBody>[]): Uint8Array {
  return encode(batch.map((r) => [r.body, r.sig]));
}

export function batchDigest(batch: readonly Signed<RequestBody>[]): Uint8Array {
  return digest(batchBytes(batch));
}

export function encodeWire(message: Wire): Uint8Array {
  return encode(message);
}

export type DecodeResult = { ok: true; message: Wire } | { ok: false; reason: string };

/** Never throws: anything that is not a well-formed message is a reason to drop it. */
export function decodeWire(bytes: Uint8Array): DecodeResult {
  if (!(bytes instanceof Uint8Array)) return { ok: false, reason: 'not-bytes' };
  if (bytes.length > MAX_WIRE_BYTES) return { ok: false, reason: 'oversize' };
  let value: unknown;
  try {
    value = decodeBounded(bytes);
  } catch (e) {
    return { ok: false, reason: e instanceof CborBoundsError ? 'too-many-items' : 'not-cbor' };
  }
  // The first problem is reason enough: collecting every issue of a large bad message costs more
  // than the message did to send.
  const parsed = v.safeParse(Wire, value, { abortEarly: true });
  return parsed.success ? { ok: true, message: parsed.output } : { ok: false, reason: 'bad-shape' };
}

/**
 * What a member may sign only once. Two different bodies under one key are proof of
 * equivocation; status and accusations are not slots.
 */
export function slotKey(body: AnyBody): string | null {
  switch (body.t) {
    case 'request':
      // A recovery request is made while the member does not know which counters it used
      // before its loss: it may share a counter with an older request, so it is no slot.
      return body.op.kind === 'recover' ? null : `request/${body.from}/${body.counter}`;
    case 'pre-prepare':
    case 'prepare':
    case 'commit':
      return `${body.t}/${body.from}/${body.view}/${body.seq}`;
    case 'view-change':
      return `view-change/${body.from}/${body.view}/${body.epoch}`;
    case 'new-view':
      return `new-view/${body.from}/${body.view}`;
    case 'checkpoint':
      return `checkpoint/${body.from}/${body.seq}`;
    default:
      return null;
  }
}


export type ProofCheck = { ok: true; member: number; slot: string } | { ok: false; reason: string };

/** A proof holds when both parts are validly signed by one member for one slot with different content. */
export function checkProof(suite: CryptoSuite, roster: Roster, proof: Proof): ProofCheck {
  const { a, b } = proof;
  const slot = slotKey(a.body);
  if (slot === null || slot !== slotKey(b.body)) return { ok: false, reason: 'the two messages are not for the same slot' };
  if (sameBytes(bodyBytes(a.body), bodyBytes(b.body))) return { ok: false, reason: 'the two messages are the same' };
  if (!verifySigned(suite, roster, a) || !verifySigned(suite, roster, b)) {
    return { ok: false, reason: 'a signature does not verify, which proves nothing about the claimed signer' };
  }
  return { ok: true, member: a.body.from, slot };
}

