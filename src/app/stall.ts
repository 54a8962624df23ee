// Why nothing is moving, in people's terms: who is missing for a quorum, whom the room is
// replacing as primary and why, or whom this member's request waits for. Pure; the lines come
// from what this tab knows now, so they change as members come back or the view change ends.
import { duration, listOf } from './observed-lines.ts';

/** Own requests wait this long before the tab says what they wait for. */
export const OWN_WAIT_SHOWN_MS = 2000;

/** What the stall lines are made of. */
export interface StallFacts {
  readonly n: number;
  /** 2f + 1. */
  readonly q: number;
  /** Every member, this tab included: its name and whether it takes part now (connected and heard from). */
  readonly members: readonly { readonly name: string; readonly online: boolean }[];
  /** This member's lunch intents not executed yet. */
  readonly pendingOwn: number;
  /** The view change under way: whom it replaces, who takes over, and why in words (stall reason). */
  readonly replacing: { readonly name: string; readonly next: string; readonly why: string } | null;
  /** This member's oldest waiting request: how long, the primary's name, and whether the primary passed anything on since. */
  readonly ownWait: { readonly ms: number; readonly primary: string; readonly passedOn: boolean } | null;
}

/** Whom the room waits for when `need` more of `missing` must come online. */
export function waitingFor(missing: readonly string[], need: number): string {
  if (need >= missing.length) return listOf(missing, 'and');
  if (need === 1) return listOf(missing, 'or');
  return `${need} of ${listOf(missing, 'and')}`;
}

/** The lines that explain a stall, most basic first; none when nothing is held up. */
export function stallLines(f: StallFacts): string[] {
  const lines: string[] = [];
  const online = f.members.filter((m) => m.online).length;
  if (online < f.q) {
    const missing = f.members.filter((m) => !m.online).map((m) => m.name);
    lines.push(`Needs ${f.q} of ${f.n} online — waiting for ${waitingFor(missing, f.q - online)}`);
  }
  if (f.replacing) {
    const { name, next, why } = f.replacing;
    lines.push(`Replacing ${name} as primary (the member who puts requests in order): ${why}. ${next} takes over once ${f.q} of ${f.n} agree.`);
  } else if (online >= f.q && f.pendingOwn > 0 && f.ownWait && f.ownWait.ms >= OWN_WAIT_SHOWN_MS) {
    const { ms, primary, passedOn } = f.ownWait;
    lines.push(passedOn
      ? `Your request has waited ${duration(ms)} for the others to confirm it.`
      : `Your request has waited ${duration(ms)}: ${primary}, the primary, has not passed it on yet.`);
  }
  return lines;
}
