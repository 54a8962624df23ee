// One tab's seat in a lunch room: fixes the roster, runs the replica, carries out its effects and
// takes the user's intents. Write-ahead records are durable before any message that follows them
// leaves (writeThenSend). What the effects mean on screen is worked out elsewhere, by pure code:
// chronicle.ts keeps the diagrams (diagrams.ts), the transcript (transcript.ts) and the lunch as
// executed, and present.ts turns all of it into the RoomView the UI renders.
import { Adversary, type Strategy } from '../core/adversaries.ts';
import { writeThenSend, type Effect } from '../core/effects.ts';
import { nameProblem, type Choice, type LunchOp, type RequestRef } from '../core/lunch.ts';
import type { Roster } from '../core/messages.ts';
import type { Replica } from '../core/replica.ts';
import { ed25519Suite, fromHex } from '../crypto/ed25519.ts';
import { proofFile } from '../proof/proof-file.ts';
import type { RoomRoster } from '../storage/room-store.ts';
import { Chronicle, requestIds } from './chronicle.ts';
import { Names } from './names.ts';
import { Observations } from './observations.ts';
import { openReplica } from './open-replica.ts';
import type { RoomOptions } from './room-options.ts';
import { presentProof, presentRoom } from './present.ts';
import { errorText, sizeMismatch, storageFailed } from './problems.ts';
import type { ProofView, RoomIntents, RoomView } from './room-view.ts';
import { fixRoster } from './roster.ts';
import { narrateMalice, type Story } from './transcript.ts';

/** How often the replica's clock input ticks. */
const TICK_MS = 250;
/** Ticks between refreshes of the screen when nothing else changed: silences and waits are shown counting up. */
const REFRESH_TICKS = 4;

/** One tab's member of a room: the replica, wired to the mesh, the store and the UI. */
export class LunchRoom implements RoomIntents {
  private roster: RoomRoster | null = null;
  private replica: Replica | null = null;
  private node: Replica | Adversary | null = null;
  private malicious: { enabled: boolean; strategy: Strategy } = { enabled: false, strategy: 'equivocate' };
  private readonly names: Names;
  private readonly chronicle: Chronicle;
  /** What this tab saw each member do over its link; from when the replica starts. */
  private observations: Observations | null = null;
  private chain: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | undefined;
  private problem: string | null = null;
  private readonly started: number;
  private readonly now: () => number;
  private stopped = false;
  private starting = false;

  constructor(private readonly o: RoomOptions) {
    this.now = o.now ?? (() => Date.now());
    this.started = this.now();
    this.names = new Names({
      agreed: (id) => {
        const seat = this.roster?.keys.indexOf(id) ?? -1;
        return seat >= 0 ? (this.chronicle.lunch.names[seat] ?? null) : null;
      },
    });
    this.chronicle = new Chronicle(o.size);
  }

  /** Load this member's roster for the room, if it has one, and start its replica. */
  async start(): Promise<void> {
    try {
      this.roster = await this.o.store.loadRoster(this.o.room, this.o.me.id);
    } catch (e) {
      this.problem = errorText(e);
      this.o.onChange();
      return;
    }
    if (this.roster && this.roster.n !== this.o.size) this.problem = sizeMismatch(this.o.room, this.roster.n, this.o.size);
    else if (this.roster) await this.startReplica(false);
    this.peersChanged();
    this.o.onChange();
  }

  /** Stop ticking and sending, for good. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** The mesh changed: once n members (this tab included) are verified, the roster is fixed. */
  peersChanged(): void {
    if (this.roster || this.stopped) return;
    const roster = fixRoster(this.o.room, this.o.size, this.o.me.id, this.o.peers.verified(), this.now());
    if (!roster) return this.o.onChange();
    this.roster = roster;
    this.say({ kind: 'roster', n: this.o.size, fingerprint: roster.fingerprint });
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

  // ---- intents (documented on RoomIntents) ----

  propose(place: string, time: string): void {
    this.request({ kind: 'propose', place: String(place), time: String(time) });
  }

  vote(proposal: RequestRef, choice: Choice): void {
    // A plain copy: what the UI hands over may be a reactive proxy, which can be neither signed
    // canonically nor stored in IndexedDB.
    this.request({ kind: 'vote', proposal: { member: proposal.member, counter: proposal.counter }, choice });
  }

  newRound(): void {
    this.request({ kind: 'new-round' });
  }

  rename(name: string): void {
    const problem = nameProblem(String(name));
    if (problem) throw new Error(`${problem[0]!.toUpperCase()}${problem.slice(1)}.`);
    if (!this.node || this.stopped) throw new Error('Names come with seats: you can choose yours once everyone is here.');
    this.request({ kind: 'name', name: String(name) });
  }

  setMalicious(enabled: boolean, strategy: Strategy): void {
    const line = narrateMalice(this.malicious, { enabled, strategy });
    this.malicious = { enabled, strategy };
    this.wrap();
    if (line) this.say(line);
    this.o.onChange();
  }

  proof(member: number): ProofView | null {
    const proof = this.replica?.proofOf(member);
    if (!proof || !this.roster) return null;
    const { keys } = this.roster;
    return presentProof(member, proof, this.rosterForCore(), this.names.at(keys, member), (i) => this.names.at(keys, i));
  }

  proofFile(member: number): { fileName: string; text: string } | null {
    const proof = this.replica?.proofOf(member);
    if (!proof || !this.roster) return null;
    const { keys } = this.roster;
    return proofFile({ room: this.o.room, keys, member, memberName: this.names.at(keys, member), proof, now: this.now() });
  }

  /** What the UI shows now. */
  view(): RoomView {
    const snap = this.replica?.snapshot();
    const seen = this.observations;
    return presentRoom({
      size: this.o.size,
      keys: this.roster?.keys ?? [this.o.me.id, ...this.o.peers.verified()].sort(),
      me: this.o.me.id,
      roster: this.roster,
      running: this.replica !== null,
      snap,
      verified: new Set(this.o.peers.verified()),
      names: this.names,
      kept: this.chronicle,
      malicious: this.malicious,
      problem: this.problem,
      refused: this.chronicle.refused?.reason ?? null,
      seen: seen && snap
        ? { now: this.now(), members: seen.members(), replacing: seen.replacement(), ownWaiting: seen.ownWaiting(snap.view) }
        : undefined,
    });
  }

  // ---- the replica ----

  private rosterForCore(): Roster {
    return { room: this.o.room, keys: this.roster!.keys.map(fromHex) };
  }

  private async startReplica(fresh: boolean): Promise<void> {
    // Opening awaits storage: a second call meanwhile must not start a second replica with this key.
    if (!this.roster || this.replica || this.starting || this.stopped) return;
    this.starting = true;
    const config = { roster: this.rosterForCore(), me: this.roster.me, secretKey: this.o.me.secretKey, suite: ed25519Suite, now: this.now() };
    let opened: Awaited<ReturnType<typeof openReplica>>;
    try {
      opened = await openReplica(config, {
        fresh,
        restoredFromFile: !!this.o.restoredFromFile,
        load: () => this.o.store.loadRecords(this.o.room, this.o.me.id),
        random: (bytes) => crypto.getRandomValues(new Uint8Array(bytes)),
      });
    } finally {
      this.starting = false;
    }
    if (this.stopped) return;
    this.replica = opened.replica;
    this.problem = opened.problem ?? this.problem;
    if (opened.restored !== null) this.say({ kind: 'restored', records: opened.restored });
    this.observations = new Observations(this.o.size, this.roster.me, this.now());
    this.wrap();
    // What the restore re-executes happened before the reload, at times the records do not keep.
    this.apply(opened.effects, true);
    // Restoring executes this member's history again; a refusal the user saw before the reload is
    // old news, not an answer to anything asked from this page.
    this.chain = this.chain.then(() => void (this.chronicle.refused = null));
    let ticks = 0;
    this.timer = setInterval(() => {
      if (!this.node || this.stopped) return;
      this.apply(this.node.tick(this.now()));
      if (++ticks % REFRESH_TICKS === 0) this.o.onChange();
    }, TICK_MS);
    this.o.onChange();
  }

  /** The replica as the others meet it: itself, or wrapped in the chosen lie. */
  private wrap(): void {
    if (!this.replica || !this.roster) return;
    this.node = this.malicious.enabled
      ? new Adversary(this.malicious.strategy, {
          replica: this.replica, secretKey: this.o.me.secretKey, suite: ed25519Suite, roster: this.rosterForCore(),
        })
      : this.replica;
  }

  private request(op: LunchOp): void {
    if (!this.node || this.stopped) return;
    this.chronicle.refused = null;
    this.apply(this.node.request(op));
    this.o.onChange();
  }

  /**
   * Carry out effects in order on one chain, so that a later step's writes never overtake an
   * earlier one's sends: each run of records is one write, and what follows it waits until it is
   * durable (writeThenSend). Once stopped, nothing more leaves.
   */
  private apply(effects: Effect[], restored = false): void {
    if (effects.length === 0) return;
    // Observed when they happen, not when earlier writes let them through.
    const at = this.now();
    for (const e of effects) this.observations?.effect(e, at);
    this.chain = this.chain.then(async () => {
      let changed = false;
      for (const { records, then } of writeThenSend(effects)) {
        if (records.length > 0) await this.o.store.appendRecords(this.o.room, this.o.me.id, records);
        if (this.stopped) return;
        for (const e of then) {
          if (e.kind === 'send') this.deliver(e.to, e.bytes);
          changed = this.observe(e, restored) || changed;
        }
      }
      if (changed) this.o.onChange();
    }).catch((e: unknown) => this.fail(e));
  }

  private deliver(to: number | 'all', bytes: Uint8Array): void {
    const keys = this.roster!.keys;
    for (const id of to === 'all' ? keys.filter((k) => k !== this.o.me.id) : [keys[to]]) if (id) this.o.peers.send(id, bytes);
  }

  private observe(e: Effect, restored: boolean): boolean {
    const changed = this.chronicle.observe(e, {
      me: this.roster!.me, at: this.now() - this.started, liar: this.malicious.enabled, lunchNow: () => this.replica!.snapshot().lunch, restored,
    });
    if (e.kind === 'executed') this.o.onExecuted?.(e.seq, requestIds(e.requests));
    return changed;
  }

  private say(story: Story): void {
    this.chronicle.say(this.now() - this.started, story);
  }

  private fail(e: unknown): void {
    this.stop();
    this.problem = storageFailed(e);
    this.o.onChange();
  }
}
