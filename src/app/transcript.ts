// The transcript: what the replica's effects mean, told in the members' voices. Pure: the same
// effect and names always give the same lines.
import type { Effect } from '../core/effects.ts';
import type { LunchEvent, LunchState } from '../core/lunch.ts';
import type { RequestOp } from '../core/messages.ts';
import { primaryOf, quorumFor } from '../core/quorum.ts';
import type { TranscriptLine } from './room-view.ts';

/** A transcript line before it is stamped with a time. */
export type Narration = Pick<TranscriptLine, 'kind' | 'text'>;

/** What narration needs to know of the room. */
export interface NarrationContext {
  /** A member's name, by index. */
  name(member: number): string;
  /** This tab's member index. */
  readonly me: number;
  readonly n: number;
  /** The lunch state after the effect (to name what a vote was for). */
  readonly lunch: LunchState;
  /** Accusations without proof against a member so far, this one included (only the first is told). */
  claimsAgainst(member: number): number;
}

/** The lines one effect adds to the transcript (none for most). */
export function narrate(e: Effect, ctx: NarrationContext): Narration[] {
  const { name } = ctx;
  switch (e.kind) {
    case 'executed':
      return e.events.flatMap((ev) => describe(ev, e.requests, ctx));
    case 'state':
      return [{ kind: 'info', text: `Caught up from the others' certified state at sequence ${e.seq}.` }];
    case 'view':
      return [e.changing
        ? { kind: 'view', text: `${name(ctx.me)}: “I have not heard from ${name(primaryOf(e.view, ctx.n))} in time — let us change who keeps order.”` }
        : { kind: 'view', text: `${name(primaryOf(e.view, ctx.n))} takes over as the one who keeps order (view ${e.view}).` }];
    case 'evidence':
      return [{ kind: 'evidence', text: `${name(e.member)} is proven faulty: ${name(e.member)} signed two contradicting messages for one step, and both signatures check out.` }];
    case 'claim':
      return ctx.claimsAgainst(e.accused) === 1
        ? [{ kind: 'claim', text: `${name(e.accuser)}: “${name(e.accused)} is faulty!” — an accusation without proof, so nothing changes.` }]
        : [];
    default:
      return [];
  }
}

function describe(ev: LunchEvent, requests: readonly { member: number; op: RequestOp }[], ctx: NarrationContext): Narration[] {
  const { name } = ctx;
  switch (ev.kind) {
    case 'proposed':
      return [{ kind: 'request', text: `${name(ev.ref.member)}: “How about ${ev.place} at ${ev.time}?”` }];
    case 'voted': {
      const p = ctx.lunch.proposals.find((x) => x.ref.member === ev.proposal.member && x.ref.counter === ev.proposal.counter);
      const what = p ? p.place : 'that';
      return [{ kind: 'request', text: `${name(ev.member)}: “${ev.choice === 'join' ? `I am in for ${what}.` : `Not ${what} for me.`}”` }];
    }
    case 'decided':
      return [{ kind: 'decision', text: `Lunch is decided: ${ev.place} at ${ev.time}. ${ev.joined.map(name).join(', ')} are off to lunch.` }];
    case 'round-started': {
      const who = requests.find((r) => r.op.kind === 'new-round');
      return [{ kind: 'request', text: `${who ? name(who.member) : 'Someone'}: “Let us pick lunch again.” (round ${ev.round + 1})` }];
    }
    case 'asked':
      return [{ kind: 'request', text: `${name(ev.member)}: “Can we start over?” (${ev.asked.length} of ${quorumFor(ctx.n).q} asked for a new round)` }];
    case 'renamed':
      return [{ kind: 'info', text: `${ev.from} goes by ${ev.name} now.` }];
    case 'ignored':
      return [];
  }
}

/** The line after a decision's diagram closes: who vouched for it and who confirmed it, as heard here. */
export function narrateStep(seq: number, vouched: readonly number[], confirmed: readonly number[], name: (m: number) => string): Narration | null {
  if (vouched.length === 0 && confirmed.length === 0) return null;
  const list = (ms: readonly number[]) => ms.map(name).join(', ');
  return {
    kind: 'info',
    text: `Step ${seq}: ${vouched.length ? `${list(vouched)} vouched for it` : 'nobody vouched here'}; ${confirmed.length ? `${list(confirmed)} confirmed it` : 'no confirmations heard'}.`,
  };
}

/** The line for switching malicious mode, or null when nothing a reader would notice changed. */
export function narrateMalice(
  before: { enabled: boolean; strategy: string },
  after: { enabled: boolean; strategy: string },
): Narration | null {
  if (after.enabled && (!before.enabled || before.strategy !== after.strategy)) {
    return { kind: 'info', text: `This tab now acts maliciously: ${after.strategy}.` };
  }
  if (!after.enabled && before.enabled) return { kind: 'info', text: 'This tab is honest again.' };
  return null;
}
