// What this tab saw of each member (observations.ts), in words a coworker understands. Every
// line is something this tab saw for itself: true here, but no proof for anyone else, so the
// Members list shows these lines apart from "proven faulty".
import { SILENT_AFTER_MS, type MemberSight, type Misdeed, type Replacement, type Replacing } from './observations.ts';

/** What kind of thing a line reports: a kind of bad traffic, or the primary's or accuser's conduct. */
export type ObservedKind = Misdeed | 'slow' | 'replacing' | 'replaced' | 'accused';

/** One thing this tab saw a member do. */
export interface ObservedLine {
  readonly kind: ObservedKind;
  readonly text: string;
}

/** A duration for people: "3.5 s" below ten seconds, whole seconds from there, minutes past two. */
export function duration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${Number(s.toFixed(1))} s`;
  if (s < 120) return `${Math.floor(s)} s`;
  return `${Math.floor(s / 60)} min`;
}

/** "A", "A and B", "A, B and C" (`or` instead of `and` when asked). */
export function listOf(names: readonly string[], word: 'and' | 'or' = 'and'): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} ${word} ${names[names.length - 1]}`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

const MISDEED_TEXT: Readonly<Record<Misdeed, (n: number) => string>> = {
  forged: (n) => `sent ${plural(n, 'message')} with forged signatures`,
  'bad-proof': (n) => `sent ${plural(n, '“proof” that proves', '“proofs” that prove')} nothing`,
  malformed: (n) => `sent ${plural(n, 'garbled message')}`,
  oversized: (n) => `sent ${plural(n, 'oversized message')}`,
  invalid: (n) => `sent ${plural(n, 'message that breaks', 'messages that break')} the rules`,
  replayed: (n) => `resent ${plural(n, 'old message')} signed by others`,
};

/**
 * How long a connected member has been silent (ms), or null when it is heard from, is this tab,
 * or is not connected at all (then it is simply disconnected). Honest members send a status
 * every 1.5 s, so a longer silence means it is not taking part, whatever its link says.
 */
export function silentFor(sight: MemberSight | undefined, connected: boolean, isMe: boolean, now: number): number | null {
  if (!sight || isMe || !connected) return null;
  const quiet = now - sight.lastHeard;
  return quiet >= SILENT_AFTER_MS ? quiet : null;
}

/** Why a primary is being (or was) replaced, with the member named: "nothing heard from Chris for 8 s". */
export function replacementReason(reason: Replacement, who: string, heldMs: number, name: (member: number) => string): string {
  switch (reason.kind) {
    case 'proven':
      return `${who} was caught telling members different things`;
    case 'silent':
      return `nothing heard from ${who} for ${duration(heldMs)}`;
    case 'held':
      return `${who} kept requests waiting ${duration(heldMs)}`;
    case 'asked':
      return `${listOf(reason.by.map(name))} asked for a new primary`;
    case 'unclear':
      return 'nothing was decided in time';
  }
}

/** How long a primary being replaced has held the room up so far, live. */
export function heldSoFar(replacing: Replacing, sight: MemberSight | undefined, now: number): number {
  if (replacing.reason.kind === 'silent') return now - (sight?.lastHeard ?? replacing.reason.since);
  if (replacing.reason.kind === 'held') return now - replacing.reason.since;
  return 0;
}

/** What the primary's own line says about it, without its name: "silent for 8 s". */
function conduct(reason: Replacement, heldMs: number, name: (member: number) => string): string | null {
  switch (reason.kind) {
    case 'proven':
      return 'caught telling members different things';
    case 'silent':
      return `silent for ${duration(heldMs)}`;
    case 'held':
      return `kept requests waiting ${duration(heldMs)}`;
    case 'asked':
      return `${listOf(reason.by.map(name))} asked for a new primary`;
    case 'unclear':
      return null;
  }
}

/** The context of a member's lines: names, the time, and the view change under way. */
export interface LineContext {
  name(member: number): string;
  readonly now: number;
  readonly replacing: Replacing | null;
}

/** What this tab saw member `sight.member` do, one line each, worst first. */
export function observedLines(sight: MemberSight, ctx: LineContext): ObservedLine[] {
  const lines: ObservedLine[] = [];
  const r = ctx.replacing;
  if (r && r.member === sight.member) {
    const what = conduct(r.reason, heldSoFar(r, sight, ctx.now), ctx.name);
    lines.push({ kind: 'replacing', text: what ? `primary, ${what} — being replaced` : 'primary — being replaced' });
  } else if (sight.replaced) {
    const what = conduct(sight.replaced.reason, sight.replaced.heldMs, ctx.name);
    lines.push({ kind: 'replaced', text: what ? `replaced as primary: ${what}` : 'replaced as primary' });
  }
  if (sight.slowTimes > 0) {
    const times = sight.slowTimes > 1 ? ` (${sight.slowTimes} times)` : '';
    lines.push({ kind: 'slow', text: `as primary, kept requests waiting ${duration(sight.slowest)}${times}` });
  }
  for (const kind of ['forged', 'bad-proof', 'replayed', 'oversized', 'malformed', 'invalid'] as const) {
    const count = sight.misdeeds[kind];
    if (count > 0) lines.push({ kind, text: MISDEED_TEXT[kind](count) });
  }
  if (sight.accused.length > 0) lines.push({ kind: 'accused', text: `accused ${listOf(sight.accused.map(ctx.name))} without proof` });
  return lines;
}

/** What a member accused without proof shows: "1 unproven claim against (by Chris)", or null. */
export function claimsAgainst(sight: MemberSight | undefined, name: (member: number) => string): string | null {
  if (!sight || sight.accusedBy.size === 0) return null;
  let count = 0;
  for (const c of sight.accusedBy.values()) count += c;
  const by = [...sight.accusedBy.keys()].sort((a, b) => a - b).map(name);
  return `${plural(count, 'unproven claim')} against (by ${listOf(by)})`;
}
