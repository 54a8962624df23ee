// Scripted schedules for the safety findings of review (docs/protocol.md says why each rule holds).
// Each one failed before its fix: the schedule is the evidence, not a random seed.
import { describe, expect, it } from 'vitest';
import { Cluster, decideEach as decide, findDoubleSigning, findFork, type InFlight } from './harness.ts';
import type { LunchOp } from './lunch.ts';
import {
  batchDigest, bodyBytes, encodeWire, signBody, slotKey,
  type AnyBody, type CommitBody, type PrePrepareBody, type PrepareBody, type RequestBody, type RequestOp, type Signed, type ViewChangeBody, type Wire,
} from './messages.ts';
import type { Replica } from './replica.ts';
import { WAL_VERSION } from './wal.ts';

const place = (name: string): LunchOp => ({ kind: 'propose', place: name, time: '12:00' });
const snap = (c: Cluster, m: number) => (c.nodes[m] as Replica).snapshot();

describe('never look back: a member that voted for view w ignores everything below w', () => {
  it('four honest members do not fork when NEW-VIEW(1) arrives after VIEW-CHANGE(2) (finding 1)', () => {
    const c = new Cluster(4);
    const viewOf = (m: InFlight): number | null => {
      const w = c.decode(m);
      const body = w.k === 'pre-prepare' ? w.pp.body : w.k === 'prepare' ? w.prepare.body : w.k === 'commit' ? w.commit.body
        : w.k === 'view-change' ? w.vc.body : w.k === 'new-view' ? w.nv.body : null;
      return body?.view ?? null;
    };
    const vc2 = (m: InFlight) => m.type === 'view-change' && viewOf(m) === 2;
    // Members 1, 2 and 3 stop hearing primary 0 and move to view 1. NEW-VIEW(1) is slow to reach
    // 0 and 3, which escalate to VIEW-CHANGE(2); those are slow to reach everyone.
    c.runHolding(12_000, (m) => m.from === 0 || (m.type === 'new-view' && (m.to === 0 || m.to === 3)) || vc2(m));
    expect(snap(c, 1).view).toBe(1);
    expect([snap(c, 0).changing, snap(c, 3).changing]).toEqual([2, 2]);
    // NEW-VIEW(1) finally reaches 0 and 3; member 2 is cut off; member 1 asks for lunch.
    const cutOff2 = (m: InFlight) => m.to === 2 || m.from === 2 || vc2(m);
    c.release((m) => !cutOff2(m), cutOff2);
    c.request(1, place('Tacos'));
    c.runHolding(3_000, cutOff2);
    // The stale VIEW-CHANGE(2)s reach member 2, the primary of view 2, which asks for lunch too.
    c.release((m) => vc2(m) && m.to === 2, cutOff2);
    c.runHolding(1_000, cutOff2);
    c.request(2, place('Sushi'));
    c.runHolding(1_000, cutOff2);
    // Member 2 is heard again, but hears only view 2 and later for a while.
    const staleTo2 = (m: InFlight) => (m.to === 2 && (viewOf(m) ?? 0) < 2) || (vc2(m) && m.to !== 2);
    c.release((m) => !staleTo2(m), staleTo2);
    c.runHolding(2_000, staleTo2);
    // Heal.
    c.release();
    c.run(20_000);
    expect(findFork(c, [0, 1, 2, 3])).toBeNull();
    for (const m of [0, 1, 2, 3]) expect(snap(c, m).proven).toEqual([]);
    // And the room still decides both requests.
    for (const m of [0, 1, 2, 3]) expect(snap(c, m).lastCounter.slice(1, 3)).toEqual([1, 1]);
  });
});

/** Sign as member `m` (a liar holds its own key) and put the message in flight to `to`. */
function inject(c: Cluster, m: number, to: number[], message: (sign: <B extends AnyBody>(b: B) => Signed<B>) => Wire): void {
  const wire = message((b) => signBody(c.suite, c.members[m]!.secretKey, b));
  for (const t of to) c.queue.push({ from: m, to: t, type: wire.k, bytes: encodeWire(wire) });
}

describe('lost records: recovery is agreed, not guessed (findings 2 and 3)', () => {
  it('a wiped member that hears nobody for a while never signs a second body for a slot it signed before', () => {
    const c = new Cluster(4);
    const liar = 1;
    // The room moves to view 1, whose primary (member 1) will lie; decisions go past a checkpoint.
    c.run(8_000, 100, (m) => m.from !== 0);
    expect(snap(c, 2).view).toBe(1);
    decide(c, [0, 2, 3], 18);
    const next = snap(c, 3).executedSeq + 1;
    // The primary asks for lunch itself, assigns it the next slot and shows that to member 3
    // alone, which vouches for it; nobody else hears of the request.
    c.request(liar, place('Noodles'));
    c.deliverMatching((m) => m.type === 'pre-prepare' && m.to === 3);
    c.queue.length = 0;
    const signedBefore = [...c.records[3]!];
    const vouched = (r: unknown) => (r as { signed?: Signed }).signed?.body.t === 'prepare' && (r as { signed: Signed<PrepareBody> }).signed.body.seq === next;
    expect(signedBefore.some(vouched)).toBe(true);
    // Member 3 loses its records and hears nobody for 10 s. Then it is back; from now on the
    // liar keeps its request and pre-prepares to itself, but for the one below, for the slot
    // member 3 vouched for.
    const noPrePrepare = (m: InFlight) => !(m.from === liar && (m.type === 'pre-prepare' || m.type === 'request'));
    c.restart(3, { records: [], lost: true });
    c.run(10_000, 100, (m) => m.from !== 3 && m.to !== 3 && noPrePrepare(m));
    c.run(20_000, 100, noPrePrepare);
    const other: Signed<RequestBody>[] = [];
    inject(c, liar, [3], (sign) => ({ k: 'pre-prepare', pp: sign<PrePrepareBody>({ t: 'pre-prepare', room: c.roster.room, from: liar, view: 1, seq: next, digest: batchDigest(other) }), batch: other }));
    c.deliverMatching((m) => m.from === liar && m.to === 3 && m.type === 'pre-prepare');
    c.run(5_000, 100, noPrePrepare);
    expect(findDoubleSigning(3, signedBefore, c.records[3]!)).toBeNull();
    // Only the liar may be proven faulty, and the honest members agree.
    for (const m of [0, 2, 3]) expect(snap(c, m).proven.filter((x) => x !== liar)).toEqual([]);
    expect(findFork(c, [0, 2, 3])).toBeNull();
  });

  it('a member wiped twice, the second time while cut off, never reuses a request counter and its new request executes', () => {
    const c = new Cluster(4);
    decide(c, [0, 1, 2], 4);
    const incarnations: unknown[][] = [];
    incarnations.push([...c.records[3]!]);
    c.restart(3, { records: [], lost: true });
    decide(c, [0, 1, 2], 60);
    c.run(5_000);
    expect(snap(c, 3).amnesia).toBe(false);
    // Cut off, it asks for lunch: its request is signed and sent, and never arrives.
    c.request(3, place('Dumplings'));
    c.run(1_000, 100, (m) => m.from !== 3 && m.to !== 3);
    incarnations.push([...c.records[3]!]);
    // Wiped again while still cut off, it asks for something else.
    c.restart(3, { records: [], lost: true });
    c.request(3, place('Curry'));
    c.run(5_000, 100, (m) => m.from !== 3 && m.to !== 3);
    c.run(20_000);
    incarnations.push([...c.records[3]!]);
    expect(findDoubleSigning(3, ...incarnations)).toBeNull();
    const curry = (r: { op: RequestOp }) => r.op.kind === 'propose' && r.op.place === 'Curry';
    for (const m of [0, 1, 2, 3]) expect(c.executed(m).flatMap((e) => e.requests).filter(curry), `member ${m}`).toHaveLength(1);
    for (const m of [0, 1, 2]) expect(snap(c, m).proven).toEqual([]);
  });

  it('a liar’s status with huge numbers does not keep a wiped member out, and the room gets its fault margin back', () => {
    const c = new Cluster(4);
    const liar = 0;
    decide(c, [0, 1, 2, 3], 4);
    c.restart(3, { records: [], lost: true });
    for (let i = 0; i < 20; i++) {
      inject(c, liar, [3], (sign) => ({ k: 'status', status: sign({ t: 'status', room: c.roster.room, from: liar, view: 0xffffffff, executed: 0xffffffff }) }));
      c.run(500);
    }
    expect(snap(c, 3).amnesia).toBe(false);
    // The liar falls silent: the three others must decide without it, member 3 included.
    c.down.add(liar);
    decide(c, [1, 2, 3], 3);
    c.run(30_000);
    for (const m of [1, 2, 3]) expect(snap(c, m).lastCounter.slice(1)).toEqual(snap(c, 1).lastCounter.slice(1));
    expect(c.executed(1).flatMap((e) => e.requests).filter((r) => r.member === 3 && r.op.kind === 'propose').length).toBeGreaterThanOrEqual(2);
    expect(findFork(c, [1, 2, 3])).toBeNull();
  });
});

describe('a request overtaken by a higher counter (finding 4)', () => {
  it('does not trigger view changes forever', () => {
    const c = new Cluster(4);
    const liar = 3;
    const req = (sign: <B extends AnyBody>(b: B) => Signed<B>, counter: number): Wire =>
      ({ k: 'request', req: sign<RequestBody>({ t: 'request', room: c.roster.room, from: liar, counter, op: place(`Lie ${counter}`) }) });
    inject(c, liar, [0, 1, 2], (sign) => req(sign, 2));
    inject(c, liar, [1, 2], (sign) => req(sign, 1));
    c.deliverAll();
    c.down.add(liar);
    c.run(60_000);
    for (const m of [0, 1, 2]) {
      expect(snap(c, m).lastCounter[liar]).toBe(2);
      expect(snap(c, m).view).toBeLessThanOrEqual(1);
      expect(snap(c, m).sizes.pending).toBe(0);
    }
  });
});

describe('memory is bounded whatever one member signs (finding 5)', () => {
  it('100,000 validly signed messages for future views and far sequence numbers leave the maps bounded', () => {
    const c = new Cluster(4);
    decide(c, [0, 1, 2], 2);
    const liar = 3;
    const sign = <B extends AnyBody>(b: B) => signBody(c.suite, c.members[liar]!.secretKey, b);
    const victim = c.nodes[0]!;
    const room = c.roster.room;
    const digest = new Uint8Array(32).fill(7);
    let peak = 0;
    for (let i = 1; i <= 100_000; i++) {
      let wire: Wire;
      switch (i % 5) {
        case 0:
          wire = { k: 'view-change', vc: sign<ViewChangeBody>({ t: 'view-change', room, from: liar, view: i, epoch: i, stable: 0, proof: [], prepared: [] }) };
          break;
        case 1:
          // Member 3 is the primary of views 3, 7, 11, ...: far views, far sequence numbers.
          wire = { k: 'pre-prepare', pp: sign<PrePrepareBody>({ t: 'pre-prepare', room, from: liar, view: 3 + 4 * i, seq: 1000 + i, digest }), batch: [] };
          break;
        case 2:
          wire = { k: 'commit', commit: sign<CommitBody>({ t: 'commit', room, from: liar, view: 0, seq: 1000 + i, digest }) };
          break;
        case 3:
          wire = { k: 'request', req: sign<RequestBody>({ t: 'request', room, from: liar, counter: i, op: place(`Flood ${i}`) }) };
          break;
        default:
          wire = { k: 'status', status: sign({ t: 'status', room, from: liar, view: i, executed: i }) };
      }
      c.collect(0, victim.step(liar, encodeWire(wire)));
      c.queue.length = 0;
      if (i % 1000 === 0) {
        c.effects.length = 0;
        const sizes = snap(c, 0).sizes;
        peak = Math.max(peak, sizes.seen!, sizes.viewChanges!, sizes.lastServed!, sizes.pending!, sizes.slots!, sizes.checkpoints!);
      }
    }
    const sizes = snap(c, 0).sizes;
    expect(sizes.viewChanges).toBeLessThanOrEqual(4);
    expect(sizes.pending).toBeLessThanOrEqual(8);
    expect(sizes.lastServed).toBeLessThanOrEqual(64);
    expect(sizes.seen).toBeLessThanOrEqual(4 * (8 * 16 + 64));
    expect(peak).toBeLessThanOrEqual(4 * (8 * 16 + 64));
    // And the room still works.
    decide(c, [0, 1, 2], 2);
    expect(findFork(c, [0, 1, 2])).toBeNull();
  }, 60_000);
});

describe('restarts (findings 6 and 7)', () => {
  it('an empty log is told apart from a lost one: a member restarted before any request is whole', () => {
    const c = new Cluster(4);
    c.run(1_000);
    expect(c.records[2]).toContainEqual({ v: WAL_VERSION, kind: 'start' });
    expect(c.restart(2).amnesia).toBe(false);
    expect(new Cluster(4).restart(1, { records: [] }).amnesia).toBe(true);
    // The reloaded member votes, and the room decides with another member silent.
    c.down.add(3);
    decide(c, [2, 0], 2);
    c.run(5_000);
    expect(snap(c, 0).lastCounter[2]).toBe(1);
    expect(snap(c, 2).lastCounter[0]).toBe(1);
  });

  it('a restarted member serves the NEW-VIEW of its current view', () => {
    const c = new Cluster(4);
    // Member 3 misses the NEW-VIEW of view 1.
    c.run(8_000, 100, (m) => m.from !== 0 && !(m.type === 'new-view' && m.to === 3));
    expect(snap(c, 2).view).toBe(1);
    expect(snap(c, 3).view).toBe(0);
    c.restart(2);
    expect(snap(c, 2).view).toBe(1);
    c.queue.length = 0;
    c.queue.push({ from: 3, to: 2, type: 'get-new-view', bytes: encodeWire({ k: 'get-new-view', view: 1 }) });
    c.deliverMatching((m) => m.from === 3 && m.to === 2);
    expect(c.queue.some((m) => m.from === 2 && m.to === 3 && m.type === 'new-view')).toBe(true);
  });

  it('a restarted primary goes on numbering after what it assigned, and the room needs no view change', () => {
    const c = new Cluster(4);
    decide(c, [1, 2], 2);
    // The primary assigns two more requests; its pre-prepares are recorded but none arrives.
    c.request(1, place('A'));
    c.request(2, place('B'));
    c.deliverMatching((m) => m.type === 'request');
    expect(c.queue.filter((m) => m.type === 'pre-prepare').length).toBeGreaterThan(0);
    c.queue.length = 0;
    c.restart(0);
    c.request(3, place('C'));
    c.run(3_000);
    for (const m of [0, 1, 2, 3]) {
      expect(snap(c, m).view).toBe(0);
      expect(snap(c, m).lastCounter).toEqual([0, 2, 2, 1]);
    }
    expect(findFork(c, [0, 1, 2, 3])).toBeNull();
  });
});
