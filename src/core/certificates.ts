// Certificates: bundles of signed messages that prove something to a member that did not see it
// happen (docs/protocol.md). A prepared certificate proves a batch prepared in a view, a commit
// certificate that it was decided, a checkpoint proof that a state is stable; a VIEW-CHANGE
// carries the first and the last, and a NEW-VIEW carries 2f + 1 VIEW-CHANGEs and the pre-prepares
// computed from them (`planNewView`).
//
// Everything here is a pure function of its inputs. Each signature is checked through
// `CertContext.valid`, in a fixed order, and the checks stop at the first failure: the replica's
// `valid` also remembers what it verified and records it for equivocation detection, so which
// signatures are looked at, and in which order, is part of the replica's behaviour.
import { sameBytes } from './bytes.ts';
import { MAX_BATCH_BYTES } from './limits.ts';
import {
  batchBytes, batchDigest, verifySigned,
  type CheckpointBody, type CommitCert, type NewViewBody, type PreparedCert, type RequestBody, type Roster, type Signed, type ViewChangeBody,
} from './messages.ts';
import { primaryOf, quorumFor } from './quorum.ts';
import { digest as sha256, type CryptoSuite } from './suite.ts';

/** What the checks need to know about the room. */
export interface CertContext {
  /** Members in the room (3f + 1); the primary of view v is v mod n. */
  readonly n: number;
  /** Most faulty members tolerated. */
  readonly f: number;
  /** 2f + 1. */
  readonly q: number;
  /** K: checkpoints are taken at multiples of it. */
  readonly checkpointInterval: number;
  /** L: how far above a stable checkpoint a sequence number may be in use. */
  readonly logWindow: number;
  /** Whether one signed part is signed by the member it names, for this room. */
  readonly valid: (s: Signed) => boolean;
}

/**
 * The context for a room. `valid` defaults to checking each signature against the roster; the
 * replica passes its own, which also remembers what it verified and watches for equivocation.
 */
export function certContext(
  suite: CryptoSuite, roster: Roster, log: { checkpointInterval: number; logWindow: number }, valid?: (s: Signed) => boolean,
): CertContext {
  const { n, f, q } = quorumFor(roster.keys.length);
  return {
    n, f, q, checkpointInterval: log.checkpointInterval, logWindow: log.logWindow,
    valid: valid ?? ((s) => verifySigned(suite, roster, s)),
  };
}

/** One pre-prepare a new view re-issues: the batch at `seq`, or the null batch (`[]`). */
export interface PlanEntry {
  seq: number;
  digest: Uint8Array;
  batch: Signed<RequestBody>[];
}

/** Why a NEW-VIEW is refused: its view-changes do not prove it, or its pre-prepares are not the ones they call for. */
export type NewViewRefusal = 'bad-new-view' | 'new-view-mismatch';

/** The digest of the empty batch, which a new view assigns where nothing prepared. */
export const NULL_DIGEST = batchDigest([]);

/** A batch inside a certificate: within the byte limit, matching its digest, every request signed. */
export function validBatch(ctx: CertContext, batch: Signed<RequestBody>[], digest: Uint8Array): boolean {
  const encoded = batchBytes(batch);
  return encoded.length <= MAX_BATCH_BYTES && sameBytes(sha256(encoded), digest) && batch.every((r) => ctx.valid(r));
}

/**
 * A pre-prepare from its view's primary, its batch, and prepares for the same view, sequence
 * number and digest from 2f distinct backups: proof that the batch prepared, in a view below
 * `below` (the view the VIEW-CHANGE carrying it votes for).
 */
export function validPreparedCert(ctx: CertContext, cert: PreparedCert, below: number): boolean {
  const { pp, prepares, batch } = cert;
  const { view, seq, digest } = pp.body;
  if (view >= below || seq < 1 || !ctx.valid(pp) || pp.body.from !== primaryOf(view, ctx.n)) return false;
  if (!validBatch(ctx, batch, digest)) return false;
  const senders = new Set<number>();
  for (const p of prepares) {
    if (!ctx.valid(p) || p.body.view !== view || p.body.seq !== seq || !sameBytes(p.body.digest, digest)) return false;
    if (p.body.from === primaryOf(view, ctx.n)) return false;
    senders.add(p.body.from);
  }
  return senders.size >= 2 * ctx.f;
}

/**
 * A VIEW-CHANGE as sent by an honest member: signed, its stable checkpoint proven (or 0 with no
 * proof), and at most one valid prepared certificate per sequence number in the window above it.
 */
export function validViewChange(ctx: CertContext, vc: Signed<ViewChangeBody>): boolean {
  if (!ctx.valid(vc)) return false;
  const { stable, proof } = vc.body;
  if (stable > 0 && validCheckpointProof(ctx, stable, proof) === null) return false;
  if (stable === 0 && proof.length > 0) return false;
  const seqs = new Set<number>();
  for (const cert of vc.body.prepared) {
    const s = cert.pp.body.seq;
    if (s <= stable || s > stable + ctx.logWindow || seqs.has(s) || !validPreparedCert(ctx, cert, vc.body.view)) return false;
    seqs.add(s);
  }
  return true;
}

/**
 * 2f + 1 distinct members' valid checkpoints for `seq` (a multiple of K) agreeing on one digest:
 * returns that digest, or null when the proof does not prove it.
 */
export function validCheckpointProof(ctx: CertContext, seq: number, proof: readonly Signed<CheckpointBody>[]): Uint8Array | null {
  if (seq % ctx.checkpointInterval !== 0 || proof.length === 0) return null;
  const digest = proof[0]!.body.digest;
  const members = new Set<number>();
  for (const cp of proof) {
    if (!ctx.valid(cp) || cp.body.seq !== seq || !sameBytes(cp.body.digest, digest)) return null;
    members.add(cp.body.from);
  }
  return members.size >= ctx.q ? digest : null;
}

/** A pre-prepare, its batch and 2f + 1 matching commits: proof that the batch was decided. */
export function validCommitCert(ctx: CertContext, cert: CommitCert): boolean {
  const { pp, batch, commits } = cert;
  const { view, seq, digest } = pp.body;
  if (!ctx.valid(pp) || pp.body.from !== primaryOf(view, ctx.n) || seq < 1) return false;
  if (!validBatch(ctx, batch, digest)) return false;
  const signers = new Set<number>();
  for (const c of commits) {
    if (!ctx.valid(c) || c.body.view !== view || c.body.seq !== seq || !sameBytes(c.body.digest, digest)) return false;
    signers.add(c.body.from);
  }
  return signers.size >= ctx.q;
}

/**
 * The pre-prepares a new view must re-issue, computed from 2f + 1 view-changes: for every
 * sequence number above the highest stable checkpoint up to the highest prepared one, the
 * batch prepared in the highest view, or a null batch where none prepared.
 */
export function planNewView(vcs: readonly Signed<ViewChangeBody>[]): PlanEntry[] {
  const minS = Math.max(...vcs.map((v) => v.body.stable));
  const best = new Map<number, PreparedCert>();
  for (const vc of vcs) {
    for (const cert of vc.body.prepared) {
      const s = cert.pp.body.seq;
      if (s <= minS) continue;
      const old = best.get(s);
      if (!old || cert.pp.body.view > old.pp.body.view) best.set(s, cert);
    }
  }
  const maxS = Math.max(minS, ...best.keys());
  const plan: PlanEntry[] = [];
  for (let s = minS + 1; s <= maxS; s++) {
    const cert = best.get(s);
    plan.push(cert ? { seq: s, digest: cert.pp.body.digest, batch: cert.batch } : { seq: s, digest: NULL_DIGEST, batch: [] });
  }
  return plan;
}

/**
 * Everything a backup checks before it follows a NEW-VIEW: the primary's signature, 2f + 1
 * valid view-changes for that view from distinct members, and the re-issued pre-prepares,
 * recomputed here and compared. Returns the plan, or why the NEW-VIEW is refused.
 */
export function checkNewView(ctx: CertContext, nv: Signed<NewViewBody>): { plan: PlanEntry[] } | { refused: NewViewRefusal } {
  const { view } = nv.body;
  if (!ctx.valid(nv) || nv.body.from !== primaryOf(view, ctx.n)) return { refused: 'bad-new-view' };
  const members = new Set<number>();
  for (const vc of nv.body.vcs) {
    if (vc.body.view !== view || !validViewChange(ctx, vc)) return { refused: 'bad-new-view' };
    members.add(vc.body.from);
  }
  if (members.size < ctx.q || members.size !== nv.body.vcs.length) return { refused: 'bad-new-view' };
  // Never trust the new primary's plan: recompute it and compare.
  const plan = planNewView(nv.body.vcs);
  if (plan.length !== nv.body.pps.length) return { refused: 'new-view-mismatch' };
  for (const [i, e] of plan.entries()) {
    const pp = nv.body.pps[i]!;
    const b = pp.body;
    if (!ctx.valid(pp) || b.from !== nv.body.from || b.view !== view || b.seq !== e.seq || !sameBytes(b.digest, e.digest)) {
      return { refused: 'new-view-mismatch' };
    }
  }
  return { plan };
}
