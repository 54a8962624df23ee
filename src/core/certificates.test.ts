// Direct tests of the certificate checks and the new-view plan: for each function a certificate
// that passes, then one that breaks each rule the function enforces, and nothing else.
import { describe, expect, it } from 'vitest';
import {
  NULL_DIGEST, certContext, checkNewView, planNewView, validBatch, validCheckpointProof, validCommitCert, validPreparedCert, validViewChange,
  type CertContext,
} from './certificates.ts';
import { makeRoster } from './harness.ts';
import {
  batchDigest, signBody,
  type AnyBody, type CheckpointBody, type CommitBody, type CommitCert, type NewViewBody, type PreparedCert, type PrePrepareBody,
  type PrepareBody, type RequestBody, type Signed, type ViewChangeBody,
} from './messages.ts';

const { roster, suite, members } = makeRoster(4, false);
const room = roster.room;
const K = 8;
const L = 16;
const ctx = certContext(suite, roster, { checkpointInterval: K, logWindow: L });

const sign = <B extends AnyBody>(body: B): Signed<B> => signBody(suite, members[body.from]!.secretKey, body);
/** Signed with another member's key than the one the body names. */
const forge = <B extends AnyBody>(body: B): Signed<B> => signBody(suite, members[(body.from + 1) % 4]!.secretKey, body);

const request = (from: number, counter: number, place = 'Soup'): Signed<RequestBody> =>
  sign<RequestBody>({ t: 'request', room, from, counter, op: { kind: 'propose', place, time: '12:00' } });
const BATCH = [request(1, 1), request(2, 1)];
const DIGEST = batchDigest(BATCH);
const OTHER = [request(3, 1, 'Noodles')];

const prePrepare = (view: number, seq: number, digest = DIGEST, from = view % 4) =>
  sign<PrePrepareBody>({ t: 'pre-prepare', room, from, view, seq, digest });
const prepare = (from: number, view: number, seq: number, digest = DIGEST) =>
  sign<PrepareBody>({ t: 'prepare', room, from, view, seq, digest });
const commit = (from: number, view: number, seq: number, digest = DIGEST) =>
  sign<CommitBody>({ t: 'commit', room, from, view, seq, digest });
const checkpoint = (from: number, seq: number, digest = DIGEST) =>
  sign<CheckpointBody>({ t: 'checkpoint', room, from, seq, digest });

/** A prepared certificate for BATCH at (view, seq), with prepares from the two backups after the primary. */
function prepared(view: number, seq: number, batch = BATCH): PreparedCert {
  const digest = batchDigest(batch);
  const backups = [1, 2, 3].map((k) => (view + k) % 4).slice(0, 2);
  return { pp: prePrepare(view, seq, digest), prepares: backups.map((m) => prepare(m, view, seq, digest)), batch };
}

function committed(view: number, seq: number): CommitCert {
  return { pp: prePrepare(view, seq), batch: BATCH, commits: [0, 1, 2].map((m) => commit(m, view, seq)) };
}

const proofAt = (seq: number, from = [0, 1, 2]) => from.map((m) => checkpoint(m, seq));

function viewChange(from: number, view: number, options: { stable?: number; prepared?: PreparedCert[]; proof?: Signed<CheckpointBody>[] } = {}) {
  const stable = options.stable ?? 0;
  const proof = options.proof ?? (stable > 0 ? proofAt(stable) : []);
  return sign<ViewChangeBody>({ t: 'view-change', room, from, view, epoch: 0, stable, proof, prepared: options.prepared ?? [] });
}

/** A NEW-VIEW for `view` from its primary, with the pre-prepares the view-changes call for (or `pps`). */
function newView(view: number, vcs: Signed<ViewChangeBody>[], pps?: Signed<PrePrepareBody>[], from = view % 4) {
  const plan = planNewView(vcs);
  const reissued = pps ?? plan.map((e) => sign<PrePrepareBody>({ t: 'pre-prepare', room, from, view, seq: e.seq, digest: e.digest }));
  return sign<NewViewBody>({ t: 'new-view', room, from, view, vcs, pps: reissued });
}

describe('certContext', () => {
  it('takes n, f and 2f + 1 from the roster, and checks signatures against it unless told otherwise', () => {
    expect([ctx.n, ctx.f, ctx.q, ctx.checkpointInterval, ctx.logWindow]).toEqual([4, 1, 3, K, L]);
    expect(ctx.valid(request(1, 1))).toBe(true);
    expect(ctx.valid(forge<RequestBody>({ t: 'request', room, from: 1, counter: 1, op: { kind: 'advance' } }))).toBe(false);
    expect(ctx.valid({ ...request(1, 1), body: { ...request(1, 1).body, room: 'another-room' } })).toBe(false);
    expect(certContext(suite, roster, { checkpointInterval: K, logWindow: L }, () => false).valid(request(1, 1))).toBe(false);
  });
});

describe('validBatch', () => {
  it('accepts a batch of signed requests that matches its digest', () => {
    expect(validBatch(ctx, BATCH, DIGEST)).toBe(true);
    expect(validBatch(ctx, [], NULL_DIGEST)).toBe(true);
  });
  it('refuses a batch larger than MAX_BATCH_BYTES, even with its own digest', () => {
    const big = Array.from({ length: 64 }, (_, i) => request(i % 4, i + 1, 'x'.repeat(60)));
    expect(validBatch(ctx, big, batchDigest(big))).toBe(false);
  });
  it('refuses a batch that does not match the digest', () => {
    expect(validBatch(ctx, OTHER, DIGEST)).toBe(false);
  });
  it('refuses a batch with a request that is not validly signed', () => {
    const bad = [BATCH[0]!, forge<RequestBody>({ ...BATCH[1]!.body })];
    expect(validBatch(ctx, bad, batchDigest(bad))).toBe(false);
  });
});

describe('validPreparedCert', () => {
  it('accepts a pre-prepare, its batch and 2f matching prepares from backups, below the view voted for', () => {
    expect(validPreparedCert(ctx, prepared(0, 1), 1)).toBe(true);
    expect(validPreparedCert(ctx, prepared(2, 5), 3)).toBe(true);
  });
  it('refuses a certificate from the view voted for or above', () => {
    expect(validPreparedCert(ctx, prepared(1, 1), 1)).toBe(false);
  });
  it('refuses sequence number 0', () => {
    expect(validPreparedCert(ctx, prepared(0, 0), 1)).toBe(false);
  });
  it('refuses a pre-prepare whose signature does not verify', () => {
    const cert = prepared(0, 1);
    expect(validPreparedCert(ctx, { ...cert, pp: forge(cert.pp.body) }, 1)).toBe(false);
  });
  it('refuses a pre-prepare from a member that is not the primary of its view', () => {
    const cert = prepared(0, 1);
    expect(validPreparedCert(ctx, { ...cert, pp: prePrepare(0, 1, DIGEST, 1) }, 1)).toBe(false);
  });
  it('refuses a batch that is not the one pre-prepared', () => {
    expect(validPreparedCert(ctx, { ...prepared(0, 1), batch: OTHER }, 1)).toBe(false);
  });
  it('refuses a prepare whose signature does not verify', () => {
    const cert = prepared(0, 1);
    expect(validPreparedCert(ctx, { ...cert, prepares: [cert.prepares[0]!, forge(cert.prepares[1]!.body)] }, 1)).toBe(false);
  });
  it('refuses a prepare for another view, sequence number or digest', () => {
    const cert = prepared(0, 1);
    for (const p of [prepare(2, 1, 1), prepare(2, 0, 2), prepare(2, 0, 1, batchDigest(OTHER))]) {
      expect(validPreparedCert(ctx, { ...cert, prepares: [cert.prepares[0]!, p] }, 2)).toBe(false);
    }
  });
  it('refuses a prepare from the primary', () => {
    const cert = prepared(0, 1);
    expect(validPreparedCert(ctx, { ...cert, prepares: [...cert.prepares, prepare(0, 0, 1)] }, 1)).toBe(false);
  });
  it('refuses fewer than 2f distinct backups (a repeated prepare counts once)', () => {
    const cert = prepared(0, 1);
    expect(validPreparedCert(ctx, { ...cert, prepares: [cert.prepares[0]!] }, 1)).toBe(false);
    expect(validPreparedCert(ctx, { ...cert, prepares: [cert.prepares[0]!, cert.prepares[0]!] }, 1)).toBe(false);
  });
});

describe('validCheckpointProof', () => {
  it('returns the digest 2f + 1 distinct members signed for a checkpoint', () => {
    expect(validCheckpointProof(ctx, 8, proofAt(8))).toEqual(DIGEST);
    expect(validCheckpointProof(ctx, 16, proofAt(16, [3, 1, 0, 2]))).toEqual(DIGEST);
  });
  it('refuses a sequence number that is not a multiple of K', () => {
    expect(validCheckpointProof(ctx, 9, proofAt(9))).toBeNull();
  });
  it('refuses an empty proof', () => {
    expect(validCheckpointProof(ctx, 8, [])).toBeNull();
  });
  it('refuses a checkpoint whose signature does not verify', () => {
    expect(validCheckpointProof(ctx, 8, [...proofAt(8, [0, 1]), forge(checkpoint(2, 8).body)])).toBeNull();
  });
  it('refuses a checkpoint for another sequence number', () => {
    expect(validCheckpointProof(ctx, 8, [...proofAt(8, [0, 1]), checkpoint(2, 16)])).toBeNull();
  });
  it('refuses checkpoints that disagree on the digest', () => {
    expect(validCheckpointProof(ctx, 8, [...proofAt(8, [0, 1]), checkpoint(2, 8, NULL_DIGEST)])).toBeNull();
  });
  it('refuses fewer than 2f + 1 distinct members (a repeated checkpoint counts once)', () => {
    expect(validCheckpointProof(ctx, 8, proofAt(8, [0, 1]))).toBeNull();
    expect(validCheckpointProof(ctx, 8, proofAt(8, [0, 1, 1]))).toBeNull();
  });
});

describe('validViewChange', () => {
  it('accepts a signed vote with no stable checkpoint, or a proven one, and prepared certificates in the window', () => {
    expect(validViewChange(ctx, viewChange(1, 1))).toBe(true);
    expect(validViewChange(ctx, viewChange(1, 1, { prepared: [prepared(0, 1), prepared(0, 2)] }))).toBe(true);
    expect(validViewChange(ctx, viewChange(1, 2, { stable: 8, prepared: [prepared(1, 9), prepared(0, 8 + L)] }))).toBe(true);
  });
  it('refuses a vote whose signature does not verify', () => {
    expect(validViewChange(ctx, forge(viewChange(1, 1).body))).toBe(false);
  });
  it('refuses a stable checkpoint without a valid proof', () => {
    expect(validViewChange(ctx, viewChange(1, 1, { stable: 8, proof: proofAt(8, [0, 1]) }))).toBe(false);
  });
  it('refuses a proof with no stable checkpoint', () => {
    expect(validViewChange(ctx, viewChange(1, 1, { stable: 0, proof: proofAt(8) }))).toBe(false);
  });
  it('refuses a prepared certificate at or below the stable checkpoint', () => {
    expect(validViewChange(ctx, viewChange(1, 1, { stable: 8, prepared: [prepared(0, 8)] }))).toBe(false);
  });
  it('refuses a prepared certificate beyond the window above the stable checkpoint', () => {
    expect(validViewChange(ctx, viewChange(1, 1, { stable: 8, prepared: [prepared(0, 8 + L + 1)] }))).toBe(false);
  });
  it('refuses two prepared certificates for one sequence number', () => {
    expect(validViewChange(ctx, viewChange(1, 2, { prepared: [prepared(0, 1), prepared(1, 1)] }))).toBe(false);
  });
  it('refuses a prepared certificate that is not valid below the view voted for', () => {
    expect(validViewChange(ctx, viewChange(1, 1, { prepared: [prepared(1, 1)] }))).toBe(false);
    expect(validViewChange(ctx, viewChange(1, 1, { prepared: [{ ...prepared(0, 1), batch: OTHER }] }))).toBe(false);
  });
});

describe('validCommitCert', () => {
  it('accepts a pre-prepare, its batch and 2f + 1 matching commits', () => {
    expect(validCommitCert(ctx, committed(0, 1))).toBe(true);
    expect(validCommitCert(ctx, committed(5, 30))).toBe(true);
  });
  it('refuses a pre-prepare whose signature does not verify', () => {
    const cert = committed(0, 1);
    expect(validCommitCert(ctx, { ...cert, pp: forge(cert.pp.body) })).toBe(false);
  });
  it('refuses a pre-prepare from a member that is not the primary of its view', () => {
    expect(validCommitCert(ctx, { ...committed(0, 1), pp: prePrepare(0, 1, DIGEST, 2) })).toBe(false);
  });
  it('refuses sequence number 0', () => {
    expect(validCommitCert(ctx, committed(0, 0))).toBe(false);
  });
  it('refuses a batch that is not the one pre-prepared', () => {
    expect(validCommitCert(ctx, { ...committed(0, 1), batch: OTHER })).toBe(false);
  });
  it('refuses a commit whose signature does not verify', () => {
    const cert = committed(0, 1);
    expect(validCommitCert(ctx, { ...cert, commits: [...cert.commits.slice(0, 2), forge(cert.commits[2]!.body)] })).toBe(false);
  });
  it('refuses a commit for another view, sequence number or digest', () => {
    const cert = committed(0, 1);
    for (const c of [commit(3, 1, 1), commit(3, 0, 2), commit(3, 0, 1, NULL_DIGEST)]) {
      expect(validCommitCert(ctx, { ...cert, commits: [...cert.commits, c] })).toBe(false);
    }
  });
  it('refuses fewer than 2f + 1 distinct signers (a repeated commit counts once)', () => {
    const cert = committed(0, 1);
    expect(validCommitCert(ctx, { ...cert, commits: cert.commits.slice(0, 2) })).toBe(false);
    expect(validCommitCert(ctx, { ...cert, commits: [cert.commits[0]!, cert.commits[1]!, cert.commits[1]!] })).toBe(false);
  });
});

describe('planNewView', () => {
  it('re-issues nothing when nothing prepared above the highest stable checkpoint', () => {
    expect(planNewView([viewChange(0, 1), viewChange(1, 1), viewChange(2, 1)])).toEqual([]);
    expect(planNewView([viewChange(0, 1, { stable: 8 }), viewChange(1, 1, { prepared: [prepared(0, 3)] }), viewChange(2, 1)])).toEqual([]);
  });
  it('starts above the highest stable checkpoint among the votes and ends at the highest prepared sequence number', () => {
    const plan = planNewView([viewChange(0, 1, { stable: 8 }), viewChange(1, 1, { prepared: [prepared(0, 7), prepared(0, 10)] }), viewChange(2, 1)]);
    expect(plan.map((e) => e.seq)).toEqual([9, 10]);
  });
  it('fills a gap with the null batch', () => {
    const plan = planNewView([viewChange(0, 1, { prepared: [prepared(0, 2)] }), viewChange(1, 1), viewChange(2, 1)]);
    expect(plan).toEqual([{ seq: 1, digest: NULL_DIGEST, batch: [] }, { seq: 2, digest: DIGEST, batch: BATCH }]);
  });
  it('takes, for each sequence number, the batch prepared in the highest view', () => {
    const low = prepared(0, 1, OTHER);
    const high = prepared(1, 1);
    for (const order of [[low, high], [high, low]]) {
      const plan = planNewView([viewChange(0, 2, { prepared: [order[0]!] }), viewChange(2, 2, { prepared: [order[1]!] }), viewChange(3, 2)]);
      expect(plan).toEqual([{ seq: 1, digest: DIGEST, batch: BATCH }]);
    }
  });
});

describe('checkNewView', () => {
  const vcs = () => [viewChange(0, 1, { prepared: [prepared(0, 2)] }), viewChange(2, 1), viewChange(3, 1)];
  it('returns the plan of a NEW-VIEW from the primary with 2f + 1 valid votes and the pre-prepares they call for', () => {
    expect(checkNewView(ctx, newView(1, vcs()))).toEqual({ plan: planNewView(vcs()) });
    expect(checkNewView(ctx, newView(1, [...vcs(), viewChange(1, 1)]))).toEqual({ plan: planNewView(vcs()) });
  });
  it('refuses a NEW-VIEW whose signature does not verify', () => {
    expect(checkNewView(ctx, forge(newView(1, vcs()).body))).toEqual({ refused: 'bad-new-view' });
  });
  it('refuses a NEW-VIEW from a member that is not the primary of its view', () => {
    expect(checkNewView(ctx, newView(1, vcs(), undefined, 2))).toEqual({ refused: 'bad-new-view' });
  });
  it('refuses a vote for another view', () => {
    expect(checkNewView(ctx, newView(1, [...vcs().slice(0, 2), viewChange(3, 2)]))).toEqual({ refused: 'bad-new-view' });
  });
  it('refuses a vote that is not valid', () => {
    expect(checkNewView(ctx, newView(1, [...vcs().slice(0, 2), forge(viewChange(3, 1).body)]))).toEqual({ refused: 'bad-new-view' });
  });
  it('refuses fewer than 2f + 1 votes', () => {
    expect(checkNewView(ctx, newView(1, vcs().slice(0, 2)))).toEqual({ refused: 'bad-new-view' });
  });
  it('refuses two votes from one member', () => {
    const two = vcs();
    expect(checkNewView(ctx, newView(1, [...two, viewChange(2, 1, { stable: 0, prepared: [prepared(0, 1)] })]))).toEqual({ refused: 'bad-new-view' });
    expect(checkNewView(ctx, newView(1, [two[0]!, two[1]!, two[1]!]))).toEqual({ refused: 'bad-new-view' });
  });
  it('refuses more or fewer pre-prepares than the votes call for', () => {
    const pps = newView(1, vcs()).body.pps;
    expect(checkNewView(ctx, newView(1, vcs(), pps.slice(1)))).toEqual({ refused: 'new-view-mismatch' });
    expect(checkNewView(ctx, newView(1, vcs(), [...pps, prePrepare(1, 3, NULL_DIGEST)]))).toEqual({ refused: 'new-view-mismatch' });
  });
  it('refuses a re-issued pre-prepare whose signature does not verify', () => {
    const pps = newView(1, vcs()).body.pps;
    expect(checkNewView(ctx, newView(1, vcs(), [pps[0]!, forge(pps[1]!.body)]))).toEqual({ refused: 'new-view-mismatch' });
  });
  it('refuses a re-issued pre-prepare from another member than the NEW-VIEW', () => {
    const pps = newView(1, vcs()).body.pps;
    expect(checkNewView(ctx, newView(1, vcs(), [pps[0]!, prePrepare(1, 2, DIGEST, 2)]))).toEqual({ refused: 'new-view-mismatch' });
  });
  it('refuses a re-issued pre-prepare for another view, sequence number or digest than the plan', () => {
    const pps = newView(1, vcs()).body.pps;
    for (const pp of [prePrepare(2, 2, DIGEST, 1), prePrepare(1, 3), prePrepare(1, 2, batchDigest(OTHER))]) {
      expect(checkNewView(ctx, newView(1, vcs(), [pps[0]!, pp]))).toEqual({ refused: 'new-view-mismatch' });
    }
  });
});

describe('the order of signature checks', () => {
  /** A context that records what it is asked to verify, by kind and sender, and refuses `refuse`. */
  function recording(refuse?: (s: Signed) => boolean): { ctx: CertContext; seen: string[] } {
    const seen: string[] = [];
    const base = certContext(suite, roster, { checkpointInterval: K, logWindow: L });
    const valid = (s: Signed) => {
      seen.push(`${s.body.t}/${s.body.from}`);
      return !refuse?.(s) && base.valid(s);
    };
    return { ctx: { ...base, valid }, seen };
  }

  it('is the header, then the batch, then the votes, and stops at the first failure', () => {
    const cert = committed(0, 1);
    const all = recording();
    expect(validCommitCert(all.ctx, cert)).toBe(true);
    expect(all.seen).toEqual(['pre-prepare/0', 'request/1', 'request/2', 'commit/0', 'commit/1', 'commit/2']);
    const stopped = recording((s) => s.body.t === 'request' && s.body.from === 1);
    expect(validCommitCert(stopped.ctx, cert)).toBe(false);
    expect(stopped.seen).toEqual(['pre-prepare/0', 'request/1']);
  });

  it('for a NEW-VIEW is its own signature, each vote in full, then the re-issued pre-prepares', () => {
    const nv = newView(1, [viewChange(0, 1, { prepared: [prepared(0, 1)] }), viewChange(2, 1), viewChange(3, 1)]);
    const r = recording();
    expect('plan' in checkNewView(r.ctx, nv)).toBe(true);
    expect(r.seen).toEqual([
      'new-view/1', 'view-change/0', 'pre-prepare/0', 'request/1', 'request/2', 'prepare/1', 'prepare/2',
      'view-change/2', 'view-change/3', 'pre-prepare/1',
    ]);
  });
});
