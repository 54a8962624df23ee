import { describe, expect, it } from 'vitest';
import { Cluster, type InFlight } from './harness.ts';
import type { Replica } from './replica.ts';

const lunch = { kind: 'propose', place: 'Thai Palace', time: '12:30' } as const;

function replicas(c: Cluster): Replica[] {
  return c.nodes as Replica[];
}

function sameLogs(c: Cluster, members: number[]): void {
  const logs = members.map((m) => c.executed(m).map((e) => JSON.stringify({ seq: e.seq, r: e.requests })));
  for (const log of logs) expect(log).toEqual(logs[0]);
}

describe('replica, fault-free', () => {
  it('decides one request at every member, with exactly the messages PBFT needs (n = 4)', () => {
    const c = new Cluster(4, { real: true });
    c.request(1, lunch);
    c.deliverAll();
    for (const m of [0, 1, 2, 3]) {
      const done = c.executed(m);
      expect(done).toHaveLength(1);
      expect(done[0]!.requests).toEqual([{ member: 1, counter: 1, op: lunch }]);
      expect(done[0]!.events[0]).toMatchObject({ kind: 'proposed', place: 'Thai Palace' });
    }
    // 3 request copies + 3 pre-prepares + 3 backups x 3 prepares + 4 x 3 commits = 27.
    expect(Object.fromEntries(c.sent)).toEqual({ request: 3, 'pre-prepare': 3, prepare: 9, commit: 12 });
    expect(replicas(c).every((r) => r.snapshot().view === 0)).toBe(true);
  });

  it('batches requests that wait while the primary is busy, and all members agree', () => {
    const c = new Cluster(4, { timing: { maxInFlight: 1 } });
    c.request(1, lunch);
    c.request(2, { kind: 'propose', place: 'Pizza', time: '13:00' });
    c.request(3, { kind: 'propose', place: 'Tacos', time: '12:00' });
    c.deliverAll();
    const seqs = c.executed(0).map((e) => e.requests.length);
    expect(seqs.reduce((a, b) => a + b, 0)).toBe(3);
    expect(seqs.length).toBeLessThan(3);
    sameLogs(c, [0, 1, 2, 3]);
  });

  it('decides lunch once 2f + 1 members join', () => {
    const c = new Cluster(4);
    c.request(0, lunch);
    c.deliverAll();
    for (const m of [0, 1, 2]) c.request(m, { kind: 'vote', proposal: { member: 0, counter: 1 }, choice: 'join' });
    c.deliverAll();
    for (const m of [0, 1, 2, 3]) {
      expect(replicas(c)[m]!.snapshot().lunch.decisions).toEqual([{ round: 1, proposal: { member: 0, counter: 1 }, joined: [0, 1, 2] }]);
    }
  });
});

describe('replica, view change', () => {
  it('replaces a primary that falls silent while nothing is pending', () => {
    const c = new Cluster(4, { real: true });
    c.down.add(0);
    c.run(20_000);
    for (const m of [1, 2, 3]) expect(replicas(c)[m]!.snapshot()).toMatchObject({ view: 1, changing: null });
    c.request(2, lunch);
    c.run(2_000);
    for (const m of [1, 2, 3]) expect(c.executed(m).flatMap((e) => e.requests)).toHaveLength(1);
  });

  it('carries a request prepared but not committed into the new view', () => {
    const c = new Cluster(4, { real: true });
    c.request(1, lunch);
    // Pre-prepares and prepares get through, every commit of view 0 is lost, then the primary dies.
    const noCommitInView0 = (m: InFlight) => {
      const w = c.decode(m);
      return !(w.k === 'commit' && w.commit.body.view === 0);
    };
    c.deliverAll(noCommitInView0);
    expect(c.executed(1)).toHaveLength(0);
    c.down.add(0);
    c.run(30_000, 100, noCommitInView0);
    for (const m of [1, 2, 3]) {
      const done = c.executed(m);
      expect(done.flatMap((e) => e.requests)).toEqual([{ member: 1, counter: 1, op: lunch }]);
      expect(done[0]!.seq).toBe(1);
      expect(done[0]!.view).toBe(1);
    }
  });

  it('survives two view changes in a row (the next primary is down too)', () => {
    const c = new Cluster(7);
    c.down.add(0);
    c.down.add(1);
    c.request(3, lunch);
    c.run(60_000);
    for (const m of [2, 3, 4, 5, 6]) {
      expect(replicas(c)[m]!.snapshot().view).toBe(2);
      expect(c.executed(m).flatMap((e) => e.requests)).toHaveLength(1);
    }
  });

  it('a member that missed everything catches up from commit certificates', () => {
    const c = new Cluster(4);
    c.down.add(3);
    c.request(1, lunch);
    c.request(2, { kind: 'propose', place: 'Pizza', time: '13:00' });
    c.run(2_000);
    expect(c.executed(3)).toHaveLength(0);
    c.down.delete(3);
    c.run(5_000);
    sameLogs(c, [0, 1, 2, 3]);
    expect(c.executed(3).flatMap((e) => e.requests)).toHaveLength(2);
  });
});
