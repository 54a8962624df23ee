// The lunch state machine. The replicated log executes requests in agreed order and each executed
// request applies one LunchOp here. Everything is pure and deterministic: the same history gives
// byte-identical encodings on every honest tab, and a malformed op is a recorded no-op, never a throw.
import { decode, encode } from 'cborg';
import * as v from 'valibot';
import { MAX_PLACE_LENGTH, MAX_PLACE_UNITS } from './limits.ts';
import { quorumFor } from './quorum.ts';

/** Names an executed request, and so a proposal: its member and that member's request counter. */
export interface RequestRef {
  member: number;
  counter: number;
}
/** A member's vote on a proposal. */
export type Choice = 'join' | 'decline';
/** What a member asks the room to do: propose a place and time, vote on a proposal, or start a new round. */
export type LunchOp =
  | { kind: 'propose'; place: string; time: string }
  | { kind: 'vote'; proposal: RequestRef; choice: Choice }
  | { kind: 'new-round' };
/** A place and time proposed in a round, with every member's vote on it. */
export interface Proposal {
  ref: RequestRef;
  round: number;
  place: string;
  time: string;
  proposer: number;
  /** Length n, indexed by member. */
  votes: (null | Choice)[];
}
/** The proposal a round settled on: the first to reach 2f + 1 joins. */
export interface Decision {
  round: number;
  proposal: RequestRef;
  /** Members whose vote was 'join' at the moment of decision, ascending. */
  joined: number[];
}
/** The replicated lunch state: the current round, every proposal and every decision. */
export interface LunchState {
  n: number;
  round: number;
  /** In agreed order of execution. */
  proposals: Proposal[];
  /** At most one per round, in round order. */
  decisions: Decision[];
}
/** What applying one op did, for the tab to show; an op that changes nothing is `ignored`, with why. */
export type LunchEvent =
  | { kind: 'proposed'; ref: RequestRef; round: number; place: string; time: string }
  | { kind: 'voted'; member: number; proposal: RequestRef; choice: Choice; changed: boolean }
  | { kind: 'decided'; round: number; proposal: RequestRef; place: string; time: string; joined: number[] }
  | { kind: 'round-started'; round: number }
  | { kind: 'ignored'; reason: string };

/** The longest place, in code points after trimming (limits.ts). */
export { MAX_PLACE_LENGTH };

// Code points, not graphemes: grapheme segmentation depends on the engine's Unicode tables, and
// replicas running different browsers must never disagree on whether an op is valid.
// Lone surrogates are rejected because CBOR (UTF-8) cannot carry them faithfully.
const placeProblem = (place: string): string | null => {
  if (place.length > MAX_PLACE_UNITS) return `place is longer than ${MAX_PLACE_UNITS} characters, spaces included`;
  if (/[\p{Cc}\p{Cs}]/u.test(place)) return 'place contains a control character or lone surrogate';
  const length = [...place.trim()].length;
  if (length < 1 || length > MAX_PLACE_LENGTH) return `place must be 1..${MAX_PLACE_LENGTH} characters after trimming`;
  return null;
};

const Index = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
/** Validates a RequestRef at the trust boundary. */
export const RequestRefSchema = v.strictObject({ member: Index, counter: Index });
const Place = v.pipe(
  v.string(),
  v.maxLength(MAX_PLACE_UNITS, `place must be at most ${MAX_PLACE_UNITS} characters, spaces included`),
  v.check((s) => placeProblem(s) === null, 'place must be 1..60 characters after trimming, no control characters'),
);
const Time = v.pipe(v.string(), v.regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, 'time must be HH:MM (24h)'));

/** Validates ops at the trust boundary. It does not transform: apply trims the place itself. */
export const LunchOpSchema = v.variant('kind', [
  v.strictObject({ kind: v.literal('propose'), place: Place, time: Time }),
  v.strictObject({ kind: v.literal('vote'), proposal: RequestRefSchema, choice: v.picklist(['join', 'decline']) }),
  v.strictObject({ kind: v.literal('new-round') }),
]);
// Compile-time check that the schema and the hand-written type agree in both directions.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesType: Same<v.InferOutput<typeof LunchOpSchema>, LunchOp> = true;
void schemaMatchesType;

/** Throws a RangeError unless n = 3f+1 >= 4. */
export function initialLunch(n: number): LunchState {
  quorumFor(n);
  return { n, round: 0, proposals: [], decisions: [] };
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

type Result = { state: LunchState; events: LunchEvent[] };
const ignore = (state: LunchState, reason: string): Result => ({ state, events: [{ kind: 'ignored', reason }] });

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
  if (!parsedOp.success) return ignore(state, `malformed op: ${parsedOp.issues[0].message}`);
  const self = parsedRef.output;
  const o = parsedOp.output;

  switch (o.kind) {
    case 'new-round': {
      const round = state.round + 1;
      return { state: { ...state, round }, events: [{ kind: 'round-started', round }] };
    }
    case 'propose': {
      if (currentDecision(state)) return ignore(state, `round ${state.round} is already decided; start a new round`);
      if (findProposal(state, self) >= 0) return ignore(state, `proposal ${showRef(self)} already exists`);
      const { round } = state;
      const place = o.place.trim();
      const proposal: Proposal = { ref: self, round, place, time: o.time, proposer: member, votes: Array(state.n).fill(null) };
      return {
        state: { ...state, proposals: [...state.proposals, proposal] },
        events: [{ kind: 'proposed', ref: self, round, place, time: o.time }],
      };
    }
    case 'vote': {
      const index = findProposal(state, o.proposal);
      const old = state.proposals[index];
      if (old === undefined) return ignore(state, `vote on unknown proposal ${showRef(o.proposal)}`);
      if (old.round !== state.round) return ignore(state, `proposal from an earlier round (${old.round})`);
      const changed = old.votes[member] !== o.choice;
      const voted: LunchEvent = { kind: 'voted', member, proposal: old.ref, choice: o.choice, changed };
      if (!changed) return { state, events: [voted] };

      const proposal = { ...old, votes: old.votes.map((c, m) => (m === member ? o.choice : c)) };
      const next: LunchState = { ...state, proposals: state.proposals.map((p, i) => (i === index ? proposal : p)) };
      const joined = joinersOf(proposal);
      // Only this proposal's count moved, so if it reaches q now it is the first one this round to do so.
      const decides = o.choice === 'join' && !currentDecision(state) && joined.length >= quorumFor(state.n).q;
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

const VOTE_CODE = { null: 0, join: 1, decline: 2 } as const;
const STATE_FORMAT = 1;

/** Canonical CBOR built from arrays in a fixed order: equal states, and only they, encode equal. */
export function encodeLunchState(state: LunchState): Uint8Array {
  return encode([
    STATE_FORMAT,
    state.n,
    state.round,
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
const EncodedState = v.tuple([
  v.literal(STATE_FORMAT),
  Int,
  Int,
  v.array(v.tuple([Int, Int, Int, v.string(), v.string(), Int, v.array(v.picklist([0, 1, 2]))])),
  v.array(v.tuple([Int, Int, Int, v.array(Int)])),
]);

/**
 * The inverse of `encodeLunchState`, for state transfer. Returns null for anything that is not
 * exactly such an encoding for a room of n (it must re-encode to the same bytes).
 */
export function decodeLunchState(bytes: Uint8Array, n: number): LunchState | null {
  let raw: unknown;
  try {
    raw = decode(bytes, { strict: true, rejectDuplicateMapKeys: true, useMaps: false });
  } catch {
    return null;
  }
  const parsed = v.safeParse(EncodedState, raw);
  if (!parsed.success || parsed.output[1] !== n) return null;
  const [, , round, proposals, decisions] = parsed.output;
  const state: LunchState = {
    n,
    round,
    proposals: proposals.map(([member, counter, pRound, place, time, proposer, votes]) => ({
      ref: { member, counter }, round: pRound, place, time, proposer, votes: votes.map((c) => VOTE_OF[c]),
    })),
    decisions: decisions.map(([dRound, member, counter, joined]) => ({ round: dRound, proposal: { member, counter }, joined })),
  };
  const again = encodeLunchState(state);
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i])) return null;
  return state;
}
