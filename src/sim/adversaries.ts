// The core's adversary strategies (src/core/adversaries.ts), registered under their names so
// the simulator can put them in any member's place, Twins (two honest replicas sharing one
// member's key, both live), and `lying-state`: a member that is honest except when it answers
// catch-up requests. Registration order is the order `--faults all` cycles through.
import type { Effect } from '../core/effects.ts';
import { Adversary, STRATEGIES } from '../core/adversaries.ts';
import type { LunchOp } from '../core/lunch.ts';
import { encodeWire, type Wire } from '../core/messages.ts';
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
export class LyingStateNode implements SimNode {
  private stateLies = 0;
  private certLies = 0;
  /** Commits seen in certificates this node served, to pass off as another slot's. */
  private lastCommits: Extract<Wire, { k: 'committed' }>['cert']['commits'] | null = null;
  /** Replies it corrupted, by kind of lie (for tests). */
  readonly told: Record<string, number> = {};

  constructor(
    readonly replica: Replica,
    private readonly f: number,
    private readonly checkpointInterval: number,
  ) {}

  step(from: number, bytes: Uint8Array): Effect[] {
    return this.corrupt(this.replica.step(from, bytes));
  }

  tick(now: number): Effect[] {
    return this.corrupt(this.replica.tick(now));
  }

  request(op: LunchOp): Effect[] {
    return this.corrupt(this.replica.request(op));
  }

  snapshot(): NodeSnapshot {
    return this.replica.snapshot();
  }

  private corrupt(effects: Effect[]): Effect[] {
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
