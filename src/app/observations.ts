// What this tab saw each member do, over that member's own authenticated link: bytes that were no
// message, signatures that did not verify, messages past the size limits, other members' old
// messages sent again, a primary that kept requests waiting or went quiet, accusations without
// proof. Links are authenticated, so the tab knows who delivered what; but none of it can be shown
// to anyone else (a bad signature proves nothing about whom it names, and a tab could make up a
// delay), so it is local evidence, shown apart from proofs of equivocation. Pure: the same effects
// at the same moments give the same sight, and everything kept is bounded by the room's size.
import type { Effect } from '../core/effects.ts';
import { primaryOf } from '../core/quorum.ts';

/** Nothing arrived from a connected member for this long: it is called silent (honest ones send a status every 1.5 s). */
export const SILENT_AFTER_MS = 5000;
/** A view change blames a primary's silence when nothing came from it for this long (two heartbeats). */
export const PRIMARY_QUIET_MS = 3000;
/**
 * A primary that passes a request on this long after this tab saw it is called slow; an honest
 * one takes milliseconds. Not less: a liar can send its request to the backups only, and they pass
 * it to the primary at their next retransmission, up to two one-second intervals later, which must
 * not count against an honest primary.
 */
export const SLOW_HOLD_MS = 2500;
/** Requests and pre-prepares whose arrival times are kept, oldest dropped first. */
export const TIMES_KEPT = 64;

/** Kinds of bad traffic a member's link delivered, each counted per member. */
export const MISDEEDS = ['forged', 'bad-proof', 'malformed', 'oversized', 'invalid', 'replayed'] as const;
/** One of MISDEEDS. */
export type Misdeed = (typeof MISDEEDS)[number];

// Only reasons no honest member can cause are held against the link's peer. Timing drops (wrong
// view, outside the window, a stale state chunk, a request far ahead of a lagging tab) and a
// prepare that contradicts its header (an honest member passes those on to expose the liar) are
// left to the protocol panel's counters.
const DROP_MISDEED: Readonly<Record<string, Misdeed>> = {
  'bad-signature': 'forged',
  'bad-proof': 'bad-proof',
  'not-bytes': 'malformed',
  'not-cbor': 'malformed',
  'bad-shape': 'malformed',
  oversize: 'oversized',
  'too-many-items': 'oversized',
  'request-too-large': 'oversized',
  'batch-too-large': 'oversized',
  'not-from-primary': 'invalid',
  'digest-mismatch': 'invalid',
  'bad-request-in-batch': 'invalid',
  'bad-view-change': 'invalid',
  'bad-new-view': 'invalid',
  'new-view-mismatch': 'invalid',
  'bad-certificate': 'invalid',
  'bad-accusation': 'invalid',
  'prepare-from-primary': 'invalid',
  'bad-checkpoint': 'invalid',
};

// Kinds an honest member only ever sends in its own name. One of these signed by someone else and
// delivered by a member is another's message sent again: a replay. (Requests are passed on to the
// primary, NEW-VIEWs handed to latecomers and mismatched commits exposed, all honestly.)
const OWN_KINDS: ReadonlySet<string> = new Set(['status', 'checkpoint', 'view-change', 'accuse', 'pre-prepare', 'prepare']);

/** The misdeed a refusal reason shows, or null when an honest member could have caused it. */
export function misdeedOf(reason: string): Misdeed | null {
  return Object.hasOwn(DROP_MISDEED, reason) ? DROP_MISDEED[reason]! : null;
}

/** Why the room gave up on a primary, as this tab saw it when it voted to replace it. */
export type Replacement =
  | { readonly kind: 'proven' }
  /** Nothing arrived from it since `since`. */
  | { readonly kind: 'silent'; readonly since: number }
  /** Requests waited since `since` with no pre-prepare from it. */
  | { readonly kind: 'held'; readonly since: number }
  /** These members had asked for a later view. */
  | { readonly kind: 'asked'; readonly by: readonly number[] }
  | { readonly kind: 'unclear' };

/** Everything this tab saw of one member, as data. */
export interface MemberSight {
  readonly member: number;
  /** When something last arrived from it (or when this tab began to listen). */
  readonly lastHeard: number;
  readonly misdeeds: Readonly<Record<Misdeed, number>>;
  /** The longest it kept a request waiting as primary, at or above SLOW_HOLD_MS, and how often it did. */
  readonly slowest: number;
  readonly slowTimes: number;
  /** The last time the room replaced it as primary: why, and for how long it had held the room up (ms). */
  readonly replaced: { readonly reason: Replacement; readonly heldMs: number } | null;
  /** Members it accused without proof, ascending. */
  readonly accused: readonly number[];
  /** Accusations without proof against it, by accuser. */
  readonly accusedBy: ReadonlyMap<number, number>;
}

/** The view change under way, as this tab saw it start. */
export interface Replacing {
  /** The primary being replaced. */
  readonly member: number;
  /** The view being left. */
  readonly view: number;
  readonly reason: Replacement;
}

interface Kept {
  lastHeard: number;
  misdeeds: Record<Misdeed, number>;
  slowest: number;
  slowTimes: number;
  replaced: { reason: Replacement; heldMs: number } | null;
  accused: Set<number>;
  accusedBy: Map<number, number>;
  /** The highest view it asked for in a VIEW-CHANGE. */
  wanted: number;
  /** When a pre-prepare from it last arrived. */
  lastPrePrepare: number;
}

const noMisdeeds = (): Record<Misdeed, number> => ({ forged: 0, 'bad-proof': 0, malformed: 0, oversized: 0, invalid: 0, replayed: 0 });

/** Keep at most TIMES_KEPT entries, the oldest going first. */
function setBounded<K>(map: Map<K, number>, key: K, at: number): void {
  if (map.has(key)) return;
  map.set(key, at);
  while (map.size > TIMES_KEPT) map.delete(map.keys().next().value as K);
}

/** What one tab saw of the members of a room of `n`, this tab being member `me`. */
export class Observations {
  private readonly kept: Kept[];
  /** When this tab first saw each request waiting (`member:counter`). */
  private readonly firstSeen = new Map<string, number>();
  /** When each pre-prepare (`view:seq`) arrived from its primary. */
  private readonly prePrepared = new Map<string, number>();
  private readonly proven = new Set<number>();
  /** When this tab entered each recent view: a primary answers only for waits in its own view. */
  private readonly entered = new Map<number, number>();
  private replacing: (Replacing & { at: number }) | null = null;

  /** `start`: when this tab began to listen, the earliest anyone can have been heard. */
  constructor(private readonly n: number, private readonly me: number, start: number) {
    this.kept = Array.from({ length: n }, () => ({
      lastHeard: start, misdeeds: noMisdeeds(), slowest: 0, slowTimes: 0, replaced: null,
      accused: new Set<number>(), accusedBy: new Map<number, number>(), wanted: -1, lastPrePrepare: -Infinity,
    }));
    this.entered.set(0, start);
  }

  /** Take in one of the replica's effects, at `now` (ms). */
  effect(e: Effect, now: number): void {
    switch (e.kind) {
      case 'received':
        return this.received(e, now);
      case 'send':
        // This member's own request starts waiting when it leaves.
        if (e.message?.k === 'request' && e.message.req.body.from === this.me) setBounded(this.firstSeen, `${this.me}:${e.message.req.body.counter}`, now);
        return;
      case 'executed':
        return this.executed(e.seq, e.view, e.requests.map((r) => `${r.member}:${r.counter}`));
      case 'view':
        return this.viewChanged(e.view, e.changing, now);
      case 'evidence':
        if (this.isMember(e.member)) this.proven.add(e.member);
        return;
      case 'claim':
        if (!this.isMember(e.accuser) || !this.isMember(e.accused)) return;
        this.kept[e.accuser]!.accused.add(e.accused);
        this.kept[e.accused]!.accusedBy.set(e.accuser, (this.kept[e.accused]!.accusedBy.get(e.accuser) ?? 0) + 1);
        return;
      default:
        return;
    }
  }

  private isMember(m: number): boolean {
    return Number.isInteger(m) && m >= 0 && m < this.n;
  }

  /** Everything seen, per member. */
  members(): MemberSight[] {
    return this.kept.map((k, member) => ({
      member, lastHeard: k.lastHeard, misdeeds: { ...k.misdeeds }, slowest: k.slowest, slowTimes: k.slowTimes,
      replaced: k.replaced, accused: [...k.accused].sort((a, b) => a - b), accusedBy: new Map(k.accusedBy),
    }));
  }

  /** The view change under way, or null. */
  replacement(): Replacing | null {
    return this.replacing;
  }

  /**
   * This member's oldest request still waiting: since when, and whether a pre-prepare from the
   * primary of `view` arrived after it left (if not, the primary has not passed anything on since).
   */
  ownWaiting(view: number): { since: number; passedOn: boolean } | null {
    for (const [id, since] of this.firstSeen) {
      if (!id.startsWith(`${this.me}:`)) continue;
      return { since, passedOn: this.kept[primaryOf(view, this.n)]!.lastPrePrepare >= since };
    }
    return null;
  }

  private received(e: Extract<Effect, { kind: 'received' }>, now: number): void {
    if (!this.isMember(e.from)) return;
    const k = this.kept[e.from]!;
    k.lastHeard = now;
    const misdeed = e.dropped === null ? null : misdeedOf(e.dropped);
    const signer = e.signer ?? null;
    if (misdeed) k.misdeeds[misdeed]++;
    else if (signer !== null && signer !== e.from && OWN_KINDS.has(e.type) && e.dropped !== 'header-mismatch') k.misdeeds.replayed++;
    if (misdeed || e.dropped !== null || signer === null || signer !== e.from || !this.isMember(signer)) return;
    // Taken in, in its sender's own name: what it says about timing can be believed.
    if (e.type === 'request' && e.at.request) setBounded(this.firstSeen, e.at.request, now);
    if (e.type === 'pre-prepare' && e.at.view !== null && e.at.seq !== null) {
      setBounded(this.prePrepared, `${e.at.view}:${e.at.seq}`, now);
      k.lastPrePrepare = now;
    }
    if (e.type === 'view-change' && e.at.view !== null) k.wanted = Math.max(k.wanted, e.at.view);
  }

  private executed(seq: number, view: number, ids: string[]): void {
    const primary = primaryOf(view, this.n);
    const at = this.prePrepared.get(`${view}:${seq}`);
    this.prePrepared.delete(`${view}:${seq}`);
    // A view this tab never saw begin (it restarted, or caught up) blames no one.
    const began = this.entered.get(view);
    let held = 0;
    for (const id of ids) {
      const since = this.firstSeen.get(id);
      this.firstSeen.delete(id);
      if (since !== undefined && at !== undefined && began !== undefined) held = Math.max(held, at - Math.max(since, began));
    }
    // This tab's own waits as primary are its own doing, not something it observed.
    if (primary !== this.me && held >= SLOW_HOLD_MS) {
      const k = this.kept[primary]!;
      k.slowest = Math.max(k.slowest, held);
      k.slowTimes++;
    }
  }

  private viewChanged(view: number, changing: boolean, now: number): void {
    if (changing) {
      if (this.replacing?.view === view) return;
      const member = primaryOf(view, this.n);
      this.replacing = { member, view, reason: this.whyReplace(member, view, now), at: now };
      return;
    }
    setBounded(this.entered, view, now);
    const r = this.replacing;
    if (r && view > r.view) {
      const since = r.reason.kind === 'silent' || r.reason.kind === 'held' ? r.reason.since : r.at;
      this.kept[r.member]!.replaced = { reason: r.reason, heldMs: Math.max(0, now - since) };
    }
    if (!r || view > r.view) this.replacing = null;
  }

  private whyReplace(member: number, view: number, now: number): Replacement {
    if (this.proven.has(member)) return { kind: 'proven' };
    const k = this.kept[member]!;
    if (member !== this.me && now - k.lastHeard >= PRIMARY_QUIET_MS) return { kind: 'silent', since: k.lastHeard };
    const oldest = this.firstSeen.values().next();
    const since = oldest.done ? undefined : Math.max(oldest.value, this.entered.get(view) ?? now);
    if (since !== undefined && k.lastPrePrepare < since && now - since >= PRIMARY_QUIET_MS) return { kind: 'held', since };
    const by = this.kept.flatMap((x, i) => (i !== this.me && i !== member && x.wanted > view ? [i] : []));
    return by.length > 0 ? { kind: 'asked', by } : { kind: 'unclear' };
  }
}
