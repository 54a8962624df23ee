// A proof of equivocation as a small, self-describing JSON file that anyone can check offline.
//
// When a member signs two different messages for one slot, the two signed messages are all it
// takes to show it: both signatures verify under that member's key from the roster. The file
// carries the two messages, the roster they are checked against and the roster's fingerprint
// (the one every tab shows and people read aloud), so a person can check the file with
// `npm run verify-proof` and compare the fingerprint with the one their own tab shows.
//
// Only the two signed messages prove anything. Everything else in the file (the sentence, the
// member's name, the time) is a convenience written by whoever made the file and is either
// recomputed by the verifier or shown as unsigned. Pure: no DOM, no I/O, no clock.
import * as v from 'valibot';
import { fingerprint, fromHex, isAcceptablePublicKey, toHex, ed25519Suite } from '../crypto/ed25519.ts';
import { SignedAny, checkProof, slotKey, verifySigned, type AnyBody, type Proof, type Roster } from '../core/messages.ts';
import { rosterFingerprint } from '../app/roster.ts';

export const PROOF_FILE_FORMAT = 'byzantine-lunch-proof';
export const PROOF_FILE_VERSION = 1;
/** Far above any real proof file (a few kilobytes); anything larger is not one. */
export const PROOF_FILE_MAX_LENGTH = 1024 * 1024;
/** Deeper than any signed message nests (a new-view holds view-changes holding certificates). */
const MAX_DEPTH = 64;

type SignedMessage = v.InferOutput<typeof SignedAny>;

// ---------------------------------------------------------------------------------------------
// Bytes in JSON: every Uint8Array becomes {"$bytes": "<lowercase hex>"}.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Plain data (numbers, strings, booleans, null, arrays, plain objects, Uint8Arrays) as JSON data. Throws on anything else. */
export function bytesToJson(value: unknown, depth = 0): JsonValue {
  if (depth > MAX_DEPTH) throw new TypeError('The value nests too deeply to be written.');
  if (value instanceof Uint8Array) return { $bytes: toHex(value) };
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`The number ${value} cannot be written as JSON.`);
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => bytesToJson(item, depth + 1));
  if (typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    const out: [string, JsonValue][] = [];
    for (const [key, item] of Object.entries(value)) {
      if (key === '$bytes') throw new TypeError('A field named "$bytes" cannot be written: it would read back as bytes.');
      if (item === undefined) throw new TypeError(`The field "${key}" is undefined, which JSON cannot carry.`);
      out.push([key, bytesToJson(item, depth + 1)]);
    }
    return Object.fromEntries(out);
  }
  throw new TypeError(`A value of type ${typeof value} cannot be written as JSON.`);
}

export type BytesFromJson = { ok: true; value: unknown } | { ok: false; reason: string };

/** The inverse of `bytesToJson`. Never throws; `{"$bytes": …}` must be exactly that, with lowercase hex. */
export function bytesFromJson(value: unknown): BytesFromJson {
  try {
    return { ok: true, value: decodeValue(value, 0, '') };
  } catch (error) {
    return { ok: false, reason: error instanceof BytesError ? error.message : 'it could not be read' };
  }
}

class BytesError extends Error {}

function decodeValue(value: unknown, depth: number, path: string): unknown {
  if (depth > MAX_DEPTH) throw new BytesError('it nests too deeply');
  if (Array.isArray(value)) return value.map((item, i) => decodeValue(item, depth + 1, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (Object.hasOwn(value, '$bytes')) {
    const hex = (value as { $bytes: unknown }).$bytes;
    if (entries.length !== 1 || typeof hex !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(hex)) {
      throw new BytesError(`${path.slice(1) || 'the value'} is not {"$bytes": "<lowercase hex>"}`);
    }
    return fromHex(hex);
  }
  // Object.fromEntries defines own properties, so a "__proto__" key stays a plain (and later rejected) field.
  return Object.fromEntries(entries.map(([key, item]) => [key, decodeValue(item, depth + 1, `${path}.${key}`)]));
}

// ---------------------------------------------------------------------------------------------
// Words

/** Control characters from a file never reach a terminal or the page as they are. */
function printable(s: string): string {
  return s.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function quote(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

const MESSAGE_NAMES: Record<string, string> = {
  request: 'request',
  'pre-prepare': 'pre-prepare',
  prepare: 'prepare',
  commit: 'commit',
  'view-change': 'view-change',
  'new-view': 'new-view',
  checkpoint: 'checkpoint',
};

/** "view 0, sequence 1" and the like: the slot in words, from the body that names it. */
export function describeSlot(body: AnyBody): string {
  switch (body.t) {
    case 'request':
      return `request number ${body.counter}`;
    case 'pre-prepare':
    case 'prepare':
    case 'commit':
      return `view ${body.view}, sequence ${body.seq}`;
    case 'view-change':
    case 'new-view':
      return `view ${body.view}`;
    case 'checkpoint':
      return `sequence ${body.seq}`;
    default:
      return 'an unknown slot';
  }
}

function who(member: number, memberName: string | undefined): string {
  return memberName === undefined ? `Member ${member}` : `Member ${member} (${JSON.stringify(memberName)})`;
}

/** The roster fingerprint as "ab12 cd34 ef56 7890", however it was typed; null when it is not 16 hex digits. */
export function normalizeRosterFingerprint(text: string): string | null {
  const hex = text.replace(/[\s:-]+/g, '').toLowerCase();
  return /^[0-9a-f]{16}$/.test(hex) ? hex.match(/.{4}/g)!.join(' ') : null;
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface ProofFileInput {
  readonly room: string;
  /** The roster: member i's public key is keys[i], in lowercase hex. */
  readonly keys: readonly string[];
  readonly member: number;
  readonly memberName?: string;
  readonly proof: Proof;
  /** When the file is made, in ms since the epoch. */
  readonly now: number;
}

/** The proof as a JSON file and a name to save it under. Throws when the input is inconsistent, so no broken file is made. */
export function proofFile(input: ProofFileInput): { fileName: string; text: string } {
  const { room, keys, member, memberName, proof, now } = input;
  const slot = slotKey(proof.a.body);
  if (slot === null || slot !== slotKey(proof.b.body)) throw new TypeError('The two messages of a proof must be for one slot.');
  if (!Number.isInteger(member) || member < 0 || member >= keys.length) throw new TypeError(`Member ${member} is not in the roster.`);
  if (proof.a.body.from !== member || proof.b.body.from !== member) throw new TypeError(`The proof is not about member ${member}.`);
  const date = new Date(now);
  if (Number.isNaN(date.getTime())) throw new TypeError('The time the proof file is made is not a valid date.');
  const n = keys.length;
  const kind = MESSAGE_NAMES[proof.a.body.t] ?? proof.a.body.t;
  const file = {
    format: PROOF_FILE_FORMAT,
    version: PROOF_FILE_VERSION,
    what:
      `${who(member, memberName)} signed two different ${kind} messages for the same slot ` +
      `(${describeSlot(proof.a.body)}) in room ${room}; anyone can check both signatures against the roster below.`,
    room,
    n,
    roster: [...keys],
    rosterFingerprint: rosterFingerprint(room, n, keys),
    member,
    memberKey: keys[member]!,
    ...(memberName === undefined ? {} : { memberName }),
    slot,
    first: bytesToJson(proof.a),
    second: bytesToJson(proof.b),
    createdAt: date.toISOString(),
  };
  const safeRoom = room.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 64) || 'room';
  const safeSlot = slot.replace(/\//g, '-').replace(/[^A-Za-z0-9_-]+/g, '-');
  return { fileName: `proof-${safeRoom}-member${member}-${safeSlot}.json`, text: `${JSON.stringify(file, null, 2)}\n` };
}

// ---------------------------------------------------------------------------------------------
// Checking

const Hex32 = v.pipe(v.string('must be text'), v.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (32 bytes)'));
const Integer = v.pipe(v.number('must be a number'), v.integer('must be a whole number'));

const FileSchema = v.strictObject({
  format: v.literal(PROOF_FILE_FORMAT),
  version: v.literal(PROOF_FILE_VERSION),
  what: v.pipe(v.string('must be text'), v.maxLength(1000, 'is too long')),
  room: v.pipe(v.string('must be text'), v.minLength(1, 'must not be empty'), v.maxLength(64, 'must be at most 64 characters')),
  n: v.pipe(
    Integer,
    v.minValue(4, 'must be at least 4'),
    v.maxValue(255, 'must be at most 255'),
    v.check((n) => n % 3 === 1, 'must be 3f+1 for a whole number f (4, 7, 10, …)'),
  ),
  roster: v.pipe(v.array(Hex32, 'must be a list of keys'), v.maxLength(255, 'has more than 255 keys')),
  rosterFingerprint: v.pipe(v.string('must be text'), v.regex(/^[0-9a-f]{4}(?: [0-9a-f]{4}){3}$/, 'must look like "ab12 cd34 ef56 7890"')),
  member: v.pipe(Integer, v.minValue(0, 'must not be negative'), v.maxValue(254, 'must be below 255')),
  memberKey: Hex32,
  memberName: v.optional(
    v.pipe(v.string('must be text'), v.maxLength(100, 'is too long'), v.regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')),
  ),
  slot: v.pipe(v.string('must be text'), v.maxLength(200, 'is too long')),
  first: v.unknown(),
  second: v.unknown(),
  createdAt: v.pipe(v.string('must be text'), v.isoTimestamp('must be an ISO date and time')),
});

export type ProofFileCheck =
  | {
      ok: true;
      member: number;
      memberKey: string;
      memberName?: string;
      slot: string;
      room: string;
      rosterFingerprint: string;
      /** What the proof shows, in one or two sentences. */
      finding: string;
      /** "Valid proof: " and the finding. */
      summary: string;
    }
  | {
      ok: false;
      reason: string;
      /** The fingerprint the file states, when the file got far enough to have one. */
      rosterFingerprint?: string;
    };

/** Checks a proof file from end to end. Never throws: any problem is a reason, in words. */
export function verifyProofFile(text: string, options: { expectRosterFingerprint?: string } = {}): ProofFileCheck {
  try {
    return check(text, options);
  } catch (error) {
    return fail(`The file could not be checked: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function fail(reason: string, rosterFingerprint?: string): ProofFileCheck {
  const out: ProofFileCheck = { ok: false, reason: printable(reason) };
  if (rosterFingerprint !== undefined) out.rosterFingerprint = rosterFingerprint;
  return out;
}

function issueText(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0]!;
  const path = v.getDotPath(issue);
  if (issue.kind === 'schema' && issue.type === 'strict_object' && issue.input !== undefined && path !== null) {
    return `it has a field it should not have: ${quote(path)}`;
  }
  if (issue.input === undefined && path !== null) return `the field ${quote(path)} is missing`;
  return path === null ? issue.message : `${path} ${issue.message}`;
}

function check(text: string, options: { expectRosterFingerprint?: string }): ProofFileCheck {
  // 1. JSON
  if (typeof text !== 'string') return fail('There is no text to check.');
  if (text.length > PROOF_FILE_MAX_LENGTH) {
    return fail(`The file is ${text.length} characters long; a proof file is at most ${PROOF_FILE_MAX_LENGTH} (1 MiB), so this is not one.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return fail('The file is not JSON (it may be truncated or not a proof file at all).');
  }

  // 2. Format and version
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return fail('The file is JSON but not a Byzantine Lunch proof file.');
  const head = json as { format?: unknown; version?: unknown };
  if (head.format !== PROOF_FILE_FORMAT) {
    return fail(`This is not a Byzantine Lunch proof file: its format is ${head.format === undefined ? 'missing' : quote(head.format)}, not "${PROOF_FILE_FORMAT}".`);
  }
  if (head.version !== PROOF_FILE_VERSION) {
    return fail(`This proof file has version ${head.version === undefined ? '(missing)' : quote(head.version)}; this verifier reads version ${PROOF_FILE_VERSION} only.`);
  }

  // 3. Shape
  const parsed = v.safeParse(FileSchema, json);
  if (!parsed.success) return fail(`The proof file is malformed: ${issueText(parsed.issues)}.`);
  const file = parsed.output;
  const stated = file.rosterFingerprint;
  if (file.roster.length !== file.n) return fail(`The roster lists ${file.roster.length} keys but the file says n = ${file.n}.`, stated);
  const seen = new Set<string>();
  for (const [i, key] of file.roster.entries()) {
    if (seen.has(key)) return fail(`Roster key ${i} (${key.slice(0, 8)}…) appears more than once; a roster's keys are all different.`, stated);
    seen.add(key);
    if (!isAcceptablePublicKey(fromHex(key))) return fail(`Roster key ${i} (${key.slice(0, 8)}…) is not an acceptable Ed25519 public key.`, stated);
  }
  if (file.member >= file.n) return fail(`The file names member ${file.member}, but the roster has members 0 to ${file.n - 1}.`, stated);

  // 4. Roster fingerprint
  const recomputed = rosterFingerprint(file.room, file.n, file.roster);
  if (recomputed !== stated) {
    return fail(`The roster fingerprint in the file (${stated}) does not match its room and roster, which give ${recomputed}: the file was altered.`, stated);
  }
  if (options.expectRosterFingerprint !== undefined) {
    const expected = normalizeRosterFingerprint(options.expectRosterFingerprint);
    if (expected === null) return fail(`The roster fingerprint you gave (${quote(options.expectRosterFingerprint)}) is not 16 hex digits.`, stated);
    if (expected !== stated) {
      return fail(`The file's roster does not match the roster you expected (${expected}): the file says ${stated}.`, stated);
    }
  }

  // 5. The accused member's key
  if (file.memberKey !== file.roster[file.member]) {
    return fail(`The member key in the file is not roster key ${file.member}: the file names member ${file.member} but gives another member's key.`, stated);
  }

  // 6. The two signed messages, re-validated by the core's own schema
  const messages: SignedMessage[] = [];
  for (const [label, raw] of [['first', file.first], ['second', file.second]] as const) {
    const decoded = bytesFromJson(raw);
    if (!decoded.ok) return fail(`The ${label} message could not be read: ${decoded.reason}.`, stated);
    const signed = v.safeParse(SignedAny, decoded.value);
    if (!signed.success) {
      return fail(`The ${label} message is not a valid signed message: ${signedProblem(decoded.value)}.`, stated);
    }
    messages.push(signed.output);
  }
  const [first, second] = messages as [SignedMessage, SignedMessage];

  // 7. Both from the accused member, both in this room
  for (const [label, m] of [['first', first], ['second', second]] as const) {
    if (m.body.from !== file.member) return fail(`The ${label} message is from member ${m.body.from}, not from member ${file.member} whom the file accuses.`, stated);
    if (m.body.room !== file.room) return fail(`The ${label} message is for room ${quote(m.body.room)}, not room ${quote(file.room)}.`, stated);
  }

  // 8. The proof itself
  const roster: Roster = { room: file.room, keys: file.roster.map(fromHex) };
  const proof = checkProof(ed25519Suite, roster, { a: first, b: second });
  if (!proof.ok) {
    let reason: string = proof.reason;
    if (/signature/.test(reason)) {
      const bad = [['first', first], ['second', second]].filter(([, m]) => !verifySigned(ed25519Suite, roster, m as SignedMessage)).map(([label]) => label);
      const which = bad.length === 2 ? 'neither signature verifies' : `the signature on the ${bad[0] ?? 'one'} message does not verify`;
      reason = `${which} under member ${file.member}'s key (the message or signature was altered, or never signed by that key), which proves nothing about the claimed signer`;
    }
    return fail(`The proof does not hold: ${reason}.`, stated);
  }
  if (proof.member !== file.member) return fail(`The proof is about member ${proof.member}, not member ${file.member}.`, stated);
  if (proof.slot !== file.slot) return fail(`The messages are for slot ${quote(proof.slot)}, but the file says ${quote(file.slot)}.`, stated);

  const name = file.memberName === undefined ? '' : `, called ${JSON.stringify(file.memberName)} in the file`;
  const finding = printable(
    `member ${file.member} (key fingerprint ${fingerprint(fromHex(file.memberKey))}${name}) signed two different ` +
      `${MESSAGE_NAMES[first.body.t] ?? first.body.t} messages for ${describeSlot(first.body)} in room ${file.room}. ` +
      'Both signatures verify under the strict Ed25519 rule.',
  );
  const out: ProofFileCheck = {
    ok: true,
    member: file.member,
    memberKey: file.memberKey,
    slot: proof.slot,
    room: file.room,
    rosterFingerprint: stated,
    finding,
    summary: `Valid proof: ${finding}`,
  };
  if (file.memberName !== undefined) out.memberName = file.memberName;
  return out;
}

/** Why a decoded value is not a SignedAny, as precisely as the message's own type allows. */
function signedProblem(value: unknown): string {
  const t = (value as { body?: { t?: unknown } } | null)?.body?.t;
  if (typeof t !== 'string' || !(t in MESSAGE_NAMES)) {
    return t === undefined ? 'it has no message type' : `its type ${quote(t)} is not one a member can be proven to equivocate on`;
  }
  for (const option of SignedAny.options) {
    const parsed = v.safeParse(option, value);
    const typeIssue = parsed.success ? undefined : parsed.issues.find((i) => v.getDotPath(i) === 'body.t');
    if (!parsed.success && typeIssue === undefined) return issueText(parsed.issues);
  }
  return 'its fields are not as expected';
}
