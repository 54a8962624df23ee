// A proof of equivocation in people's words: one sentence that says what the member did, and
// each of the two signed messages told plainly, for the proof dialog. The JSON stays one toggle
// away; this is what a coworker reads first.
import { toHex } from '../core/bytes.ts';
import type { LunchOp } from '../core/lunch.ts';
import type { AnyBody, Proof, RequestBody, RequestOp, Signed } from '../core/messages.ts';

/** What the dialog shows before the raw messages. */
export interface ProofStory {
  /** One sentence a non-expert understands. */
  readonly headline: string;
  /** The first signed message, in plain words. */
  readonly first: string;
  /** The second, in the same words, so the two read side by side. */
  readonly second: string;
  /** Why two signed messages prove a fault. */
  readonly why: string;
}

/** What the dialog knows besides the proof: members' names, and batches it has seen by digest. */
export interface ProofContext {
  readonly name: (member: number) => string;
  /** The requests a proposal (by its digest) carried, when this tab saw them. */
  readonly batch?: (digest: Uint8Array) => readonly Signed<RequestBody>[] | undefined;
}

const WHY =
  'An honest member signs one message for each step. Two different ones, both carrying its signature, ' +
  'can only come from that member, so anyone can check this proof, and no one has to take anyone’s word for it.';

/** The proof told for people: both parts must be for one slot (as `checkProof` requires). */
export function explainProof(proof: Proof, context: ProofContext): ProofStory {
  const { a, b } = proof;
  const who = context.name(a.body.from);
  return {
    headline: headline(who, a.body, b.body, context),
    first: plain(a.body, context),
    second: plain(b.body, context),
    why: WHY,
  };
}

function headline(who: string, a: AnyBody, b: AnyBody, c: ProofContext): string {
  switch (a.t) {
    case 'request':
      return `${who} made two different requests under one number (#${a.counter}) — ${plain(a, c)} and ${plain(b, c)} — and signed both.`;
    case 'pre-prepare':
      return `${who}, leading the room, put two different things forward as step ${a.seq}: ${contents(a.digest, c)} and ` +
        `${contents((b as typeof a).digest, c)}, and signed both.`;
    case 'prepare':
      return `${who} vouched for two different proposals as step ${a.seq}, and signed both.`;
    case 'commit':
      return `${who} confirmed two different proposals as step ${a.seq}, and signed both.`;
    case 'view-change':
      return `${who} cast two different votes to replace the leader (for view ${a.view}), and signed both.`;
    case 'new-view':
      return `${who} started view ${a.view} twice, in two different ways, and signed both.`;
    case 'checkpoint':
      return `${who} reported two different lunch plans after step ${a.seq}, and signed both.`;
    default:
      return `${who} signed two different messages where an honest member signs one.`;
  }
}

/** One signed message in plain words. */
function plain(body: AnyBody, c: ProofContext): string {
  switch (body.t) {
    case 'request':
      return describeOp(body.op, c);
    case 'pre-prepare':
      return `Step ${body.seq} (view ${body.view}) is ${contents(body.digest, c)}.`;
    case 'prepare':
      return `I vouch that step ${body.seq} (view ${body.view}) is proposal ${short(body.digest)}.`;
    case 'commit':
      return `I confirm that step ${body.seq} (view ${body.view}) is proposal ${short(body.digest)}.`;
    case 'view-change':
      return `Replace the leader: view ${body.view}. My lunch plan is settled up to step ${body.stable}, ` +
        `and I vouched for ${body.prepared.length === 1 ? '1 step' : `${body.prepared.length} steps`} after it.`;
    case 'new-view':
      return `View ${body.view} begins, from ${body.vcs.length} votes, carrying ${body.pps.length === 1 ? '1 step' : `${body.pps.length} steps`} over.`;
    case 'checkpoint':
      return `After step ${body.seq} the lunch plan is ${short(body.digest)}.`;
    default:
      return 'A message of another kind.';
  }
}

function describeOp(op: RequestOp, c: ProofContext): string {
  if (op.kind === 'recover') return '“I lost my records; let me back in.”';
  if (op.kind === 'advance') return '“Move the room along.”';
  return `“${lunchWords(op, c)}”`;
}

function lunchWords(op: LunchOp, c: ProofContext): string {
  switch (op.kind) {
    case 'propose':
      return `How about ${op.place} at ${op.time}?`;
    case 'vote':
      return `${op.choice === 'join' ? 'I join' : 'I decline'} ${c.name(op.proposal.member)}’s proposal #${op.proposal.counter}`;
    case 'new-round':
      return 'Let’s start a new round';
    case 'name':
      return `Call me ${op.name}`;
  }
}

/** What a proposal carried, in words when this tab saw it, else its short fingerprint. */
function contents(digest: Uint8Array, c: ProofContext): string {
  const batch = c.batch?.(digest);
  if (batch === undefined) return `proposal ${short(digest)}`;
  if (batch.length === 0) return `an empty proposal (${short(digest)})`;
  const shown = batch.slice(0, 3).map((r) => `${c.name(r.body.from)}: ${describeOp(r.body.op, c)}`);
  const more = batch.length > 3 ? ` and ${batch.length - 3} more` : '';
  return `${shown.join('; ')}${more}`;
}

function short(digest: Uint8Array): string {
  return toHex(digest).slice(0, 8);
}
