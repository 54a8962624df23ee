// What a tab keeps of its replica's effects for the screen: the message diagrams and the panel's
// counts, the accusations without proof, the lunch as executed here, and the transcript. Pure: the
// same effects at the same moments make the same record.
import type { Effect, ExecutedRequest } from '../core/effects.ts';
import { coordinatesOf } from '../core/messages.ts';
import { initialLunch, type LunchState } from '../core/lunch.ts';
import { Diagrams, diagramLabel } from './diagrams.ts';
import { narrate, narrateExecution, type Story } from './transcript.ts';

/** Transcript lines kept; older ones fall off the top, so a long session stays light to render. */
export const TRANSCRIPT_KEPT = 500;
/** Steps whose vouching and confirming lines still take in late messages (as many as diagrams are kept). */
const STEPS_FOLLOWED = 20;

/** Effects that change what the screen shows even when they add no transcript line. */
const SHOWN: ReadonlySet<Effect['kind']> = new Set(['executed', 'state', 'view', 'evidence', 'claim']);

/** `member:counter`: how the diagrams, the coordinates of a request and the bench name a request. */
export function requestIds(requests: readonly ExecutedRequest[]): string[] {
  return requests.map((r) => `${r.member}:${r.counter}`);
}

/**
 * A transcript line as kept: the story, told with names only when shown (transcript.ts), and
 * when it happened, in milliseconds since the page loaded, or null when it was rebuilt from
 * stored records after a reload (they keep no times).
 */
export interface KeptLine {
  readonly at: number | null;
  readonly story: Story;
}

/** When and where an effect is taken in. */
export interface Moment {
  /** This tab's member index. */
  readonly me: number;
  /** Milliseconds since the page loaded. */
  readonly at: number;
  /** This tab acts maliciously: its own arrows are drawn as a liar's. */
  readonly liar: boolean;
  /** The replica's lunch state, read when an execution is taken in. */
  lunchNow(): LunchState;
  /** The effect comes from the replica reading its stored records back, not from something happening now. */
  readonly restored?: boolean;
}

/** The screen's record of one member's effects. */
export class Chronicle {
  /** The message diagrams and the protocol panel's counts. */
  readonly diagrams = new Diagrams();
  /** Accusations without proof, by accused member. */
  readonly claims = new Map<number, number>();
  /** The transcript, oldest first, at most TRANSCRIPT_KEPT lines. */
  readonly transcript: KeptLine[] = [];
  /** The lunch as last executed here (or adopted by state transfer). */
  lunch: LunchState;
  /**
   * The last of this member's own requests that the lunch rules refused, with why: the person
   * who asked must hear that nothing happened. Cleared by the tab when its member asks again.
   */
  refused: { counter: number; reason: string } | null = null;
  /**
   * The vouching and confirming lines of recent steps, by sequence number, to update as late
   * prepares and commits arrive: the commit that completes a quorum is taken in just after the
   * execution it causes, and the rest come later still.
   */
  private readonly steps = new Map<number, { vouched: KeptLine; confirmed: KeptLine }>();

  /** For a room of `n` members. Names are looked up only when lines and labels are shown. */
  constructor(private readonly n: number) {
    this.lunch = initialLunch(n);
  }

  /** Take one effect in. True when what the screen shows changed. */
  observe(e: Effect, m: Moment): boolean {
    const grew = this.diagrams.observe(e, m.me, this.n, m.at, m.liar);
    if (grew && (e.kind === 'received' || e.kind === 'send')) this.heardLate(e.kind === 'received' ? e.at.seq : coordinatesOf(e.message).seq);
    if (e.kind === 'executed') this.lunch = m.lunchNow();
    if (e.kind === 'state') this.lunch = e.lunch;
    if (e.kind === 'claim') this.claims.set(e.accused, (this.claims.get(e.accused) ?? 0) + 1);
    if (e.kind === 'executed') {
      for (const ev of e.events) {
        if (ev.kind === 'ignored' && ev.request?.member === m.me) this.refused = { counter: ev.request.counter, reason: ev.reason };
      }
    }
    const stories = narrate(e, {
      me: m.me, n: this.n, lunch: this.lunch, claimsAgainst: (member) => this.claims.get(member) ?? 0, restored: m.restored,
    });
    if (e.kind === 'executed') {
      const ids = requestIds(e.requests);
      const { events } = e;
      const heard = this.diagrams.close(e.seq, ids, (name) => diagramLabel(events, ids.length, name));
      stories.push(...narrateExecution(e, heard, this.lunch));
    }
    for (const story of stories) this.say(m.restored ? null : m.at, story);
    if (e.kind === 'executed') this.keepStep(e.seq, stories);
    return grew || stories.length > 0 || SHOWN.has(e.kind);
  }

  /** Remember the vouching and confirming lines just said for `seq`, if there are any. */
  private keepStep(seq: number, said: readonly Story[]): void {
    if (said.length === 0) return;
    const lines = this.transcript.slice(-said.length);
    const vouched = lines.find((l) => l.story.kind === 'vouched');
    const confirmed = lines.find((l) => l.story.kind === 'confirmed');
    if (!vouched || !confirmed) return;
    this.steps.set(seq, { vouched, confirmed });
    for (const old of [...this.steps.keys()].slice(0, -STEPS_FOLLOWED)) this.steps.delete(old);
  }

  /** A prepare or commit for `seq` joined its closed diagram: its step's lines tell it too. */
  private heardLate(seq: number | null): void {
    const step = seq === null ? undefined : this.steps.get(seq);
    const heard = seq === null ? null : this.diagrams.heard(seq);
    if (!step || !heard || seq === null) return;
    const vouched = this.replace(step.vouched, { kind: 'vouched', seq, members: heard.vouched });
    const confirmed = this.replace(step.confirmed, { kind: 'confirmed', seq, members: heard.confirmed });
    if (vouched && confirmed) this.steps.set(seq, { vouched, confirmed });
    else this.steps.delete(seq);
  }

  /** Put `story` in place of `line`, keeping its time; null once the line has fallen off the top. */
  private replace(line: KeptLine, story: Extract<Story, { kind: 'vouched' | 'confirmed' }>): KeptLine | null {
    const i = this.transcript.lastIndexOf(line);
    if (i < 0) return null;
    const before = line.story as typeof story;
    if (before.members.join() === story.members.join()) return line;
    const next = { at: line.at, story };
    this.transcript[i] = next;
    return next;
  }

  /** Add a line to the transcript, `at` milliseconds since the page loaded (null: a time not known). */
  say(at: number | null, story: Story): void {
    this.transcript.push({ at, story });
    if (this.transcript.length > TRANSCRIPT_KEPT) this.transcript.splice(0, this.transcript.length - TRANSCRIPT_KEPT);
  }
}
