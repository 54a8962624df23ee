// One tab's seat in a lunch room: fixes the roster, runs the replica, and carries out its effects
// in order — write-ahead records are written to IndexedDB (strict durability) before any message
// that follows them leaves. What the effects mean on screen is worked out by pure functions:
// diagrams.ts (the message diagrams and counts), transcript.ts (the story) and present.ts (the
// RoomView the UI renders).
import { Adversary, type Strategy } from '../core/adversaries.ts';
import { writeThenSend, type Effect } from '../core/effects.ts';
import { initialLunch, type Choice, type LunchOp, type LunchState, type RequestRef } from '../core/lunch.ts';
import { RECOVERY_NONCE_BYTES, type Roster } from '../core/messages.ts';
import { Replica } from '../core/replica.ts';
import { ed25519Suite, fingerprint, fromHex } from '../crypto/ed25519.ts';
import type { RoomRoster as StoredRoster, RoomStore } from '../storage/room-store.ts';
import { Diagrams, diagramLabel } from './diagrams.ts';
import type { ProofView, RoomIntents, RoomView, TranscriptLine } from './room-view.ts';
import { presentProof, presentRoom } from './present.ts';
import { narrate, narrateStep, type Narration } from './transcript.ts';
import { proofFile } from '../proof/proof-file.ts';
import { rosterFingerprint } from './roster.ts';

/** The verified peers of this tab, as the mesh knows them. */
export interface RoomPeers {
  /** Verified peers right now (hex keys). */
  verified(): string[];
  name(id: string): string | null;
  send(id: string, bytes: Uint8Array): void;
}

/** What a room needs from the tab: who this member is, its peers and its storage. */
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

/** How often the replica's clock input ticks. */
const TICK_MS = 250;

/** One tab's member of a room: the replica, wired to the mesh, the store and the UI. */
export class LunchRoom implements RoomIntents {
  private roster: StoredRoster | null = null;
  private replica: Replica | null = null;
  private node: Replica | Adversary | null = null;
  private malicious: { enabled: boolean; strategy: Strategy } = { enabled: false, strategy: 'equivocate' };
  private lunch: LunchState;
  private readonly claims = new Map<number, number>();
  private readonly diagrams = new Diagrams();
  private readonly fingerprints = new Map<string, string>();
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
    if (index >= 0) this.apply(this.node.step(index, bytes));
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
    return presentProof(member, proof, this.rosterForCore(), this.nameAt(member));
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
    return presentRoom({
      size: this.o.size,
      keys: this.roster?.keys ?? [this.o.me.id, ...this.o.peers.verified()].sort(),
      me: this.o.me.id,
      roster: this.roster,
      running: this.replica !== null,
      snap: this.replica?.snapshot(),
      verified: new Set(this.o.peers.verified()),
      nameOf: (id) => this.nameOf(id),
      fingerprintOf: (id) => this.fingerprintOf(id),
      claims: this.claims,
      lunch: this.lunch,
      transcript: this.transcript,
      malicious: this.malicious,
      problem: this.problem,
      diagrams: this.diagrams,
    });
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
   * Carry out effects in order on one chain, so that a later step's writes never overtake an
   * earlier one's sends: each run of records is one write, and what follows it waits until it is
   * durable (writeThenSend). Once stopped, nothing more leaves.
   */
  private apply(effects: Effect[]): void {
    if (effects.length === 0) return;
    this.chain = this.chain.then(async () => {
      let changed = false;
      for (const { records, then } of writeThenSend(effects)) {
        if (records.length > 0) await this.o.store.appendRecords(this.o.room, this.o.me.id, records);
        if (this.stopped) return;
        for (const e of then) {
          if (e.kind === 'send') this.deliver(e.to, e.bytes);
          changed = this.observe(e) || changed;
        }
      }
      if (changed) this.o.onChange();
    }).catch((e: unknown) => this.fail(e));
  }

  private deliver(to: number | 'all', bytes: Uint8Array): void {
    const keys = this.roster!.keys;
    for (const id of to === 'all' ? keys.filter((k) => k !== this.o.me.id) : [keys[to]]) if (id) this.o.peers.send(id, bytes);
  }

  /** What an effect changes on screen: the diagrams, the lunch, the claims, the transcript. */
  private observe(e: Effect): boolean {
    const me = this.roster!.me;
    let changed = this.diagrams.observe(e, me, this.o.size, this.now() - this.started, this.malicious.enabled);
    if (e.kind === 'executed') this.lunch = this.replica!.snapshot().lunch;
    if (e.kind === 'state') this.lunch = e.lunch;
    if (e.kind === 'claim') this.claims.set(e.accused, (this.claims.get(e.accused) ?? 0) + 1);
    const name = (m: number) => this.nameAt(m);
    const lines: Narration[] = narrate(e, {
      name, me, n: this.o.size, lunch: this.lunch, claimsAgainst: (m) => this.claims.get(m) ?? 0,
    });
    if (e.kind === 'executed') {
      const ids = e.requests.map((r) => `${r.member}:${r.counter}`);
      const { vouched, confirmed } = this.diagrams.close(e.seq, ids, diagramLabel(e.events, ids.length, name));
      const step = ids.length > 0 ? narrateStep(e.seq, vouched, confirmed, name) : null;
      if (step) lines.push(step);
      this.o.onExecuted?.(e.seq, ids);
    }
    for (const l of lines) this.line(l.kind, l.text);
    changed ||= lines.length > 0 || e.kind === 'executed' || e.kind === 'state' || e.kind === 'view' || e.kind === 'evidence' || e.kind === 'claim';
    return changed;
  }

  private line(kind: TranscriptLine['kind'], text: string): void {
    this.transcript.push({ at: this.now() - this.started, text, kind });
    if (this.transcript.length > 500) this.transcript.splice(0, this.transcript.length - 500);
  }

  private nameOf(id: string): string {
    return id === this.o.me.id ? this.o.me.name() : (this.o.peers.name(id) ?? `member ${this.fingerprintOf(id).slice(0, 4)}`);
  }

  /** A key's fingerprint, hashed once per key rather than once per member on every change. */
  private fingerprintOf(id: string): string {
    let f = this.fingerprints.get(id);
    if (f === undefined) {
      f = fingerprint(fromHex(id));
      if (this.fingerprints.size > 64) this.fingerprints.clear();
      this.fingerprints.set(id, f);
    }
    return f;
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
