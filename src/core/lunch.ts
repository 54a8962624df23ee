// The lunch state machine. The replicated log executes requests in agreed order and each executed
// request applies one LunchOp here. Everything is pure and deterministic: the same history gives
// byte-identical encodings on every honest tab, and a malformed op is a recorded no-op, never a throw.
import { decode, encode } from 'cborg';
import * as v from 'valibot';
import { MAX_MEMBERS, MAX_NAME_LENGTH, MAX_NAME_UNITS, MAX_PLACE_LENGTH, MAX_PLACE_UNITS } from './limits.ts';
import { quorumFor } from './quorum.ts';

/** Names an executed request, and so a proposal: its member and that member's request counter. */
export interface RequestRef {
  member: number;
  counter: number;
}
/** A member's vote on a proposal. */
export type Choice = 'join' | 'decline';
/**
 * What a member asks the room to do: propose a place and time, vote on a proposal, ask for a new
 * round, or take another name.
 */
export type LunchOp =
  | { kind: 'propose'; place: string; time: string }
  | { kind: 'vote'; proposal: RequestRef; choice: Choice }
  | { kind: 'new-round' }
  | { kind: 'name'; name: string };
/** A place and time proposed in a round, with every member's vote on it. */
export interface Proposal {
  ref: RequestRef;
  round: number;
  place: string;
  time: string;
  proposer: number;
  /**
   * Length n, indexed by member. The proposer's starts as 'join': whoever suggests a place is
   * going there unless they say otherwise. Frozen once the round is decided.
   */
  votes: (null | Choice)[];
}
/**
 * The proposal a round settled on: the first to reach 2f + 1 joins. Final: no later vote in its
 * round is taken, so these are the votes the proposal still shows.
 */
export interface Decision {
  round: number;
  proposal: RequestRef;
  /** Members whose vote was 'join' at the moment of decision, ascending: who is going. */
  joined: number[];
}
/**
 * The replicated lunch state: the members' names, the current round and who asked to leave it,
 * every proposal and every decision.
 */
export interface LunchState {
  n: number;
  /** Length n, by seat; distinct under `sameName`. */
  names: string[];
  round: number;
  /** Members who asked for a new round during the current round, ascending; fewer than 2f + 1. */
  asked: number[];
  /** In agreed order of execution. */
  proposals: Proposal[];
  /** At most one per round, in round order. */
  decisions: Decision[];
}
/**
 * What applying one op did, for the tab to show; an op that changes nothing is `ignored`, with
 * why and, when the request could be told apart, whose request it was (so its sender can be told).
 */
export type LunchEvent =
  | { kind: 'proposed'; ref: RequestRef; round: number; place: string; time: string }
  | { kind: 'voted'; member: number; proposal: RequestRef; choice: Choice; changed: boolean }
  | { kind: 'decided'; round: number; proposal: RequestRef; place: string; time: string; joined: number[] }
  | { kind: 'asked'; member: number; round: number; asked: number[] }
  | { kind: 'round-started'; round: number }
  | { kind: 'renamed'; member: number; from: string; name: string }
  | { kind: 'ignored'; reason: string; request: RequestRef | null };

/**
 * The names members have until they choose others, by seat: the four of the original lunch
 * story first, then enough for the largest room. Distinct under `sameName`, so a fresh room
 * never starts with two members called alike.
 */
export const SEAT_NAMES: readonly string[] = ['James', 'Bryan', 'Rich', 'Chris', 'Ana', 'Miguel', 'Priya', 'Wei', 'Fatima', 'Noor'];

/** The longest place, in code points after trimming (limits.ts). */
export { MAX_PLACE_LENGTH };

// Code points, not graphemes: grapheme segmentation depends on the engine's Unicode tables, and
// replicas running different browsers must never disagree on whether an op is valid.
// Lone surrogates are rejected because CBOR (UTF-8) cannot carry them faithfully.
// U+FEFF is refused anywhere: CBOR's text decoding drops it at the start of a string, so a
// request carrying one would not verify at any receiver, and its honest sender would stall.
const placeProblem = (place: string): string | null => {
  if (place.length > MAX_PLACE_UNITS) return `place is longer than ${MAX_PLACE_UNITS} characters, spaces included`;
  if (/[\p{Cc}\p{Cs}\ufeff]/u.test(place)) return 'place contains a control character, a byte-order mark or a lone surrogate';
  const length = [...place.trim()].length;
  if (length < 1 || length > MAX_PLACE_LENGTH) return `place must be 1..${MAX_PLACE_LENGTH} characters after trimming`;
  return null;
};

/** The longest name, in code points after trimming (limits.ts). */
export { MAX_NAME_LENGTH };

// Trimming by an explicit list rather than String.prototype.trim: what counts as white space has
// changed between Unicode versions (U+180E), and replicas on different engines must agree on it.
const EDGE_SPACE = /^[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\ufeff]+|[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\ufeff]+$/g;
// Characters that show as nothing (or reorder what follows): with them "Rich\u200b" or
// "Rich\u3164" would pass for Rich, and U+202E would turn the rest of a transcript line around.
// An explicit list, like EDGE_SPACE, so every engine agrees; U+FEFF also breaks signing (above).
const INVISIBLE = /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb]/u;
// Joiners hold emoji sequences (👩‍🍳) and some scripts together, so they may stand between two
// non-ASCII characters; next to ASCII or at an end they only hide.
const LONE_JOINER = /(?:^|[\u0000-\u007f])[\u200c\u200d]|[\u200c\u200d](?:$|[\u0000-\u007f])/u;
/** A name as the room keeps it: without spaces at either end. */
export const trimName = (name: string): string => name.replace(EDGE_SPACE, '');

/**
 * Why `name` cannot be a member's name, or null when it can. Exported so that a tab refuses a
 * bad name in words before signing it, by the very rule every replica applies.
 */
export function nameProblem(name: string): string | null {
  if (name.length > MAX_NAME_UNITS) return `a name is at most ${MAX_NAME_UNITS} characters, spaces included`;
  if (/[\p{Cc}\p{Cs}\u2028\u2029]/u.test(name)) return 'a name cannot contain line breaks or control characters';
  if (INVISIBLE.test(name) || LONE_JOINER.test(name)) return 'a name cannot contain invisible or direction-changing characters';
  const length = [...trimName(name)].length;
  if (length < 1) return 'a name cannot be empty';
  if (length > MAX_NAME_LENGTH) return `a name is at most ${MAX_NAME_LENGTH} characters (this one has ${length})`;
  return null;
}

// Case is folded one code point at a time, and only in blocks whose case pairs every engine has
// known for decades (Latin up to Extended-B, basic Greek and Cyrillic capitals): folding by the
// engine's whole Unicode table could make two browsers disagree on whether two names clash.
const foldable = (cp: number): boolean => cp < 0x250 || (cp >= 0x391 && cp <= 0x3a9) || (cp >= 0x400 && cp < 0x430);
const foldName = (name: string): string =>
  [...trimName(name)].map((c) => (foldable(c.codePointAt(0)!) ? c.toLowerCase() : c)).join('');
/** Whether two names would be taken for one another: equal after trimming, ignoring case. */
export const sameName = (a: string, b: string): boolean => foldName(a) === foldName(b);

const Index = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
/** Validates a RequestRef at the trust boundary. */
export const RequestRefSchema = v.strictObject({ member: Index, counter: Index });
const Place = v.pipe(
  v.string(),
  v.maxLength(MAX_PLACE_UNITS, `place must be at most ${MAX_PLACE_UNITS} characters, spaces included`),
  v.check((s) => placeProblem(s) === null, 'place must be 1..60 characters after trimming, no control characters'),
);
const Time = v.pipe(v.string(), v.regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, 'time must be HH:MM (24h)'));
const Name = v.pipe(
  v.string(),
  v.maxLength(MAX_NAME_UNITS, `a name is at most ${MAX_NAME_UNITS} characters, spaces included`),
  v.check((s) => nameProblem(s) === null, `a name is 1..${MAX_NAME_LENGTH} characters after trimming, no control characters`),
);

/** Validates ops at the trust boundary. It does not transform: apply trims the place itself. */
export const LunchOpSchema = v.variant('kind', [
  v.strictObject({ kind: v.literal('propose'), place: Place, time: Time }),
  v.strictObject({ kind: v.literal('vote'), proposal: RequestRefSchema, choice: v.picklist(['join', 'decline']) }),
  v.strictObject({ kind: v.literal('new-round') }),
  v.strictObject({ kind: v.literal('name'), name: Name }),
]);
// Compile-time check that the schema and the hand-written type agree in both directions.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesType: Same<v.InferOutput<typeof LunchOpSchema>, LunchOp> = true;
void schemaMatchesType;

/** Throws a RangeError unless n = 3f+1 >= 4. */
export function initialLunch(n: number): LunchState {
  quorumFor(n);
  // Rounds count from 1, as people count them: the first lunch of the day is round 1.
  return { n, names: SEAT_NAMES.slice(0, n), round: 1, asked: [], proposals: [], decisions: [] };
}

const sameRef = (a: RequestRef, b: RequestRef): boolean => a.member === b.member && a.counter === b.counter;
const showRef = (r: RequestRef): string => `${r.member}#${r.counter}`;
const findProposal = (state: LunchState, ref: RequestRef): number => state.proposals.findIndex((p) => sameRef(p.ref, ref));
const joinersOf = (p: Proposal): number[] => p.votes.flatMap((c, member) => (c === 'join' ? [member] : []));

/** The join and decline votes on the proposal `ref` (none for an unknown proposal). */
export function tally(state: LunchState, ref: RequestRef): { join: number; decline: number } {
  const votes = state.proposals[findProposal(state, ref)]?.votes ?? [];
  return { join: votes.filter((c) => c === 'join').length, decline: votes.filter((c) => c === 'decline').length };
}

/** The decision of the current round, if it has one. */
export function currentDecision(state: LunchState): Decision | null {
  const last = state.decisions.at(-1);
  return last !== undefined && last.round === state.round ? last : null;
}

/** The decision of `round`, if it was decided. */
export function decisionOf(state: LunchState, round: number): Decision | null {
  return state.decisions.find((d) => d.round === round) ?? null;
}

type Result = { state: LunchState; events: LunchEvent[] };
const ignore = (state: LunchState, reason: string, request: RequestRef | null = null): Result => ({
  state,
  events: [{ kind: 'ignored', reason, request }],
});

/** valibot never throws on plain data; this guards against getters and proxies that do. */
function safeParse<S extends v.GenericSchema>(schema: S, input: unknown): v.SafeParseResult<S> | null {
  try {
    return v.safeParse(schema, input);
  } catch {
    return null;
  }
}

/**
 * Apply the op of `member`'s executed request `ref`: the new state and what happened. Never
 * throws and never changes `state`; anything malformed or out of turn is an `ignored` event.
 */
export function applyLunch(state: LunchState, member: number, ref: RequestRef, op: LunchOp): Result {
  // Parsing also yields fresh copies, so nothing the caller holds ends up shared with the state.
  const parsedRef = safeParse(RequestRefSchema, ref);
  const parsedOp = safeParse(LunchOpSchema, op);
  if (parsedRef === null || parsedOp === null) return ignore(state, 'malformed request');
  if (!Number.isSafeInteger(member) || member < 0 || member >= state.n) {
    return ignore(state, `member ${String(member)} is not in the roster of ${state.n}`);
  }
  if (!parsedRef.success) return ignore(state, `malformed request ref: ${parsedRef.issues[0].message}`);
  if (parsedRef.output.member !== member) return ignore(state, 'request ref does not belong to its sender');
  const self = parsedRef.output;
  if (!parsedOp.success) return ignore(state, `malformed op: ${parsedOp.issues[0].message}`, self);
  const o = parsedOp.output;

  switch (o.kind) {
    case 'new-round':
      return askForNewRound(state, member, self);
    case 'name':
      return rename(state, member, self, o.name);
    case 'propose': {
      if (currentDecision(state)) return ignore(state, `round ${state.round} is already decided; start a new round to propose`, self);
      if (findProposal(state, self) >= 0) return ignore(state, `proposal ${showRef(self)} already exists`, self);
      const { round } = state;
      const place = o.place.trim();
      // Proposing is joining: a place somebody suggests has at least that somebody going. One
      // join never reaches 2f + 1 (at least 3), so a proposal alone decides nothing.
      const votes: (null | Choice)[] = Array(state.n).fill(null);
      votes[member] = 'join';
      const proposal: Proposal = { ref: self, round, place, time: o.time, proposer: member, votes };
      return {
        state: { ...state, proposals: [...state.proposals, proposal] },
        events: [{ kind: 'proposed', ref: self, round, place, time: o.time }],
      };
    }
    case 'vote': {
      const index = findProposal(state, o.proposal);
      const old = state.proposals[index];
      if (old === undefined) return ignore(state, `vote on unknown proposal ${showRef(o.proposal)}`, self);
      // A decided round is final: the card says who is going, and nobody's later vote rewrites it.
      if (decisionOf(state, old.round)) return ignore(state, `round ${old.round} is already decided`, self);
      if (old.round !== state.round) return ignore(state, `proposal from an earlier round (${old.round})`, self);
      const changed = old.votes[member] !== o.choice;
      const voted: LunchEvent = { kind: 'voted', member, proposal: old.ref, choice: o.choice, changed };
      if (!changed) return { state, events: [voted] };

      const proposal = { ...old, votes: old.votes.map((c, m) => (m === member ? o.choice : c)) };
      const next: LunchState = { ...state, proposals: state.proposals.map((p, i) => (i === index ? proposal : p)) };
      const joined = joinersOf(proposal);
      // Only this proposal's count moved, so if it reaches q now it is the first one this round to do so.
      const decides = o.choice === 'join' && joined.length >= quorumFor(state.n).q;
      if (!decides) return { state: next, events: [voted] };

      const decision: Decision = { round: state.round, proposal: old.ref, joined };
      const { place, time } = old;
      return {
        state: { ...next, decisions: [...state.decisions, decision] },
        events: [voted, { kind: 'decided', round: decision.round, proposal: old.ref, place, time, joined }],
      };
    }
  }
}

/**
 * After a decision anyone may move on. Before one, leaving the round takes 2f + 1 members asking
 * in it: so no single member (a liar included) can throw away a proposal that is gathering joins,
 * and f liars together cannot either.
 */
function askForNewRound(state: LunchState, member: number, self: RequestRef): Result {
  const started = (): Result => {
    const round = state.round + 1;
    return { state: { ...state, round, asked: [] }, events: [{ kind: 'round-started', round }] };
  };
  if (currentDecision(state)) return started();
  if (state.asked.includes(member)) return ignore(state, `you already asked for a new round in round ${state.round}`, self);
  const asked = [...state.asked, member].sort((a, b) => a - b);
  const event: LunchEvent = { kind: 'asked', member, round: state.round, asked };
  if (asked.length < quorumFor(state.n).q) return { state: { ...state, asked }, events: [event] };
  const next = started();
  return { state: next.state, events: [event, ...next.events] };
}

/** Names are the room's, agreed like votes, so every tab calls each member alike; no two alike. */
function rename(state: LunchState, member: number, self: RequestRef, wanted: string): Result {
  const name = trimName(wanted);
  const holder = state.names.findIndex((other, m) => m !== member && sameName(other, name));
  if (holder >= 0) return ignore(state, `the name “${name}” is already taken by ${state.names[holder]}`, self);
  const from = state.names[member]!;
  const names = state.names.map((x, m) => (m === member ? name : x));
  return { state: { ...state, names }, events: [{ kind: 'renamed', member, from, name }] };
}

const VOTE_CODE = { null: 0, join: 1, decline: 2 } as const;
// 2: names, the members who asked for a new round, and the proposer's own join. 3: rounds from 1.
const STATE_FORMAT = 3;

/** Canonical CBOR built from arrays in a fixed order: equal states, and only they, encode equal. */
export function encodeLunchState(state: LunchState): Uint8Array {
  return encode([
    STATE_FORMAT,
    state.n,
    state.names,
    state.round,
    state.asked,
    state.proposals.map((p) => [
      p.ref.member,
      p.ref.counter,
      p.round,
      p.place,
      p.time,
      p.proposer,
      p.votes.map((c) => VOTE_CODE[c ?? 'null']),
    ]),
    state.decisions.map((d) => [d.round, d.proposal.member, d.proposal.counter, d.joined]),
  ]);
}

const VOTE_OF = [null, 'join', 'decline'] as const;
const Int = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Round = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
const Members = v.pipe(v.array(Int), v.maxLength(MAX_MEMBERS));
const EncodedState = v.tuple([
  v.literal(STATE_FORMAT),
  Int,
  v.pipe(v.array(Name), v.maxLength(MAX_MEMBERS)),
  Round,
  Members,
  v.array(v.tuple([Int, Int, Round, Place, Time, Int, v.pipe(v.array(v.picklist([0, 1, 2])), v.maxLength(MAX_MEMBERS))])),
  v.array(v.tuple([Round, Int, Int, Members])),
]);

const ascendingBelow = (xs: readonly number[], n: number): boolean => xs.every((x, i) => x < n && (i === 0 || xs[i - 1]! < x));

/**
 * What the rules of `applyLunch` guarantee of every state they make, checked in one pass: a state
 * that breaks them was made by no history, and adopting it would let one tab show what no other can.
 */
function consistent(s: LunchState): boolean {
  const { n } = s;
  const { q } = quorumFor(n);
  if (s.names.length !== n || s.names.some((x) => x !== trimName(x))) return false;
  const folded = new Set(s.names.map(foldName));
  if (folded.size !== n) return false;
  if (!ascendingBelow(s.asked, n) || s.asked.length >= q) return false;
  const byRef = new Map<string, Proposal>();
  for (const p of s.proposals) {
    if (p.ref.member >= n || p.proposer !== p.ref.member || p.round > s.round || p.votes.length !== n) return false;
    if (p.place !== p.place.trim() || byRef.has(showRef(p.ref))) return false;
    byRef.set(showRef(p.ref), p);
  }
  for (const [i, d] of s.decisions.entries()) {
    if (d.round > s.round || (i > 0 && s.decisions[i - 1]!.round >= d.round)) return false;
    const p = byRef.get(showRef(d.proposal));
    const joined = p && p.round === d.round ? joinersOf(p) : [];
    if (joined.length < q || joined.length !== d.joined.length || joined.some((m, j) => d.joined[j] !== m)) return false;
  }
  return true;
}

/**
 * The inverse of `encodeLunchState`, for state transfer. Returns null for anything that is not
 * exactly such an encoding for a room of n (it must re-encode to the same bytes) of a state the
 * rules could have made. Every list is bounded by the bytes it came in or by MAX_MEMBERS, and the
 * checks are one pass, so refusing costs no more than reading.
 */
export function decodeLunchState(bytes: Uint8Array, n: number): LunchState | null {
  let raw: unknown;
  try {
    raw = decode(bytes, { strict: true, rejectDuplicateMapKeys: true, useMaps: false });
  } catch {
    return null;
  }
  const parsed = v.safeParse(EncodedState, raw, { abortEarly: true });
  if (!parsed.success || parsed.output[1] !== n) return null;
  const [, , names, round, asked, proposals, decisions] = parsed.output;
  const state: LunchState = {
    n,
    names,
    round,
    asked,
    proposals: proposals.map(([member, counter, pRound, place, time, proposer, votes]) => ({
      ref: { member, counter }, round: pRound, place, time, proposer, votes: votes.map((c) => VOTE_OF[c]),
    })),
    decisions: decisions.map(([dRound, member, counter, joined]) => ({ round: dRound, proposal: { member, counter }, joined })),
  };
  try {
    quorumFor(n);
  } catch {
    return null;
  }
  if (!consistent(state)) return null;
  const again = encodeLunchState(state);
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i])) return null;
  return state;
}
