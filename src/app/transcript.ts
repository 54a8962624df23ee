// The transcript: what the replica's effects mean, told as the lunch scene — James calls lunch,
// Bryan and Rich say they heard it, Chris lies, someone proves it — by whoever sent the message
// behind each line. A line is kept as a Story (member indices, never rendered names) and told
// only when shown, so a name that becomes known later, or changes, is right in every line,
// including lines restored from storage before the peers had announced their names.
// Pure: the same stories and names always give the same lines.
import type { Effect, ExecutedRequest, ViewChangeReason } from '../core/effects.ts';
import type { Choice, LunchEvent, LunchState, RequestRef } from '../core/lunch.ts';
import type { Proof } from '../core/messages.ts';
import { primaryOf, quorumFor } from '../core/quorum.ts';
import { explainProof } from '../proof/explain.ts';
import type { TranscriptLine } from './room-view.ts';

/**
 * One event of the room as the transcript keeps it. Members are roster indices; `seq` and
 * `view` say where the event stands in the protocol, for the technical line.
 */
export type Story =
  | { kind: 'proposed'; seq: number; view: number; member: number; counter: number; place: string; time: string }
  | { kind: 'voted'; seq: number; view: number; member: number; counter: number; proposal: RequestRef; place: string | null; choice: Choice; changed: boolean }
  | { kind: 'new-round'; seq: number; view: number; member: number; counter: number; round: number }
  | { kind: 'ignored'; seq: number; view: number; member: number; counter: number; reason: string }
  | { kind: 'recover'; seq: number; view: number; member: number; counter: number }
  /** `member` asked to leave `round` undecided; `asked` is everyone who has, `quorum` how many it takes. */
  | { kind: 'asked'; seq: number; view: number; member: number; counter: number; round: number; asked: readonly number[]; quorum: number }
  /** `member`, called `from` until now, goes by `name`. */
  | { kind: 'renamed'; seq: number; view: number; member: number; counter: number; from: string; name: string }
  /**
   * The members whose PREPARE for `seq`, with the batch that executed, reached this tab (or left
   * it) so far: the chronicle updates the list as late ones arrive.
   */
  | { kind: 'vouched'; seq: number; members: readonly number[] }
  /** The same for COMMIT. */
  | { kind: 'confirmed'; seq: number; members: readonly number[] }
  | { kind: 'decided'; seq: number; round: number; proposal: RequestRef; place: string; time: string; joined: readonly number[] }
  /** The lunch state jumped to a certified checkpoint: the others' (state transfer) or this tab's own, read back on a restore. */
  | { kind: 'caught-up'; me: number; seq: number; restored: boolean }
  /** This member, in `view`, asked for view `to`. */
  | { kind: 'view-change'; me: number; view: number; to: number; why: ViewChangeReason }
  /** The primary of `view` started it (its NEW-VIEW was accepted here). */
  | { kind: 'new-view'; view: number }
  /** What the proven liar did: the two messages it signed for one slot. */
  | { kind: 'equivocated'; member: number; slot: string; proof: Proof }
  /** This member holds (and passes on) the proof against `member`. */
  | { kind: 'proven'; me: number; member: number; slot: string }
  | { kind: 'claim'; accuser: number; accused: number; reason: string }
  | { kind: 'roster'; n: number; fingerprint: string }
  | { kind: 'malice'; enabled: boolean; strategy: string }
  | { kind: 'restored'; records: number };

/** What narration needs to know of the room. */
export interface NarrationContext {
  /** This tab's member index. */
  readonly me: number;
  readonly n: number;
  /** The lunch state after the effect (to name what a vote was for). */
  readonly lunch: LunchState;
  /** Accusations without proof against a member so far, this one included (only the first is told). */
  claimsAgainst(member: number): number;
  /** The effect comes from reading this tab's own records back after a reload. */
  readonly restored?: boolean;
}

/** The stories one effect adds to the transcript (none for most). Executions are told by `narrateExecution`. */
export function narrate(e: Effect, ctx: NarrationContext): Story[] {
  switch (e.kind) {
    case 'state':
      return [{ kind: 'caught-up', me: ctx.me, seq: e.seq, restored: ctx.restored === true }];
    case 'view':
      return [e.changing ? { kind: 'view-change', me: ctx.me, view: e.view, to: e.to, why: e.why } : { kind: 'new-view', view: e.view }];
    case 'evidence':
      return [
        { kind: 'equivocated', member: e.member, slot: e.slot, proof: e.proof },
        { kind: 'proven', me: ctx.me, member: e.member, slot: e.slot },
      ];
    case 'claim':
      return ctx.claimsAgainst(e.accused) === 1 ? [{ kind: 'claim', accuser: e.accuser, accused: e.accused, reason: e.reason }] : [];
    default:
      return [];
  }
}

/**
 * The stories of one executed step, in the scene's order: the requests it carried, who vouched
 * for it and who confirmed it (as heard here), then the decision it brought, if any. Vouching
 * and confirming are kept only for a step that carried something worth telling, and shown once
 * someone's is heard (see `shown`).
 */
export function narrateExecution(
  e: Extract<Effect, { kind: 'executed' }>,
  heard: { vouched: readonly number[]; confirmed: readonly number[] },
  lunch: LunchState,
): Story[] {
  const told: Story[] = [];
  const decisions: Story[] = [];
  const { seq, view } = e;
  for (const { request: r, event } of pairEvents(e.requests, e.events)) {
    const at = { seq, view, member: r.member, counter: r.counter };
    if (r.op.kind === 'recover') told.push({ kind: 'recover', ...at });
    if (!event) continue;
    switch (event.kind) {
      case 'proposed':
        told.push({ kind: 'proposed', ...at, place: event.place, time: event.time });
        break;
      case 'voted': {
        const p = lunch.proposals.find((x) => x.ref.member === event.proposal.member && x.ref.counter === event.proposal.counter);
        told.push({ kind: 'voted', ...at, proposal: event.proposal, place: p?.place ?? null, choice: event.choice, changed: event.changed });
        break;
      }
      case 'round-started':
        told.push({ kind: 'new-round', ...at, round: event.round });
        break;
      case 'ignored':
        told.push({ kind: 'ignored', ...at, reason: event.reason });
        break;
      case 'asked':
        told.push({ kind: 'asked', ...at, round: event.round, asked: event.asked, quorum: quorumFor(lunch.n).q });
        break;
      case 'renamed':
        told.push({ kind: 'renamed', ...at, from: event.from, name: event.name });
        break;
      case 'decided':
        decisions.push({ kind: 'decided', seq, round: event.round, proposal: event.proposal, place: event.place, time: event.time, joined: event.joined });
        break;
    }
  }
  if (told.length > 0) told.push({ kind: 'vouched', seq, members: heard.vouched }, { kind: 'confirmed', seq, members: heard.confirmed });
  return [...told, ...decisions];
}

/** Whether a story has anything to show yet: vouching or confirming that no one's message has reached this tab for, not yet. */
export function shown(s: Story): boolean {
  return (s.kind !== 'vouched' && s.kind !== 'confirmed') || s.members.length > 0;
}

/**
 * Each executed request with the lunch events it caused. A lunch op causes one event (proposed,
 * voted, asked, round-started, renamed or ignored); a vote may add `decided` after it, and the
 * ask that completes a quorum adds `round-started`. The protocol's own ops cause none; the
 * replica lists the events in request order.
 */
function pairEvents(requests: readonly ExecutedRequest[], events: readonly LunchEvent[]): { request: ExecutedRequest; event: LunchEvent | null }[] {
  const out: { request: ExecutedRequest; event: LunchEvent | null }[] = [];
  let i = 0;
  for (const request of requests) {
    const lunchOp = request.op.kind !== 'recover' && request.op.kind !== 'advance';
    const event = lunchOp ? (events[i++] ?? null) : null;
    out.push({ request, event });
    const follows = event?.kind === 'voted' ? 'decided' : event?.kind === 'asked' ? 'round-started' : null;
    if (follows !== null && events[i]?.kind === follows) out.push({ request, event: events[i++]! });
  }
  return out;
}

/** The line for switching malicious mode, or null when nothing a reader would notice changed. */
export function narrateMalice(
  before: { enabled: boolean; strategy: string },
  after: { enabled: boolean; strategy: string },
): Story | null {
  if (after.enabled && (!before.enabled || before.strategy !== after.strategy)) return { kind: 'malice', enabled: true, strategy: after.strategy };
  if (!after.enabled && before.enabled) return { kind: 'malice', enabled: false, strategy: after.strategy };
  return null;
}

/** A story told: the line in the scene's voices, and the same event in the protocol's own terms. */
export type Told = Pick<TranscriptLine, 'kind' | 'text' | 'technical'>;

/** Tell a story with the members' names as they are now. `n` is the room size (who keeps order in which view). */
export function tell(s: Story, name: (member: number) => string, n: number): Told {
  const who = (m: number) => `${name(m)} (member ${m})`;
  const request = (x: { seq: number; view: number; member: number; counter: number }) =>
    `seq ${x.seq}, view ${x.view}: executed request ${x.member}:${x.counter} from ${who(x.member)}`;
  switch (s.kind) {
    case 'proposed':
      return {
        kind: 'request',
        text: `${name(s.member)}: “Lunch, everyone! How about ${s.place} at ${s.time}?”`,
        technical: `${request(s)}: propose “${s.place}” at ${s.time}.`,
      };
    case 'voted': {
      const what = s.place ?? 'that';
      const words = s.choice === 'join'
        ? (s.changed ? `Count me in for ${what}.` : `Still in for ${what}.`)
        : (s.changed ? `${s.place ?? 'That'} is not for me.` : `Still not ${what} for me.`);
      return {
        kind: 'request',
        text: `${name(s.member)}: “${words}”`,
        technical: `${request(s)}: vote ${s.choice} on proposal ${s.proposal.member}:${s.proposal.counter}${s.changed ? '' : ' (unchanged)'}.`,
      };
    }
    case 'new-round':
      return {
        kind: 'request',
        text: `${name(s.member)}: “Let us choose lunch again.” Round ${s.round} begins.`,
        technical: `${request(s)}: new-round; the lunch state is now in round ${s.round}.`,
      };
    case 'ignored':
      return {
        kind: 'info',
        text: `${name(s.member)}’s request changes nothing: ${s.reason}.`,
        technical: `${request(s)}: ignored (${s.reason}).`,
      };
    case 'asked':
      return {
        kind: 'request',
        text: `${name(s.member)}: “Can we start over?” ${s.asked.length} of ${s.quorum} have asked to leave round ${s.round}.`,
        technical: `${request(s)}: new-round asked in round ${s.round} by ${s.asked.map(who).join(', ')} (${s.quorum} needed).`,
      };
    case 'renamed':
      return {
        kind: 'info',
        text: `${s.from}: “Call me ${s.name} from now on.”`,
        technical: `${request(s)}: name “${s.from}” → “${s.name}”.`,
      };
    case 'recover':
      return {
        kind: 'request',
        text: `${name(s.member)}: “I lost my records. Agree on where I stand, and until then I vouch for nothing.”`,
        technical: `${request(s)}: recover (a recovery request after lost records).`,
      };
    case 'vouched':
      return {
        kind: 'vouch',
        text: `${list(s.members.map(name))}: “${s.members.length === 1 ? 'I' : 'We'} heard step ${s.seq} the same way — ` +
          `${s.members.length === 1 ? 'I' : 'we'} vouch for it.”`,
        technical: `seq ${s.seq}: PREPARE for the executed batch from ${s.members.map(who).join(', ')} (as seen by this tab).`,
      };
    case 'confirmed':
      return {
        kind: 'confirm',
        text: `${list(s.members.map(name))}: “Enough of us vouched: step ${s.seq} stands.”`,
        technical: `seq ${s.seq}: COMMIT for the executed batch from ${s.members.map(who).join(', ')} (as seen by this tab).`,
      };
    case 'decided':
      return {
        kind: 'decision',
        text: `Lunch is decided: ${s.place} at ${s.time}. ${list(s.joined.map(name))} ${s.joined.length === 1 ? 'is' : 'are'} off to lunch.`,
        technical: `seq ${s.seq}: proposal ${s.proposal.member}:${s.proposal.counter} reached ${s.joined.length} joins; ` +
          `round ${s.round} is decided (joined: ${s.joined.join(', ')}).`,
      };
    case 'caught-up':
      return s.restored
        ? {
            kind: 'info',
            text: `${name(s.me)} picks up from its own stored checkpoint at step ${s.seq}.`,
            technical: `restore: stable checkpoint at seq ${s.seq} read from this tab's records.`,
          }
        : {
            kind: 'info',
            text: `${name(s.me)}: “I fell behind; I take the lunch plan the others certified at step ${s.seq}.”`,
            technical: `state transfer: adopted the certified stable checkpoint at seq ${s.seq}.`,
          };
    case 'view-change':
      return {
        kind: 'view',
        text: `${name(s.me)}: “${whyChange(s, name, n)} — I ask for view ${s.to}, with ${keeper(primaryOf(s.to, n), s.me, name)} keeping order.”`,
        technical: `VIEW-CHANGE from ${who(s.me)}: leaving view ${s.view} for view ${s.to} (primary ${who(primaryOf(s.to, n))}); reason: ${s.why}.`,
      };
    case 'new-view': {
      const p = primaryOf(s.view, n);
      return {
        kind: 'view',
        text: `${name(p)}: “I keep order now.” View ${s.view} begins.`,
        technical: `NEW-VIEW from ${who(p)}: view ${s.view} entered.`,
      };
    }
    case 'equivocated':
      return {
        kind: 'evidence',
        text: explainProof(s.proof, { name }).headline,
        technical: `equivocation: ${who(s.member)} signed two different messages for ${s.slot}.`,
      };
    case 'proven':
      return {
        kind: 'evidence',
        text: s.me === s.member
          ? `The others hold proof against ${name(s.me)}: two messages ${name(s.me)} signed for one step.`
          : `${name(s.me)}: “${name(s.member)} is faulty, and I can prove it: two messages ${name(s.member)} signed for one step. ` +
            'Anyone can check them.”',
        technical: `EVIDENCE against ${who(s.member)} for ${s.slot}: both signatures verified; passed on by ${who(s.me)}.`,
      };
    case 'claim':
      return {
        kind: 'claim',
        text: s.accuser === s.accused
          ? `${name(s.accuser)} calls itself faulty, without proof, so nothing changes.`
          : `${name(s.accuser)}: “${name(s.accused)} is faulty!” — said without proof, so nothing changes.`,
        technical: `claim without proof by ${who(s.accuser)} against ${who(s.accused)}: ${s.reason}.`,
      };
    case 'roster':
      return {
        kind: 'roster',
        text: `Everyone is here: the roster is fixed with ${s.n} members, fingerprint ${s.fingerprint}.`,
        technical: `roster fixed: n = ${s.n}, fingerprint ${s.fingerprint}.`,
      };
    case 'malice':
      return s.enabled
        ? { kind: 'info', text: `This tab now acts maliciously: ${s.strategy}.`, technical: `malicious mode on, strategy ${s.strategy}.` }
        : { kind: 'info', text: 'This tab is honest again.', technical: 'malicious mode off.' };
    case 'restored':
      return {
        kind: 'info',
        text: `Restored from ${s.records} stored record(s).`,
        technical: `restore: ${s.records} write-ahead record(s) used.`,
      };
  }
}

/** Why `s.me` gave up on view `s.view`, in its own words: it never complains about itself. */
function whyChange(s: Extract<Story, { kind: 'view-change' }>, name: (m: number) => string, n: number): string {
  const primary = primaryOf(s.view, n);
  const mine = primary === s.me;
  switch (s.why) {
    case 'request-late':
      return mine ? 'Requests are stuck while I keep order' : `Requests have waited too long under ${name(primary)}`;
    case 'primary-silent':
      return mine ? 'The room has gone quiet' : `I have not heard from ${name(primary)} in too long`;
    case 'view-change-late': {
      const next = primaryOf(s.to - 1, n);
      return next === s.me ? `View ${s.to - 1}, which I was to lead, has not started in time` : `View ${s.to - 1} under ${name(next)} has not started in time`;
    }
    case 'others-asked':
      return mine ? 'Others want someone else to keep order, so I step aside' : `Others have given up on ${name(primary)}, and I join them`;
    case 'primary-proven':
      return mine ? 'I am proven faulty, so I cannot keep order' : `${name(primary)} is proven faulty and cannot keep order`;
  }
}

function keeper(member: number, me: number, name: (m: number) => string): string {
  return member === me ? 'me' : name(member);
}

/** "A", "A and B", "A, B and C". */
function list(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}
