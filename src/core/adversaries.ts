// Malicious members, as real code: each wraps an honest Replica that holds the member's real key
// and corrupts what it says. Nothing here is a special case inside the honest replica, and the
// same wrappers serve the simulator and, later, the app's malicious mode.
//
// Everything is deterministic: choices follow counters, not randomness, so a seeded simulation
// that uses an adversary replays exactly.
import { encode } from 'cborg';
import type { Effect, ReplicaLike } from './effects.ts';
import { MAX_BATCH, MAX_BATCH_BYTES, MAX_PLACE_UNITS, MAX_WIRE_BYTES } from './limits.ts';
import type { LunchOp } from './lunch.ts';
import {
  batchBytes, batchDigest, encodeWire, signBody, type AnyBody, type RequestBody, type Roster, type Signed, type Wire,
} from './messages.ts';
import type { Replica } from './replica.ts';
import type { CryptoSuite } from './suite.ts';

/**
 * What a malicious member can do: say nothing (`silent`), sign two versions of what it sends
 * (`equivocate`), send messages in others' names besides its own (`forge`), accuse others with
 * evidence that does not hold (`false-accuse`), send old and broken bytes again (`replay`), hold
 * back its pre-prepares and NEW-VIEWs as primary (`slow`), and send the largest messages the limits
 * allow, or just beyond them (`bloat`).
 */
export const STRATEGIES = ['silent', 'equivocate', 'forge', 'false-accuse', 'replay', 'slow', 'bloat'] as const;
/** One of STRATEGIES. */
export type Strategy = (typeof STRATEGIES)[number];

/** What an adversary works with: an honest replica holding the member's key, and that key. */
export interface AdversaryContext {
  /** The honest replica whose effects the adversary corrupts. */
  readonly replica: Replica;
  /** The member's own secret key: all an adversary can sign with. */
  readonly secretKey: Uint8Array;
  readonly suite: CryptoSuite;
  readonly roster: Roster;
  /** For `slow`: how long primary duties are held back, e.g. a little under the request timeout. */
  readonly delayMs?: number;
}

type Send = Extract<Effect, { kind: 'send' }>;

/**
 * A malicious member: the wrapped replica's inputs pass through unchanged and its effects are
 * corrupted as the strategy says, so the member still follows the protocol's state as far as the
 * others can tell from what it lets through.
 */
export class Adversary implements ReplicaLike {
  readonly me: number;
  private readonly n: number;
  private counter = 0;
  private now = 0;
  private readonly captured: Uint8Array[] = [];
  private readonly held: { at: number; effect: Send }[] = [];

  constructor(readonly strategy: Strategy, private readonly ctx: AdversaryContext) {
    this.me = ctx.replica.me;
    this.n = ctx.roster.keys.length;
  }

  /** The replica's step, its sends corrupted (`replay` keeps what it received, to send it again later). */
  step(from: number, bytes: Uint8Array): Effect[] {
    if (this.strategy === 'replay' && this.captured.length < 200) this.captured.push(bytes);
    return this.corrupt(this.ctx.replica.step(from, bytes));
  }

  /** The replica's tick, its sends corrupted, plus what the strategy sends on its own: held-back sends now due, accusations, replays, bloat. */
  tick(now: number): Effect[] {
    this.now = now;
    const out = this.corrupt(this.ctx.replica.tick(now));
    if (this.strategy === 'slow') {
      while (this.held.length > 0 && this.held[0]!.at <= now) out.push(this.held.shift()!.effect);
    }
    if (this.strategy === 'false-accuse' && this.counter++ % 20 === 0) out.push(...this.accuse());
    if (this.strategy === 'replay' && this.counter++ % 5 === 0) out.push(...this.replay());
    if (this.strategy === 'bloat' && this.counter++ % 5 === 0) out.push(...this.bloat());
    return out;
  }

  /** The replica's request, its sends corrupted (`bloat` first widens the place to the limit). */
  request(op: LunchOp): Effect[] {
    // The largest place the rules allow: as many spaces as fit around it.
    if (this.strategy === 'bloat' && op.kind === 'propose') {
      const place = op.place.slice(0, MAX_PLACE_UNITS);
      op = { ...op, place: place + ' '.repeat(MAX_PLACE_UNITS - place.length) };
    }
    return this.corrupt(this.ctx.replica.request(op));
  }

  /** The wrapped replica's snapshot: the adversary keeps no lunch state of its own. */
  snapshot() {
    return this.ctx.replica.snapshot();
  }

  private corrupt(effects: Effect[]): Effect[] {
    const out: Effect[] = [];
    for (const e of effects) {
      if (e.kind !== 'send') {
        out.push(e);
        continue;
      }
      switch (this.strategy) {
        case 'silent':
          break; // says nothing at all
        case 'equivocate':
          out.push(...this.equivocate(e));
          break;
        case 'forge':
          out.push(e, ...this.forge(e));
          break;
        case 'slow':
          if (e.type === 'pre-prepare' || e.type === 'new-view') this.held.push({ at: this.now + (this.ctx.delayMs ?? 3500), effect: e });
          else out.push(e);
          break;
        case 'bloat':
          out.push(e.message?.k === 'pre-prepare' ? this.fatten(e.message) : e);
          break;
        default:
          out.push(e);
      }
    }
    return out;
  }

  private sign<B extends AnyBody>(body: B): Signed<B> {
    return signBody(this.ctx.suite, this.ctx.secretKey, body);
  }

  private sendTo(to: number, message: Wire): Send {
    return { kind: 'send', to, type: message.k, message, bytes: encodeWire(message) };
  }

  private others(): number[] {
    return Array.from({ length: this.n }, (_, i) => i).filter((i) => i !== this.me);
  }

  /** Tell half the members one thing and the other half another, for the same slot. */
  private equivocate(e: Send): Send[] {
    const m = e.message;
    if (m === null) return [e];
    let twin: Wire | null = null;
    if (m.k === 'pre-prepare') {
      // As primary: a different batch (the same requests less the first, or none) for the same slot.
      const batch = m.batch.length > 0 ? m.batch.slice(1) : [];
      const pp = this.sign({ ...m.pp.body, digest: batchDigest(batch) });
      twin = { k: 'pre-prepare', pp, batch };
    } else if (m.k === 'prepare') {
      twin = { k: 'prepare', prepare: this.sign({ ...m.prepare.body, digest: scramble(m.prepare.body.digest) }), pp: m.pp };
    } else if (m.k === 'commit') {
      twin = { k: 'commit', commit: this.sign({ ...m.commit.body, digest: scramble(m.commit.body.digest) }) };
    }
    if (twin === null || e.to !== 'all') return [e];
    const others = this.others();
    const half = Math.ceil(others.length / 2);
    return others.map((to, i) => this.sendTo(to, i < half ? m : twin));
  }

  /** Alongside its own traffic, send messages in other members' names, signed with its own key. */
  private forge(e: Send): Send[] {
    const victim = this.others()[this.counter++ % (this.n - 1)]!;
    const m = e.message;
    if (m === null) return [];
    let forged: Wire | null = null;
    if (m.k === 'request') {
      const body = { ...m.req.body, from: victim, counter: m.req.body.counter + 1000 };
      forged = { k: 'request', req: { body, sig: this.sign(m.req.body).sig } };
    } else if (m.k === 'prepare') {
      forged = { k: 'prepare', prepare: { body: { ...m.prepare.body, from: victim }, sig: m.prepare.sig }, pp: m.pp };
    } else if (m.k === 'commit') {
      forged = { k: 'commit', commit: { body: { ...m.commit.body, from: victim }, sig: m.commit.sig } };
    } else if (m.k === 'status') {
      // A pre-prepare in the primary's name for a slot far ahead.
      const body = { t: 'pre-prepare' as const, room: this.ctx.roster.room, from: victim, view: m.status.body.view, seq: m.status.body.executed + 1, digest: batchDigest([]) };
      forged = { k: 'pre-prepare', pp: { body, sig: this.sign(body).sig }, batch: [] };
    }
    return forged ? [{ kind: 'send', to: 'all', type: forged.k, message: forged, bytes: encodeWire(forged) }] : [];
  }

  /** Accuse an honest member: a signed claim with no proof, and a "proof" that proves nothing. */
  private accuse(): Send[] {
    const accused = this.others()[(this.counter >> 2) % (this.n - 1)]!;
    const claim: Wire = {
      k: 'accuse',
      accuse: this.sign({ t: 'accuse', room: this.ctx.roster.room, from: this.me, accused, reason: `member ${accused} does not want lunch` }),
    };
    // Two conflicting commits "by" the accused, but signed with the accuser's own key.
    const body = (digest: Uint8Array) => ({ t: 'commit' as const, room: this.ctx.roster.room, from: accused, view: 0, seq: 1, digest });
    const a = body(new Uint8Array(32).fill(1));
    const b = body(new Uint8Array(32).fill(2));
    const fake: Wire = { k: 'evidence', proof: { a: { body: a, sig: this.sign(a).sig }, b: { body: b, sig: this.sign(b).sig } } };
    return [claim, fake].map((m) => ({ kind: 'send', to: 'all', type: m.k, message: m, bytes: encodeWire(m) }) as Send);
  }

  /** Old messages again, garbage, truncated and oversize bytes. */
  private replay(): Send[] {
    const out: Send[] = [];
    const pick = this.captured[this.counter % Math.max(1, this.captured.length)];
    const to = this.others()[this.counter % (this.n - 1)]!;
    const raw = (bytes: Uint8Array): Send => ({ kind: 'send', to, type: 'garbage', message: null, bytes });
    if (pick) {
      out.push(raw(pick));
      out.push(raw(pick.subarray(0, Math.floor(pick.length / 2))));
    }
    out.push(raw(new Uint8Array([0xff, 0x00, 0x13, 0x37])));
    if (this.counter % 50 === 0) out.push(raw(oversize()));
    return out;
  }

  /**
   * As primary, every batch filled with its own largest requests: alternately up to the byte
   * limit (the largest legal pre-prepare) and just past it (which the others must refuse).
   */
  private fatten(m: Extract<Wire, { k: 'pre-prepare' }>): Send {
    const over = this.counter++ % 2 === 1;
    const batch = [...m.batch];
    while (batch.length < MAX_BATCH) {
      const next = [...batch, this.widestRequest()];
      const size = batchBytes(next).length;
      if (size > MAX_BATCH_BYTES && !over) break;
      batch.push(next[next.length - 1]!);
      if (size > MAX_BATCH_BYTES) break;
    }
    const pp = this.sign({ ...m.pp.body, digest: batchDigest(batch) });
    const fat: Wire = { k: 'pre-prepare', pp, batch };
    return { kind: 'send', to: 'all', type: fat.k, message: fat, bytes: encodeWire(fat) };
  }

  /** A validly signed request of the largest size, with a counter of its own far ahead. */
  private widestRequest(): Signed<RequestBody> {
    const place = `Bloat ${this.counter}`;
    return this.sign({
      t: 'request', room: this.ctx.roster.room, from: this.me, counter: 1_000_000 + this.counter++,
      op: { kind: 'propose', place: place + '\u3000'.repeat(MAX_PLACE_UNITS - place.length), time: '12:00' },
    });
  }

  /**
   * The largest messages a member can send: requests at the size limit and far ahead, view-changes
   * for views far ahead, a message one byte over the limit, and one that announces a million
   * entries within it.
   */
  private bloat(): Send[] {
    const all = (message: Wire): Send => ({ kind: 'send', to: 'all', type: message.k, message, bytes: encodeWire(message) });
    const raw = (bytes: Uint8Array): Send => ({ kind: 'send', to: 'all', type: 'garbage', message: null, bytes });
    const { room } = this.ctx.roster;
    const vc = this.sign({
      t: 'view-change' as const, room, from: this.me, view: 1000 + this.counter, epoch: 0, stable: 0, proof: [], prepared: [],
    });
    const out = [all({ k: 'request', req: this.widestRequest() }), all({ k: 'view-change', vc })];
    if (this.counter % 4 === 0) out.push(raw(oversize()), raw(millionEntries()));
    return out;
  }
}

let oversizeBytes: Uint8Array | null = null;
let millionBytes: Uint8Array | null = null;
/** One byte more than any peer accepts (made once: the simulator sends it often). */
function oversize(): Uint8Array {
  return (oversizeBytes ??= new Uint8Array(MAX_WIRE_BYTES + 1));
}
/** A view-change whose `prepared` announces a million entries, within the size limit. */
function millionEntries(): Uint8Array {
  return (millionBytes ??= encode({ k: 'view-change', vc: { body: { t: 'view-change', prepared: new Array(1_000_000).fill(0) }, sig: new Uint8Array(64) } }));
}

/** A digest that differs from the given one in every byte. */
function scramble(digest: Uint8Array): Uint8Array {
  return digest.map((b) => b ^ 0xa5);
}
