// The message diagrams and the protocol panel's counts: a pure function of the replica's effects.
// Every message this tab sent (a `send` effect, with its coordinates) or received (a `received`
// effect, with the coordinates the replica read from it) is filed under the sequence number it
// belongs to; an `executed` effect closes that sequence number's diagram. Nothing is decoded or
// guessed here: the replica says what each message is.
//
// A diagram draws each message once. Copies (what the replica marks as sent again, and at the
// receiving end a second arrival of an arrow already drawn) count only towards the totals and the
// retransmissions, so the last decision's counts are the protocol's own: first sendings.
import type { Effect } from '../core/effects.ts';
import type { LunchEvent } from '../core/lunch.ts';
import { coordinatesOf, type Coordinates } from '../core/messages.ts';
import type { DiagramView, MessageEventView, Phase } from './room-view.ts';

/** Diagrams kept for the most recent decisions. */
const DIAGRAMS_KEPT = 20;
/**
 * At most this many messages per diagram: late ones keep arriving for a decision that is done
 * (retransmissions from a member that is behind, a liar replaying old messages), and the kept
 * diagrams must stay bounded. The panel counts the same events, so it never disagrees.
 */
const EVENTS_PER_DIAGRAM = 500;
/** Messages for slots that never execute here (lost, or a liar's) must not pile up. */
const PENDING_KEPT = 2000;

interface Recorded extends MessageEventView {
  readonly request: string | null;
  readonly digest: string | null;
  readonly arrow: string;
}

interface Diagram {
  readonly seq: number;
  /** Told when shown, so that it names members as they are named then (a name may arrive later). */
  readonly label: string | ((name: (member: number) => string) => string);
  /** Ids (`member:counter`) of the requests it executed, to place their late copies. */
  readonly requests: ReadonlySet<string>;
  readonly events: Recorded[];
  /** The arrows drawn, to know a copy when it arrives. */
  readonly arrows: Set<string>;
}

/**
 * What makes two arrows the same message: sender, receiver, kind and coordinates, the batch
 * included (a liar's second, different message for one slot is an arrow of its own). A request
 * is its author's signed request whoever passes it on, so it is one per receiver.
 */
function arrowOf(from: number, to: number, type: string, c: Coordinates): string {
  return type === 'request' ? `${to}<request ${c.request}` : `${from}>${to} ${type} ${c.view}:${c.seq}:${c.request}:${c.digest}`;
}

/** The phase a message kind is drawn in. */
export function phaseOf(type: string): Phase {
  switch (type) {
    case 'request':
    case 'pre-prepare':
    case 'prepare':
    case 'commit':
      return type;
    case 'view-change':
    case 'new-view':
      return 'view-change';
    default:
      return 'other';
  }
}

/** Files one tab's protocol messages under the decisions they belong to. */
export class Diagrams {
  private pending: Recorded[] = [];
  private pendingArrows = new Set<string>();
  private readonly kept: Diagram[] = [];
  /** The highest sequence number whose diagram was closed; later messages for it go to its diagram. */
  private closedThrough = 0;
  private readonly totals = new Map<string, number>();
  private copies = 0;

  /**
   * Take one effect of this tab's replica (`me`, with `n` members; `at` in milliseconds, `liar`
   * when this tab acts maliciously). True when a diagram already shown grew.
   */
  observe(e: Effect, me: number, n: number, at: number, liar: boolean): boolean {
    switch (e.kind) {
      case 'send': {
        if (e.retransmit) this.copies += e.to === 'all' ? n - 1 : 1;
        const targets = e.to === 'all' ? [...Array(n).keys()].filter((m) => m !== me) : [e.to];
        let grew = false;
        for (const to of targets) grew = this.record(me, to, e.type, coordinatesOf(e.message), at, liar, e.retransmit === true) || grew;
        return grew;
      }
      case 'received':
        return this.record(e.from, me, e.type, e.at, at, false, false);
      default:
        return false;
    }
  }

  /**
   * Close the diagram of `seq` as it executed here: its own three phases, its requests, and any
   * view change before it. Returns who vouched (prepare) and who confirmed (commit) it, as far as
   * this tab heard: for the batch most members confirmed here, so that a liar's prepare or commit
   * for a different batch in the same slot does not count as vouching for this one.
   */
  close(seq: number, requests: readonly string[], label: Diagram['label']): { vouched: number[]; confirmed: number[] } {
    const wanted = new Set(requests);
    const mine = this.pending.filter((e) => e.seq === seq || (e.request !== null && wanted.has(e.request)) || e.phase === 'view-change');
    const taken = new Set(mine);
    this.keepPending(this.pending.filter((e) => !taken.has(e) && (e.seq === null || e.seq > seq)));
    this.kept.push({ seq, label, requests: wanted, events: mine, arrows: new Set(mine.map((e) => e.arrow)) });
    this.closedThrough = Math.max(this.closedThrough, seq);
    if (this.kept.length > DIAGRAMS_KEPT) this.kept.shift();
    return heardIn(mine, seq);
  }

  /**
   * Who vouched for and who confirmed `seq` as this tab has heard so far, messages that arrived
   * after it executed included (the one that completed the quorum arrives just after), or null
   * once its diagram is no longer kept.
   */
  heard(seq: number): { vouched: number[]; confirmed: number[] } | null {
    const d = this.kept.find((x) => x.seq === seq);
    return d ? heardIn(d.events, seq) : null;
  }

  /** The kept diagrams, a liar's arrows marked (this tab's own when it lies, and proven members'). */
  views(proven: readonly number[], name: (member: number) => string = (m) => `member ${m}`): DiagramView[] {
    return this.kept.map((d) => ({
      seq: d.seq,
      label: typeof d.label === 'string' ? d.label : d.label(name),
      events: d.events.map(({ request: _r, digest: _d, arrow: _a, ...e }) => ({ ...e, malicious: e.malicious || proven.includes(e.from) })),
    }));
  }

  /** Messages of the last decision by kind: the arrows its diagram draws, copies left out. */
  lastCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.kept.at(-1)?.events ?? []) out[e.type] = (out[e.type] ?? 0) + 1;
    return out;
  }

  /** Every message sent or received by kind, since the page loaded. */
  totalCounts(): Record<string, number> {
    return Object.fromEntries(this.totals);
  }

  /** Copies sent by the retransmission timer (one per recipient). */
  retransmissions(): number {
    return this.copies;
  }

  private record(from: number, to: number, type: string, c: Coordinates, at: number, malicious: boolean, copy: boolean): boolean {
    this.totals.set(type, (this.totals.get(type) ?? 0) + 1);
    const phase = phaseOf(type);
    if (phase === 'other' || copy) return false;
    const arrow = arrowOf(from, to, type, c);
    const event: Recorded = { at, from, to, type, phase, view: c.view, seq: c.seq, malicious, request: c.request, digest: c.digest, arrow };
    const closed = this.closedDiagramOf(event);
    if (closed) {
      if (closed.arrows.has(arrow) || closed.events.length >= EVENTS_PER_DIAGRAM) return false;
      closed.events.push(event);
      closed.arrows.add(arrow);
      return true;
    }
    // A sequence number at or below the last closed one without a diagram of its own (aged out,
    // or never executed here) will not get one.
    if (event.seq !== null && event.seq <= this.closedThrough) return false;
    if (this.pendingArrows.has(arrow)) return false;
    this.pending.push(event);
    this.pendingArrows.add(arrow);
    if (this.pending.length > PENDING_KEPT) this.keepPending(this.pending.slice(-PENDING_KEPT));
    return false;
  }

  private keepPending(events: Recorded[]): void {
    this.pending = events;
    this.pendingArrows = new Set(events.map((e) => e.arrow));
  }

  private closedDiagramOf(e: Recorded): Diagram | undefined {
    if (e.seq !== null) return this.kept.find((d) => d.seq === e.seq);
    if (e.request !== null) {
      const id = e.request;
      return this.kept.find((d) => d.requests.has(id));
    }
    return undefined;
  }
}

/** The senders of prepares and commits for `seq` among `events`, for the batch most of them confirmed. */
function heardIn(events: readonly Recorded[], seq: number): { vouched: number[]; confirmed: number[] } {
  const senders = (type: string, digest: string | null) =>
    [...new Set(events.filter((e) => e.type === type && e.seq === seq && e.digest === digest).map((e) => e.from))].sort((a, b) => a - b);
  const digests = [...new Set(events.filter((e) => e.seq === seq && (e.type === 'prepare' || e.type === 'commit')).map((e) => e.digest))];
  const backing = digests.map((d) => ({ vouched: senders('prepare', d), confirmed: senders('commit', d) }));
  backing.sort((x, y) => y.confirmed.length - x.confirmed.length || y.vouched.length - x.vouched.length);
  return backing[0] ?? { vouched: [], confirmed: [] };
}

/** A short label for a diagram: what the sequence number did, in people's words. */
export function diagramLabel(events: readonly LunchEvent[], requests: number, name: (m: number) => string): string {
  if (requests === 0) return 'nothing (a filler after a view change)';
  return events
    .map((ev) => {
      switch (ev.kind) {
        case 'proposed':
          return `${name(ev.ref.member)} proposes ${ev.place}`;
        case 'voted':
          return `${name(ev.member)} ${ev.choice === 'join' ? 'joins' : 'declines'}`;
        case 'decided':
          return `lunch decided: ${ev.place}`;
        case 'round-started':
          return 'a new round';
        case 'asked':
          return `${name(ev.member)} asks for a new round`;
        case 'renamed':
          return `${ev.from} is now ${ev.name}`;
        default:
          return 'a request with no effect';
      }
    })
    .join('; ');
}
