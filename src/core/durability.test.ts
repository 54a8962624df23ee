import { describe, expect, it } from 'vitest';
import { Cluster, type InFlight } from './harness.ts';
import type { LunchOp } from './lunch.ts';
import { encodeWire, slotKey, type Signed, type Wire } from './messages.ts';
import type { Replica } from './replica.ts';

const place = (i: number): LunchOp => ({ kind: 'propose', place: `Place ${i}`, time: '12:00' });
const snap = (c: Cluster, m: number) => (c.nodes[m] as Replica).snapshot();
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Issue `count` requests round-robin from `from`, each decided before the next batch. */
function decide(c: Cluster, from: number[], count: number, filter?: (m: InFlight) => boolean): void {
  for (let i = 0; i < count; i++) {
    c.request(from[i % from.length]!, place(i));
    c.run(200, 100, filter);
  }
}

function expectConverged(c: Cluster, members: number[]): void {
  const first = snap(c, members[0]!);
  for (const m of members) {
    expect(snap(c, m).executedSeq).toBe(first.executedSeq);
    expect(hexOf(snap(c, m).lunchBytes)).toBe(hexOf(first.lunchBytes));
  }
}

/** No member's records hold two different signed bodies for one slot. */
function expectNoDoubleSigning(c: Cluster): void {
  for (const [m, records] of c.records.entries()) {
    const bySlot = new Map<string, string>();
    for (const r of records as { kind: string; signed?: Signed }[]) {
      if (r.kind !== 'signed' || !r.signed) continue;
      const b = r.signed.body;
      const key = slotKey(b);
      if (key === null) continue;
      const body = JSON.stringify(b, (_k, v) => (v instanceof Uint8Array ? hexOf(v) : v));
      expect(bySlot.get(key) ?? body, `member ${m} signed two bodies for ${key}`).toBe(body);
      bySlot.set(key, body);
    }
  }
}

describe('checkpoints and garbage collection', () => {
  it('makes checkpoints stable and forgets the log below them', () => {
    const c = new Cluster(4);
    decide(c, [0, 1, 2, 3], 40);
    for (const m of [0, 1, 2, 3]) {
      const s = snap(c, m);
      expect(s.stable).toBeGreaterThanOrEqual(32);
      expect(s.sizes.slots).toBeLessThanOrEqual(16);
      expect(s.sizes.committed).toBeLessThanOrEqual(16);
    }
    expectConverged(c, [0, 1, 2, 3]);
  });

  it('keeps memory bounded over 10,000 decisions', () => {
    // Votes, not proposals, so that the lunch state itself stays the same size: what is measured
    // is the log, the certificates and the bookkeeping that garbage collection must bound.
    const c = new Cluster(4, { timing: { maxBatch: 64, maxInFlight: 1 } });
    c.request(0, place(0));
    c.run(500);
    const vote = (i: number): LunchOp => ({ kind: 'vote', proposal: { member: 0, counter: 1 }, choice: i % 2 ? 'join' : 'decline' });
    const sizes: number[] = [];
    for (let round = 0; round < 100; round++) {
      for (let k = 0; k < 25; k++) for (const m of [0, 1, 2, 3]) c.request(m, vote(round + k + m));
      c.run(2_000, 100);
      c.effects.length = 0;
      const s = snap(c, 0).sizes;
      sizes.push(Object.entries(s).filter(([k]) => k !== 'verified').reduce((a, [, b]) => a + b, 0));
    }
    const decided = snap(c, 0).lastCounter.reduce((a, b) => a + b, 0);
    expect(decided).toBe(10_001);
    expectConverged(c, [0, 1, 2, 3]);
    // What the replica keeps after GC does not grow with the number of decisions.
    expect(Math.max(...sizes.slice(50))).toBeLessThanOrEqual(Math.max(...sizes.slice(0, 50)));
    expect(Math.max(...sizes)).toBeLessThan(200);
  }, 120_000);
});

describe('catching up', () => {
  it('a member one slot behind in an idle room catches up without waiting for a checkpoint', () => {
    const c = new Cluster(4);
    c.down.add(3);
    decide(c, [0], 1);
    c.down.delete(3);
    c.run(3_000);
    expect(snap(c, 3).executedSeq).toBe(1);
    expect(snap(c, 3).stable).toBe(0);
    expectConverged(c, [0, 1, 2, 3]);
  });

  it('a member partitioned past garbage collection catches up by certified state transfer', () => {
    const c = new Cluster(4);
    c.down.add(3);
    decide(c, [0, 1, 2], 30);
    expect(snap(c, 0).stable).toBeGreaterThanOrEqual(24);
    c.down.delete(3);
    c.run(5_000);
    expect(snap(c, 3).stable).toBeGreaterThanOrEqual(24);
    expectConverged(c, [0, 1, 2, 3]);
    // And it takes part again.
    decide(c, [3], 2);
    c.run(3_000);
    expectConverged(c, [0, 1, 2, 3]);
  });

  it('ignores a peer that answers state requests with forged or uncertified entries', () => {
    const c = new Cluster(4);
    c.down.add(3);
    decide(c, [0, 1, 2], 20);
    c.down.delete(3);
    // Member 2 lies: its state chunks are garbage and its commit certificates lack commits.
    const lie = (m: Wire): Wire | null => {
      if (m.k === 'state') return { ...m, bytes: m.bytes.map((b) => b ^ 0xff) };
      if (m.k === 'committed') return { ...m, cert: { ...m.cert, commits: m.cert.commits.slice(0, 1) } };
      return m;
    };
    c.queue.length = 0;
    // The first member a transfer asks is the first signer of the checkpoint proof: member 0.
    const liar = 0;
    const before = c.collect.bind(c);
    c.collect = (from, effects) =>
      before(from, from !== liar ? effects : effects.map((e) => {
        if (e.kind !== 'send' || e.message === null) return e;
        const m = lie(e.message);
        return m === null ? e : { ...e, message: m, bytes: encodeWire(m) };
      }));
    c.run(10_000);
    expectConverged(c, [0, 1, 2, 3]);
    const drops = snap(c, 3).drops;
    expect((drops['bad-state'] ?? 0) + (drops['bad-certificate'] ?? 0)).toBeGreaterThan(0);
    expect(snap(c, 3).proven).toEqual([]);
  });
});

describe('restarts', () => {
  it('a member restarted from its records converges and never signs twice for one slot', () => {
    const c = new Cluster(4);
    decide(c, [0, 1, 2, 3], 12);
    const report = c.restart(1);
    expect(report).toMatchObject({ rejected: [], amnesia: false });
    expect(snap(c, 1).executedSeq).toBe(snap(c, 0).executedSeq);
    decide(c, [1, 2], 6);
    expectConverged(c, [0, 1, 2, 3]);
    expectNoDoubleSigning(c);
  });

  it('restarts between persisting a prepare and sending it', () => {
    const c = new Cluster(4);
    c.request(0, place(1));
    // Member 2 gets the pre-prepare, persists its prepare, and crashes before the send goes out.
    const pp = c.queue.find((m) => m.to === 2 && m.type === 'pre-prepare')!;
    c.queue.splice(c.queue.indexOf(pp), 1);
    const effects = c.nodes[2]!.step(0, pp.bytes);
    c.collect(2, effects.filter((e) => e.kind === 'persist'));
    c.restart(2);
    c.run(5_000);
    expectConverged(c, [0, 1, 2, 3]);
    expectNoDoubleSigning(c);
    expect(snap(c, 2).executedSeq).toBe(1);
  });

  it('restarts with its last write never completed (that message was never sent)', () => {
    const c = new Cluster(4);
    decide(c, [0, 1], 3);
    c.request(3, place(9));
    c.deliverMatching((m) => m.type === 'request');
    const pp = c.queue.find((m) => m.to === 2 && m.type === 'pre-prepare')!;
    c.queue.splice(c.queue.indexOf(pp), 1);
    c.nodes[2]!.step(0, pp.bytes); // its prepare's record never became durable, so nothing is sent
    c.restart(2);
    c.queue.push(pp);
    c.run(5_000);
    expectConverged(c, [0, 1, 2, 3]);
    expectNoDoubleSigning(c);
    expect(snap(c, 2).executedSeq).toBe(4);
  });

  it('restarts with every record wiped: never proven faulty, and signs no prepare, commit or view-change', () => {
    const c = new Cluster(4);
    decide(c, [0, 1, 2, 3], 6);
    const signedBefore = c.records[3]!.length;
    const report = c.restart(3, { records: [], lost: true });
    expect(report.amnesia).toBe(true);
    expect(snap(c, 3).amnesia).toBe(true);
    decide(c, [0, 1, 2, 3], 6);
    // It still follows the others, by certificates, and its own request got through.
    expectConverged(c, [0, 1, 2, 3]);
    expect(signedBefore).toBeGreaterThan(0);
    const signedAfter = (c.records[3] as { kind: string; signed?: { body: { t: string } } }[])
      .filter((r) => r.kind === 'signed').map((r) => r.signed!.body.t);
    expect(signedAfter.filter((t) => ['prepare', 'commit', 'view-change', 'pre-prepare', 'new-view'].includes(t))).toEqual([]);
    expect(snap(c, 3).drops['refused-while-amnesic']).toBeGreaterThan(0);
    for (const m of [0, 1, 2]) expect(snap(c, m).proven).toEqual([]);
  });

  it('a wiped member comes back once a stable checkpoint lies a window beyond what it could have signed', () => {
    const c = new Cluster(4);
    decide(c, [0, 1, 2], 5);
    c.restart(3, { records: [], lost: true });
    decide(c, [0, 1, 2], 60);
    expect(snap(c, 3).amnesia).toBe(false);
    c.down.add(0);
    decide(c, [1, 2, 3], 3);
    c.run(30_000);
    expectConverged(c, [1, 2, 3]);
  });

  it('reports corrupt records and treats them as lost', () => {
    const c = new Cluster(4);
    decide(c, [0, 1], 4);
    const records = [...c.records[1]!];
    records.splice(2, 1, { v: 1, kind: 'signed', signed: 'garbage' });
    records.push({ v: 99, kind: 'stable' });
    const report = c.restart(1, { records });
    expect(report.rejected.map((r) => r.index)).toEqual([2, records.length - 1]);
    expect(report.amnesia).toBe(true);
    c.run(5_000);
    expectConverged(c, [0, 1, 2, 3]);
  });
});

describe('restarting while records are lost', () => {
  it('keeps recovering across a restart: the same nonce, and nothing signed until it is safe', () => {
    const c = new Cluster(4);
    decide(c, [0, 1, 2], 3);
    c.restart(3, { records: [], lost: true });
    // Cut off, its recovery request cannot be agreed: it stays amnesic, across a restart too.
    c.run(8_000, 100, (m) => m.from !== 3 && m.to !== 3);
    expect(snap(c, 3).amnesia).toBe(true);
    const lost = (c.records[3] as { kind: string; nonce?: Uint8Array }[]).filter((r) => r.kind === 'lost');
    expect(lost).toHaveLength(1);
    const report = c.restart(3);
    expect(report.amnesia).toBe(true);
    expect((c.records[3] as { kind: string }[]).filter((r) => r.kind === 'lost')).toHaveLength(1);
    // Back in touch, it recovers by itself and signs again once that is safe.
    c.run(20_000);
    expect(snap(c, 3).amnesia).toBe(false);
    expect(c.restart(3).amnesia).toBe(false);
    decide(c, [3], 2);
    expectConverged(c, [0, 1, 2, 3]);
    expectNoDoubleSigning(c);
  });
});

describe('view changes after lost records', () => {
  const votes = (records: unknown[]) =>
    (records as { kind: string; signed?: { body: { t: string; view?: number; epoch?: number } } }[])
      .filter((r) => r.kind === 'signed' && r.signed!.body.t === 'view-change')
      .map((r) => ({ view: r.signed!.body.view!, epoch: r.signed!.body.epoch! }));

  it('a wiped member votes in a new epoch, never in views it may have left behind, and the room moves on', () => {
    const c = new Cluster(4);
    decide(c, [0, 1, 2, 3], 3);
    // Cut off, member 3 stops hearing the primary and votes alone for view 1.
    c.run(12_000, 100, (m) => m.from !== 3 && m.to !== 3);
    const before = votes(c.records[3]!);
    expect(before).toEqual([{ view: 1, epoch: 0 }]);
    const earlier = [...c.records[3]!];
    c.restart(3, { records: [], lost: true });
    c.run(20_000);
    expect(snap(c, 3).amnesia).toBe(false);
    // The primary of view 0 fails: the room needs member 3's vote for view 1.
    c.down.add(0);
    decide(c, [1, 2, 3], 3);
    c.run(30_000);
    expectConverged(c, [1, 2, 3]);
    const after = votes(c.records[3]!);
    expect(after.length).toBeGreaterThan(0);
    // Its new votes are a new epoch's: no slot is signed twice, and no member is proven faulty.
    expect(after.every((v) => v.epoch > 0)).toBe(true);
    c.records[3] = [...earlier, ...c.records[3]!];
    expectNoDoubleSigning(c);
    for (const m of [1, 2, 3]) {
      expect(snap(c, m).view).toBeGreaterThanOrEqual(1);
      expect(snap(c, m).proven).toEqual([]);
    }
    expect(snap(c, 1).lastCounter[3]).toBeGreaterThan(0);
  });
});
