// The core's adversary strategies (src/core/adversaries.ts), registered under their names so
// the simulator can put them in any member's place, Twins (two honest replicas sharing one
// member's key, both live), `lying-state` (a member that is honest except when it answers
// catch-up requests), `mutate` (small, validly signed changes of what it sends) and `forgetful`
// (VIEW-CHANGEs without what it prepared). Registration order is the order `--faults all` cycles through.
import type { Effect } from '../core/effects.ts';
import { Adversary, STRATEGIES } from '../core/adversaries.ts';
import type { LunchOp } from '../core/lunch.ts';
import { batchDigest, encodeWire, signBody, type AnyBody, type Signed, type Wire } from '../core/messages.ts';
import { DEFAULT_TIMING, type Replica } from '../core/replica.ts';
import type { NodeSnapshot, SimNode } from './node.ts';
import { registerAdversary } from './registry.ts';

const DESCRIPTIONS: Record<(typeof STRATEGIES)[number], string> = {
  silent: 'says nothing at all',
  equivocate: 'tells half the members one thing and the other half another, for the same slot',
  forge: "sends messages in other members' names, signed with its own key",
  'false-accuse': 'accuses honest members, with claims and with "proofs" that prove nothing',
  replay: 'replays old messages, garbage, truncated and oversize bytes',
  slow: 'holds back its primary duties (pre-prepares, new views) a little under the request timeout',
  bloat: 'sends the largest messages it can: padded requests, batches at and past the byte limit, view-changes far ahead, oversize and million-entry bytes',
};

for (const strategy of STRATEGIES) {
  registerAdversary(
    strategy,
    (ctx) => new Adversary(strategy, { replica: ctx.core(), secretKey: ctx.secretKey, suite: ctx.suite, roster: ctx.roster }),
    DESCRIPTIONS[strategy],
  );
}

registerAdversary('twins', (ctx) => [ctx.replica(), ctx.replica()], 'two honest replicas with one key, both live');

type Send = Extract<Effect, { kind: 'send' }>;

/**
 * An honest replica whose every output passes through `rewrite` before it leaves: the shape
 * of each wrapper below, which differ only in what they change.
 */
abstract class RewritingNode implements SimNode {
  constructor(readonly replica: Replica) {}

  step(from: number, bytes: Uint8Array): Effect[] {
    return this.rewrite(this.replica.step(from, bytes));
  }

  tick(now: number): Effect[] {
    return this.rewrite(this.replica.tick(now));
  }

  request(op: LunchOp): Effect[] {
    return this.rewrite(this.replica.request(op));
  }

  snapshot(): NodeSnapshot {
    return this.replica.snapshot();
  }

  protected abstract rewrite(effects: Effect[]): Effect[];
}

/** How `lying-state` corrupts a reply; it cycles through them so every kind of lie gets told. */
export const STATE_LIES = ['garbage-bytes', 'truncated-bytes', 'extra-chunk', 'weak-proof'] as const;
export const CERT_LIES = ['too-few-commits', 'swapped-batch', 'foreign-commits'] as const;

/**
 * A member that runs the honest replica but lies whenever it answers a catch-up request: its
 * `state` chunks are garbage, cut short, claim a chunk that does not exist, or come with a proof
 * of too few checkpoint signatures for a newer state; its `committed` certificates carry too few
 * commits, a batch other than the one the commits are for, or commits for another sequence
 * number. It can only sign with its own key, so none of this can be made to check: a victim must
 * drop every one of these (`bad-state`, `bad-certificate`) and fetch from someone else.
 */
export class LyingStateNode extends RewritingNode {
  private stateLies = 0;
  private certLies = 0;
  /** Commits seen in certificates this node served, to pass off as another slot's. */
  private lastCommits: Extract<Wire, { k: 'committed' }>['cert']['commits'] | null = null;
  /** Replies it corrupted, by kind of lie (for tests). */
  readonly told: Record<string, number> = {};

  constructor(
    replica: Replica,
    private readonly f: number,
    private readonly checkpointInterval: number,
  ) {
    super(replica);
  }

  protected rewrite(effects: Effect[]): Effect[] {
    return effects.map((e) => (e.kind === 'send' && e.message !== null ? this.lie(e) : e));
  }

  private lie(e: Send): Send {
    const m = e.message;
    let out: Wire | null = null;
    if (m?.k === 'state') {
      const how = STATE_LIES[this.stateLies++ % STATE_LIES.length]!;
      this.told[how] = (this.told[how] ?? 0) + 1;
      switch (how) {
        case 'garbage-bytes':
          out = { ...m, bytes: m.bytes.map((b) => b ^ 0x5a) };
          break;
        case 'truncated-bytes':
          out = { ...m, bytes: m.bytes.slice(0, Math.floor(m.bytes.length / 2)) };
          break;
        case 'extra-chunk':
          // Claims the state has one more chunk than it has: the victim asks for one no one can give.
          out = { ...m, chunks: m.chunks + 1 };
          break;
        case 'weak-proof':
          // A "newer" state, proven by fewer than 2f + 1 checkpoint signatures.
          out = { ...m, seq: m.seq + this.checkpointInterval, proof: m.proof.slice(0, this.f), bytes: m.bytes.map((b) => b ^ 0xa5) };
          break;
      }
    } else if (m?.k === 'committed') {
      const how = CERT_LIES[this.certLies++ % CERT_LIES.length]!;
      const cert = m.cert;
      const earlier = this.lastCommits;
      this.lastCommits = cert.commits;
      if (how === 'swapped-batch' && cert.batch.length > 0) {
        out = { k: 'committed', cert: { ...cert, batch: cert.batch.slice(1) } };
      } else if (how === 'foreign-commits' && earlier !== null && earlier[0]?.body.seq !== cert.pp.body.seq) {
        out = { k: 'committed', cert: { ...cert, commits: earlier } };
      } else {
        out = { k: 'committed', cert: { ...cert, commits: cert.commits.slice(0, 2 * this.f) } };
      }
      const told = out.cert.batch !== cert.batch ? 'swapped-batch' : out.cert.commits === earlier ? 'foreign-commits' : 'too-few-commits';
      this.told[told] = (this.told[told] ?? 0) + 1;
    }
    return out === null ? e : ({ ...e, type: out.k, message: out, bytes: encodeWire(out) } as Send);
  }
}

registerAdversary(
  'lying-state',
  (ctx) => new LyingStateNode(ctx.core(), ctx.f, { ...DEFAULT_TIMING, ...ctx.config.timing }.checkpointInterval),
  'honest, except that its state-transfer and catch-up replies are corrupt (garbage chunks, weak proofs, bad certificates)',
);

/** How `mutate` changes a message it signs (ByzzFuzz's small-scope mutations). */
export const MUTATIONS = ['view-up', 'view-down', 'seq-up', 'seq-down', 'old-digest', 'null-batch', 'stale', 'extreme-status', 'drop-certificates'] as const;
type Mutation = (typeof MUTATIONS)[number];

/** The mutations that apply to each kind of message (any message can be replaced by a stale one). */
const APPLICABLE: Partial<Record<Wire['k'], readonly Mutation[]>> = {
  status: ['extreme-status', 'stale'],
  'pre-prepare': ['view-up', 'view-down', 'seq-up', 'seq-down', 'old-digest', 'null-batch', 'stale'],
  prepare: ['view-up', 'view-down', 'seq-up', 'seq-down', 'old-digest', 'stale'],
  commit: ['view-up', 'view-down', 'seq-up', 'seq-down', 'old-digest', 'stale'],
  checkpoint: ['seq-up', 'seq-down', 'stale'],
  'view-change': ['view-up', 'view-down', 'drop-certificates', 'stale'],
  'new-view': ['old-digest', 'null-batch', 'drop-certificates'],
};

const U32_MAX = 0xffffffff;

/**
 * A member that runs the honest replica but, now and then, also signs a slightly changed copy
 * of what it sends — view ± 1, sequence number ± 1, the digest and batch of an earlier
 * pre-prepare, a VIEW-CHANGE without its prepared certificates, a status with an extreme view or
 * progress — or sends again an old message it signed. The copy goes to some members while the
 * others get the original. Everything is validly signed with its own key: what the honest
 * members must survive is a liar whose lies are well-formed and close to the truth.
 */
export class MutatingNode extends RewritingNode {
  private readonly earlier: Wire[] = [];
  private readonly batches: Extract<Wire, { k: 'pre-prepare' }>[] = [];
  /** Mutations sent, by kind (for tests). */
  readonly told: Record<string, number> = {};

  constructor(
    replica: Replica,
    private readonly ctx: { member: number; n: number; secretKey: Uint8Array; suite: AdversaryContextLike['suite']; rng: AdversaryContextLike['rng'] },
  ) {
    super(replica);
  }

  protected rewrite(effects: Effect[]): Effect[] {
    const out: Effect[] = [];
    for (const e of effects) {
      const applicable = e.kind === 'send' && e.message !== null ? APPLICABLE[e.message.k] : undefined;
      // A NEW-VIEW is rare and the lie that matters most there: it is changed more often.
      const p = e.kind === 'send' && e.message?.k === 'new-view' ? 0.7 : 0.3;
      if (e.kind !== 'send' || e.message === null || applicable === undefined || !this.ctx.rng.chance(p)) {
        out.push(e);
        if (e.kind === 'send' && e.message !== null) this.remember(e.message);
        continue;
      }
      const how = this.ctx.rng.pick(applicable);
      const changed = how === 'stale' ? this.ctx.rng.pick(this.earlier.length > 0 ? this.earlier : [e.message]) : this.change(e.message, how);
      this.remember(e.message);
      if (changed === null) {
        out.push(e);
        continue;
      }
      this.told[how] = (this.told[how] ?? 0) + 1;
      // The changed copy to some members, the original to the rest; a primary that lies in its
      // NEW-VIEW need not equivocate: that lie goes to everyone.
      const targets = e.to === 'all' ? [...Array(this.ctx.n).keys()].filter((m) => m !== this.ctx.member) : [e.to];
      const split = e.message.k === 'new-view' ? targets.length : this.ctx.rng.int(0, targets.length);
      targets.forEach((to, i) => {
        const m = i < split ? changed : e.message!;
        out.push({ kind: 'send', to, type: m.k, message: m, bytes: encodeWire(m) } as Send);
      });
    }
    return out;
  }

  private remember(m: Wire): void {
    this.earlier.push(m);
    if (this.earlier.length > 64) this.earlier.shift();
    if (m.k === 'pre-prepare') {
      this.batches.push(m);
      if (this.batches.length > 8) this.batches.shift();
    }
  }

  private sign<B extends AnyBody>(body: B): Signed<B> {
    return signBody(this.ctx.suite, this.ctx.secretKey, body);
  }

  private change(m: Wire, how: Mutation): Wire | null {
    const shift = (x: number, d: number) => Math.max(0, Math.min(U32_MAX, x + d));
    const dv = how === 'view-up' ? 1 : how === 'view-down' ? -1 : 0;
    const ds = how === 'seq-up' ? 1 : how === 'seq-down' ? -1 : 0;
    const old = this.batches.length > 0 ? this.ctx.rng.pick(this.batches) : null;
    switch (m.k) {
      case 'status': {
        if (how !== 'extreme-status') return null;
        const pick = () => this.ctx.rng.pick([0, U32_MAX, this.ctx.rng.int(0, 1000)]);
        return { k: 'status', status: this.sign({ ...m.status.body, view: pick(), executed: pick() }) };
      }
      case 'pre-prepare': {
        if (how === 'old-digest' && old) return { k: 'pre-prepare', pp: this.sign({ ...m.pp.body, digest: old.pp.body.digest }), batch: old.batch };
        if (how === 'null-batch') return { k: 'pre-prepare', pp: this.sign({ ...m.pp.body, digest: batchDigest([]) }), batch: [] };
        if (dv === 0 && ds === 0) return null;
        return { k: 'pre-prepare', pp: this.sign({ ...m.pp.body, view: shift(m.pp.body.view, dv), seq: shift(m.pp.body.seq, ds) }), batch: m.batch };
      }
      case 'prepare': {
        if (how === 'old-digest' && old) return { k: 'prepare', prepare: this.sign({ ...m.prepare.body, digest: old.pp.body.digest }), pp: old.pp };
        if (dv === 0 && ds === 0) return null;
        return { k: 'prepare', prepare: this.sign({ ...m.prepare.body, view: shift(m.prepare.body.view, dv), seq: shift(m.prepare.body.seq, ds) }), pp: m.pp };
      }
      case 'commit': {
        if (how === 'old-digest' && old) return { k: 'commit', commit: this.sign({ ...m.commit.body, digest: old.pp.body.digest }) };
        if (dv === 0 && ds === 0) return null;
        return { k: 'commit', commit: this.sign({ ...m.commit.body, view: shift(m.commit.body.view, dv), seq: shift(m.commit.body.seq, ds) }) };
      }
      case 'checkpoint':
        if (ds === 0) return null;
        return { k: 'checkpoint', checkpoint: this.sign({ ...m.checkpoint.body, seq: shift(m.checkpoint.body.seq, ds * 8) }) };
      case 'view-change': {
        if (how === 'drop-certificates') return { k: 'view-change', vc: this.sign({ ...m.vc.body, prepared: [] }) };
        if (dv === 0) return null;
        return { k: 'view-change', vc: this.sign({ ...m.vc.body, view: shift(m.vc.body.view, dv) }) };
      }
      case 'new-view': {
        const pps = m.nv.body.pps;
        if ((how === 'old-digest' || how === 'null-batch') && pps.length > 0) {
          // Another batch for one re-issued slot: one prepared elsewhere in the view-changes, an
          // earlier one, or none.
          const elsewhere = m.nv.body.vcs.flatMap((vc) => vc.body.prepared.map((c) => c.pp.body.digest));
          const digest = how === 'null-batch' ? batchDigest([]) : elsewhere.length > 0 ? this.ctx.rng.pick(elsewhere) : old?.pp.body.digest;
          if (digest === undefined) return null;
          const i = this.ctx.rng.int(0, pps.length - 1);
          const swapped = pps.map((pp, k) => (k === i ? this.sign({ ...pp.body, digest }) : pp));
          return { k: 'new-view', nv: this.sign({ ...m.nv.body, pps: swapped }) };
        }
        if (how === 'drop-certificates') return { k: 'new-view', nv: this.sign({ ...m.nv.body, pps: pps.slice(0, -1) }) };
        return null;
      }
      default:
        return null;
    }
  }
}

type AdversaryContextLike = Parameters<Parameters<typeof registerAdversary>[1]>[0];

registerAdversary(
  'mutate',
  (ctx) => new MutatingNode(ctx.core(), { member: ctx.member, n: ctx.n, secretKey: ctx.secretKey, suite: ctx.suite, rng: ctx.rng }),
  'signs small changes of what it sends (view or sequence number ± 1, an earlier digest, no certificates, an extreme status) or resends old messages, to some members',
);

/**
 * A member that runs the honest replica, but whose VIEW-CHANGEs report none of its prepared
 * certificates: it forgets, on purpose, what it vouched for. Everything it signs is well-formed.
 */
export class ForgetfulNode extends RewritingNode {
  constructor(
    replica: Replica,
    private readonly secretKey: Uint8Array,
    private readonly suite: AdversaryContextLike['suite'],
  ) {
    super(replica);
  }

  protected rewrite(effects: Effect[]): Effect[] {
    return effects.map((e) => {
      if (e.kind !== 'send' || e.message?.k !== 'view-change' || e.message.vc.body.prepared.length === 0) return e;
      const m: Wire = { k: 'view-change', vc: signBody(this.suite, this.secretKey, { ...e.message.vc.body, prepared: [] }) };
      return { ...e, message: m, bytes: encodeWire(m) } as Send;
    });
  }
}

registerAdversary(
  'forgetful',
  (ctx) => new ForgetfulNode(ctx.core(), ctx.secretKey, ctx.suite),
  'honest, except that its VIEW-CHANGEs leave out every prepared certificate (what it vouched for)',
);
