// One tab's seat in a lunch room: fixes the roster, runs the replica, and carries out its effects
// in order — write-ahead records are written to IndexedDB (strict durability) before any message
// that follows them leaves — and turns what the replica decides into the RoomView the UI renders.
import { Adversary, type Strategy } from '../core/adversaries.ts';
import type { Effect } from '../core/effects.ts';
import { initialLunch, tally, type Choice, type LunchEvent, type LunchOp, type LunchState, type RequestRef } from '../core/lunch.ts';
import { RECOVERY_NONCE_BYTES, checkProof, decodeWire, type RequestOp, type Roster, type Wire } from '../core/messages.ts';
import { primaryOf } from '../core/quorum.ts';
import { Replica } from '../core/replica.ts';
import type { WalRecord } from '../core/wal.ts';
import { ed25519Suite, fingerprint, fromHex, toHex } from '../crypto/ed25519.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import type { RoomRoster as StoredRoster, RoomStore } from '../storage/room-store.ts';
import type {
  DiagramView, MemberView, MessageEventView, Phase, ProofView, RoomIntents, RoomView, TranscriptLine,
} from './room-view.ts';
import { proofFile } from './proof-file.ts';
import { rosterFingerprint } from './roster.ts';

export interface RoomPeers {
  /** Verified peers right now (hex keys). */
  verified(): string[];
  name(id: string): string | null;
  send(id: string, bytes: Uint8Array): void;
}

export interface RoomOptions {
  room: string;
  size: 4 | 7 | 10;
  me: { id: string; secretKey: Uint8Array; name: () => string };
  peers: RoomPeers;
  store: RoomStore;
  /**
   * The identity was imported from a file: in a room it has no records for, it may still have
   * signed things before, so it starts as a member that lost its records.
   */
  restoredFromFile?: boolean;
  onChange(): void;
  /** Told of every agreed sequence number as it executes here (for measurements). */
  onExecuted?(seq: number, requests: string[]): void;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}

const TICK_MS = 250;
const DIAGRAMS_KEPT = 20;
/**
 * At most this many messages per diagram: late ones keep arriving for a decision that is done
 * (retransmissions from a member that is behind, a liar replaying old messages), and the kept
 * diagrams must stay bounded. The panel counts the same events, so it never disagrees.
 */
const EVENTS_PER_DIAGRAM = 500;

/** A message event with what is needed to tie it to the sequence number it helped decide. */
interface Recorded extends MessageEventView {
  readonly request: string | null;
  readonly byMe: boolean;
}

/** The messages behind one agreed sequence number, kept open for ones that arrive late. */
interface Diagram {
  readonly seq: number;
  readonly label: string;
  /** Ids (`member:counter`) of the requests it executed, to place their late copies. */
  readonly requests: ReadonlySet<string>;
  readonly events: Recorded[];
}

function phaseOf(type: string): Phase {
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

/** View, sequence number and request id of a message, for the diagram. */
function coordinates(m: Wire | null): { view: number | null; seq: number | null; request: string | null } {
  if (!m) return { view: null, seq: null, request: null };
  switch (m.k) {
    case 'request':
      return { view: null, seq: null, request: `${m.req.body.from}:${m.req.body.counter}` };
    case 'pre-prepare':
      return { view: m.pp.body.view, seq: m.pp.body.seq, request: null };
    case 'prepare':
      return { view: m.prepare.body.view, seq: m.prepare.body.seq, request: null };
    case 'commit':
      return { view: m.commit.body.view, seq: m.commit.body.seq, request: null };
    case 'view-change':
      return { view: m.vc.body.view, seq: null, request: null };
    case 'new-view':
      return { view: m.nv.body.view, seq: null, request: null };
    default:
      return { view: null, seq: null, request: null };
  }
}

export class LunchRoom implements RoomIntents {
  private roster: StoredRoster | null = null;
  private replica: Replica | null = null;
  private node: Replica | Adversary | null = null;
  private malicious: { enabled: boolean; strategy: Strategy } = { enabled: false, strategy: 'equivocate' };
  private lunch: LunchState;
  private readonly claims = new Map<number, number>();
  /** Protocol messages not yet tied to an agreed sequence number. */
  private pendingEvents: Recorded[] = [];
  private readonly diagrams: Diagram[] = [];
  /** The highest sequence number whose diagram was closed; later messages for it go to its diagram. */
  private closedThrough = 0;
  private readonly totals = new Map<string, number>();
  private readonly sentBefore = new Set<string>();
  private retransmissions = 0;
  private readonly transcript: TranscriptLine[] = [];
  private chain: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | undefined;
  private problem: string | null = null;
  private readonly started: number;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly o: RoomOptions) {
    this.lunch = initialLunch(o.size);
    this.now = o.now ?? (() => Date.now());
    this.started = this.now();
  }

  async start(): Promise<void> {
    try {
      this.roster = await this.o.store.loadRoster(this.o.room, this.o.me.id);
    } catch (e) {
      this.problem = e instanceof Error ? e.message : String(e);
      this.o.onChange();
      return;
    }
    if (this.roster) {
      if (this.roster.n !== this.o.size) {
        this.problem = `This member joined room ${this.o.room} as one of ${this.roster.n}; the link says ${this.o.size}. Open the room with its original link.`;
      } else {
        await this.startReplica(false);
      }
    }
    this.peersChanged();
    this.o.onChange();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** The mesh changed: once n members (this tab included) are verified, the roster is fixed. */
  peersChanged(): void {
    if (this.roster || this.stopped) return;
    const verified = this.o.peers.verified();
    if (verified.length + 1 < this.o.size) return this.o.onChange();
    const keys = [this.o.me.id, ...verified.slice(0, this.o.size - 1)].sort();
    const roster: StoredRoster = {
      v: 1, room: this.o.room, n: this.o.size, keys, fingerprint: rosterFingerprint(this.o.room, this.o.size, keys),
      me: keys.indexOf(this.o.me.id), fixedAt: this.now(),
    };
    this.roster = roster;
    this.line('roster', `The roster is fixed: ${this.o.size} members, fingerprint ${roster.fingerprint}.`);
    void this.o.store.saveRoster(this.o.room, this.o.me.id, roster)
      .then(() => this.startReplica(true))
      .catch((e: unknown) => this.fail(e));
  }

  /** A protocol message from a verified peer. */
  receive(from: string, bytes: Uint8Array): void {
    if (!this.roster || !this.node || this.stopped) return;
    const index = this.roster.keys.indexOf(from);
    if (index < 0) return;
    // Decoded here for the diagram, and again inside the replica: `step` takes bytes only.
    const decoded = decodeWire(bytes);
    const late = this.record(index, this.roster.me, decoded.ok ? decoded.message : null, decoded.ok ? decoded.message.k : 'garbage', false);
    this.apply(this.node.step(index, bytes));
    // A late message joined a decision already shown: the diagram and the panel grow.
    if (late) this.o.onChange();
  }

  // ---- intents ----

  propose(place: string, time: string): void {
    this.requestOp({ kind: 'propose', place: String(place), time: String(time) });
  }

  vote(proposal: RequestRef, choice: Choice): void {
    // A plain copy: what the UI hands over may be a reactive proxy, which can be neither signed
    // canonically nor stored in IndexedDB.
    this.requestOp({ kind: 'vote', proposal: { member: proposal.member, counter: proposal.counter }, choice });
  }

  newRound(): void {
    this.requestOp({ kind: 'new-round' });
  }

  setMalicious(enabled: boolean, strategy: Strategy): void {
    const before = this.malicious;
    this.malicious = { enabled, strategy };
    this.wrap();
    if (enabled && (!before.enabled || before.strategy !== strategy)) this.line('info', `This tab now acts maliciously: ${strategy}.`);
    if (!enabled && before.enabled) this.line('info', 'This tab is honest again.');
    this.o.onChange();
  }

  proof(member: number): ProofView | null {
    const proof = this.replica?.proofOf(member);
    if (!proof || !this.roster) return null;
    const verdict = checkProof(ed25519Suite, this.rosterForCore(), proof);
    const show = (x: unknown) => JSON.stringify(x, (_k, val) => (val instanceof Uint8Array ? toHex(val) : val), 2);
    return {
      member,
      slot: verdict.ok ? verdict.slot : '',
      first: show(proof.a),
      second: show(proof.b),
      verdict: verdict.ok
        ? { ok: true, reason: `Both signatures verify: ${this.nameAt(member)} signed two different messages for ${verdict.slot}.` }
        : { ok: false, reason: verdict.reason },
    };
  }

  proofFile(member: number): { fileName: string; text: string } | null {
    const proof = this.replica?.proofOf(member);
    if (!proof || !this.roster) return null;
    return proofFile({
      room: this.o.room, keys: this.roster.keys, member, memberName: this.nameAt(member), proof, now: this.now(),
    });
  }

  // ---- view ----

  view(): RoomView {
    const snap = this.replica?.snapshot();
    const n = this.o.size;
    const keys = this.roster?.keys ?? [this.o.me.id, ...this.o.peers.verified()].sort();
    const verified = new Set(this.o.peers.verified());
    const members: MemberView[] = keys.map((id, index) => ({
      index,
      id,
      name: this.nameOf(id),
      fingerprint: fingerprint(fromHex(id)),
      isMe: id === this.o.me.id,
      connected: id === this.o.me.id || verified.has(id),
      primary: snap !== undefined && primaryOf(snap.view, n) === index,
      provenFaulty: snap?.proven.includes(index) ?? false,
      claims: this.claims.get(index) ?? 0,
    }));
    const names = (i: number) => members[i]?.name ?? `member ${i}`;
    const decisions = this.lunch.decisions.map((d) => {
      const p = this.lunch.proposals.find((x) => x.ref.member === d.proposal.member && x.ref.counter === d.proposal.counter)!;
      return { ref: d.proposal, round: d.round, place: p.place, time: p.time, going: d.joined.map(names) };
    });
    const me = this.roster?.me ?? -1;
    return {
      phase: this.roster && this.replica ? 'running' : 'gathering',
      size: n,
      members,
      rosterFingerprint: this.roster?.fingerprint ?? null,
      view: snap?.view ?? 0,
      viewChanging: snap?.changing != null,
      executed: snap?.executedSeq ?? 0,
      stable: snap?.stable ?? 0,
      round: this.lunch.round,
      proposals: this.lunch.proposals.map((p) => {
        const t = tally(this.lunch, p.ref);
        const decided = this.lunch.decisions.some((d) => d.round === p.round);
        return {
          ref: p.ref, round: p.round, place: p.place, time: p.time, proposer: names(p.proposer),
          join: t.join, decline: t.decline, votes: p.votes, myVote: me >= 0 ? (p.votes[me] ?? null) : null,
          open: p.round === this.lunch.round && !decided,
        };
      }),
      decision: decisions.find((d) => d.round === this.lunch.round) ?? null,
      decisions,
      transcript: this.transcript,
      malicious: this.malicious,
      pendingOwn: snap?.pendingOwn ?? 0,
      amnesia: snap?.amnesia ?? false,
      problem: this.problem,
      diagrams: this.diagrams.map((d) => this.diagramView(d, snap?.proven ?? [])),
      panel: {
        view: snap?.view ?? 0,
        primary: snap ? this.nameAt(primaryOf(snap.view, n)) : '',
        executed: snap?.executedSeq ?? 0,
        stable: snap?.stable ?? 0,
        lastCounts: countByType(this.diagrams.at(-1)?.events ?? []),
        totalCounts: Object.fromEntries(this.totals),
        drops: snap?.drops ?? {},
        retransmissions: this.retransmissions,
      },
    };
  }

  // ---- the replica ----

  private rosterForCore(): Roster {
    return { room: this.o.room, keys: this.roster!.keys.map(fromHex) };
  }

  private async startReplica(fresh: boolean): Promise<void> {
    if (!this.roster || this.replica || this.stopped) return;
    const config = { roster: this.rosterForCore(), me: this.roster.me, secretKey: this.o.me.secretKey, suite: ed25519Suite, now: this.now() };
    let effects: Effect[] = [];
    if (fresh && !this.o.restoredFromFile) {
      // A new member of a new room: its first effects write the record that starts its log, so
      // that a reload from here on finds a log that is empty, not lost.
      this.replica = new Replica(config);
    } else {
      const loaded = await this.o.store.loadRecords(this.o.room, this.o.me.id);
      // Records without their first record were lost; an imported identity may have signed
      // things in this room from another browser, so it starts as one that lost its records.
      const restored = Replica.restore(config, loaded.records, {
        lost: loaded.corrupt > 0 || (loaded.records.length === 0 && !!this.o.restoredFromFile),
        nonce: crypto.getRandomValues(new Uint8Array(RECOVERY_NONCE_BYTES)),
      });
      this.replica = restored.replica;
      effects = restored.effects;
      if (restored.report.rejected.length > 0 || loaded.corrupt > 0) {
        this.problem = `${restored.report.rejected.length + loaded.corrupt} stored protocol record(s) could not be read and were not used; ` +
          'this tab recovers with the others’ help and takes part again once that is safe.';
      } else if (restored.report.amnesia) {
        this.problem = 'This tab’s protocol records are gone; it recovers with the others’ help and takes part again once that is safe.';
      }
      if (!fresh) this.line('info', `Restored from ${restored.report.used} stored record(s).`);
    }
    this.wrap();
    this.apply(effects);
    this.timer = setInterval(() => {
      if (this.node && !this.stopped) this.apply(this.node.tick(this.now()));
    }, TICK_MS);
    this.o.onChange();
  }

  private wrap(): void {
    if (!this.replica || !this.roster) return;
    this.node = this.malicious.enabled
      ? new Adversary(this.malicious.strategy, {
          replica: this.replica, secretKey: this.o.me.secretKey, suite: ed25519Suite, roster: this.rosterForCore(),
        })
      : this.replica;
  }

  private requestOp(op: LunchOp): void {
    if (!this.node || this.stopped) return;
    this.apply(this.node.request(op));
    this.o.onChange();
  }

  /**
   * Carry out effects in order on one chain: a run of records is written in one transaction and
   * the messages after it leave only once it is durable.
   */
  private apply(effects: Effect[]): void {
    if (effects.length === 0) return;
    this.chain = this.chain.then(async () => {
      let records: WalRecord[] = [];
      const flush = async () => {
        if (records.length === 0) return;
        const batch = records;
        records = [];
        await this.o.store.appendRecords(this.o.room, this.o.me.id, batch);
      };
      let changed = false;
      for (const e of effects) {
        if (e.kind === 'persist') {
          records.push(e.record);
          continue;
        }
        if (e.kind === 'send') {
          await flush();
          if (this.stopped) return;
          const targets = e.to === 'all' ? this.roster!.keys.filter((k) => k !== this.o.me.id) : [this.roster!.keys[e.to]!];
          for (const id of targets) {
            if (!id) continue;
            this.o.peers.send(id, e.bytes);
            changed = this.record(this.roster!.me, this.roster!.keys.indexOf(id), e.message, e.type, this.malicious.enabled) || changed;
            this.countRetransmission(id, e.bytes);
          }
          continue;
        }
        changed = this.observe(e) || changed;
      }
      await flush();
      if (changed) this.o.onChange();
    }).catch((e: unknown) => this.fail(e));
  }

  private observe(e: Effect): boolean {
    switch (e.kind) {
      case 'executed':
        for (const ev of e.events) this.describe(ev, e.requests);
        this.lunch = this.replica!.snapshot().lunch;
        this.closeDiagram(e.seq, e.requests.map((r) => `${r.member}:${r.counter}`), e.events);
        this.o.onExecuted?.(e.seq, e.requests.map((r) => `${r.member}:${r.counter}`));
        return true;
      case 'state':
        this.lunch = e.lunch;
        this.line('info', `Caught up from the others' certified state at sequence ${e.seq}.`);
        return true;
      case 'view':
        if (!e.changing) this.line('view', `${this.nameAt(primaryOf(e.view, this.o.size))} takes over as the one who keeps order (view ${e.view}).`);
        else this.line('view', `${this.nameAt(this.roster!.me)}: “I have not heard from ${this.nameAt(primaryOf(e.view, this.o.size))} in time — let us change who keeps order.”`);
        return true;
      case 'evidence':
        this.line('evidence', `${this.nameAt(e.member)} is proven faulty: ${this.nameAt(e.member)} signed two contradicting messages for one step, and both signatures check out.`);
        return true;
      case 'claim':
        this.claims.set(e.accused, (this.claims.get(e.accused) ?? 0) + 1);
        if ((this.claims.get(e.accused) ?? 0) === 1) {
          this.line('claim', `${this.nameAt(e.accuser)}: “${this.nameAt(e.accused)} is faulty!” — an accusation without proof, so nothing changes.`);
        }
        return true;
      default:
        return false;
    }
  }

  private describe(ev: LunchEvent, requests: readonly { member: number; op: RequestOp }[]): void {
    switch (ev.kind) {
      case 'proposed':
        this.line('request', `${this.nameAt(ev.ref.member)}: “How about ${ev.place} at ${ev.time}?”`);
        return;
      case 'voted': {
        const p = this.lunch.proposals.find((x) => x.ref.member === ev.proposal.member && x.ref.counter === ev.proposal.counter);
        const what = p ? `${p.place}` : 'that';
        this.line('request', `${this.nameAt(ev.member)}: “${ev.choice === 'join' ? `I am in for ${what}.` : `Not ${what} for me.`}”`);
        return;
      }
      case 'decided':
        this.line('decision', `Lunch is decided: ${ev.place} at ${ev.time}. ${ev.joined.map((m) => this.nameAt(m)).join(', ')} are off to lunch.`);
        return;
      case 'round-started': {
        const who = requests.find((r) => r.op.kind === 'new-round');
        this.line('request', `${who ? this.nameAt(who.member) : 'Someone'}: “Let us pick lunch again.” (round ${ev.round + 1})`);
        return;
      }
      case 'ignored':
        return;
    }
  }

  /**
   * Counts a message this tab sent or received and files it for the diagrams: with the decision
   * it belongs to when that is already closed (true: a shown diagram grew), else as pending.
   */
  private record(from: number, to: number, message: Wire | null, type: string, byMe: boolean): boolean {
    this.totals.set(type, (this.totals.get(type) ?? 0) + 1);
    const phase = phaseOf(type);
    if (phase === 'other') return false;
    const c = coordinates(message);
    const event: Recorded = { at: this.now() - this.started, from, to, type, phase, view: c.view, seq: c.seq, malicious: byMe, request: c.request, byMe };
    const closed = this.closedDiagramOf(event);
    if (closed) return this.addLate(closed, event);
    // A sequence number at or below the last closed one without a diagram of its own (aged out,
    // or never executed here) will not get one.
    if (event.seq !== null && event.seq <= this.closedThrough) return false;
    this.pendingEvents.push(event);
    // Messages for slots that never execute here (lost, or a liar's) must not pile up.
    if (this.pendingEvents.length > 2000) this.pendingEvents.splice(0, this.pendingEvents.length - 2000);
    return false;
  }

  /** The kept diagram a message belongs to: same sequence number, or a request it executed. */
  private closedDiagramOf(e: Recorded): Diagram | undefined {
    if (e.seq !== null) return this.diagrams.find((d) => d.seq === e.seq);
    if (e.request !== null) {
      const id = e.request;
      return this.diagrams.find((d) => d.requests.has(id));
    }
    return undefined;
  }

  private addLate(d: Diagram, e: Recorded): boolean {
    if (d.events.length >= EVENTS_PER_DIAGRAM) return false;
    d.events.push(e);
    return true;
  }

  private countRetransmission(to: string, bytes: Uint8Array): void {
    const key = `${to}/${toHex(sha256(bytes))}`;
    if (this.sentBefore.has(key)) this.retransmissions++;
    else {
      if (this.sentBefore.size > 5000) this.sentBefore.clear();
      this.sentBefore.add(key);
    }
  }

  /** The messages that decided `seq`: its own three phases, its requests, and any view change before it. */
  private closeDiagram(seq: number, requests: string[], events: readonly LunchEvent[]): void {
    const wanted = new Set(requests);
    const mine = this.pendingEvents.filter((e) => e.seq === seq || (e.request !== null && wanted.has(e.request)) || e.phase === 'view-change');
    const taken = new Set(mine);
    this.pendingEvents = this.pendingEvents.filter((e) => !taken.has(e) && (e.seq === null || e.seq > seq));
    // Messages for this sequence number that arrive from now on are added to this diagram.
    this.diagrams.push({ seq, label: this.label(events, requests.length), requests: wanted, events: mine });
    this.closedThrough = Math.max(this.closedThrough, seq);
    // Who vouched for it (prepare) and who confirmed it (commit), as far as this tab heard.
    const who = (type: string) => [...new Set(mine.filter((e) => e.type === type && e.seq === seq).map((e) => e.from))].sort((a, b) => a - b);
    const list = (ms: number[]) => ms.map((m) => this.nameAt(m)).join(', ');
    const vouched = who('prepare');
    const confirmed = who('commit');
    if (requests.length > 0 && (vouched.length > 0 || confirmed.length > 0)) {
      this.line('info', `Step ${seq}: ${vouched.length ? `${list(vouched)} vouched for it` : 'nobody vouched here'}; ${confirmed.length ? `${list(confirmed)} confirmed it` : 'no confirmations heard'}.`);
    }
    if (this.diagrams.length > DIAGRAMS_KEPT) this.diagrams.shift();
  }

  private label(events: readonly LunchEvent[], requests: number): string {
    if (requests === 0) return 'nothing (a filler after a view change)';
    const parts = events.map((ev) => {
      switch (ev.kind) {
        case 'proposed':
          return `${this.nameAt(ev.ref.member)} proposes ${ev.place}`;
        case 'voted':
          return `${this.nameAt(ev.member)} ${ev.choice === 'join' ? 'joins' : 'declines'}`;
        case 'decided':
          return `lunch decided: ${ev.place}`;
        case 'round-started':
          return 'a new round';
        default:
          return 'a request with no effect';
      }
    });
    return parts.join('; ');
  }

  private diagramView(d: Diagram, proven: readonly number[]): DiagramView {
    return {
      seq: d.seq,
      label: d.label,
      events: d.events.map(({ request: _r, byMe, ...e }) => ({ ...e, malicious: byMe || proven.includes(e.from) })),
    };
  }

  private line(kind: TranscriptLine['kind'], text: string): void {
    this.transcript.push({ at: this.now() - this.started, text, kind });
    if (this.transcript.length > 500) this.transcript.splice(0, this.transcript.length - 500);
  }

  private nameOf(id: string): string {
    return id === this.o.me.id ? this.o.me.name() : (this.o.peers.name(id) ?? `member ${fingerprint(fromHex(id)).slice(0, 4)}`);
  }

  private nameAt(index: number): string {
    const id = this.roster?.keys[index];
    return id ? this.nameOf(id) : `member ${index}`;
  }

  /**
   * A write that failed leaves the replica holding signatures that are not durable; it must not
   * retransmit them, so this tab stops taking part until it is reloaded.
   */
  private fail(e: unknown): void {
    this.stop();
    this.problem = `Storage failed, so this tab stopped taking part: ${e instanceof Error ? e.message : String(e)} Reload the tab.`;
    this.o.onChange();
  }
}

function countByType(events: readonly MessageEventView[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[e.type] = (out[e.type] ?? 0) + 1;
  return out;
}
