// One member must not stall the room with large messages (issue 13): requests are bounded in
// bytes, batches in bytes as well as count, and a liar sending the largest messages it can does
// not stop the honest members from deciding.
import { describe, expect, it } from 'vitest';
import { Adversary } from './adversaries.ts';
import { Cluster, findFork } from './harness.ts';
import { MAX_BATCH_BYTES, MAX_PLACE_UNITS } from './limits.ts';
import type { LunchOp } from './lunch.ts';
import { batchBytes, encodeWire, signBody, type RequestBody } from './messages.ts';
import type { Replica } from './replica.ts';

const snap = (c: Cluster, m: number) => (c.nodes[m] as Replica).snapshot();

describe('a request is small', () => {
  it('a place of a megabyte of spaces is refused on arrival and never waits to be batched', () => {
    const c = new Cluster(4);
    const op = { kind: 'propose', place: `Taco${' '.repeat(900_000)}`, time: '12:00' } as const;
    const req = signBody(c.suite, c.members[1]!.secretKey, { t: 'request', room: c.roster.room, from: 1, counter: 1, op } satisfies RequestBody);
    const effects = c.nodes[0]!.step(1, encodeWire({ k: 'request', req }));
    expect(effects).toContainEqual(expect.objectContaining({ kind: 'received', from: 1, dropped: 'bad-shape' }));
    expect(effects.filter((e) => e.kind === 'send')).toEqual([]);
    expect(snap(c, 0).sizes.pending).toBe(0);
  });

  it('an intent the others would refuse is refused before it is signed, and later ones still go out', () => {
    const c = new Cluster(4);
    expect(() => c.request(1, { kind: 'propose', place: `Taco${' '.repeat(MAX_PLACE_UNITS)}`, time: '12:00' })).toThrow(RangeError);
    c.request(1, { kind: 'propose', place: 'Taco Truck', time: '12:10' });
    c.run(2_000);
    for (const m of [0, 1, 2, 3]) expect(snap(c, m).lastCounter[1]).toBe(1);
  });
});

describe('a batch is bounded in bytes', () => {
  it('the primary splits the largest requests over several sequence numbers, and every one executes', () => {
    const c = new Cluster(4);
    const place = `Wide ${'食'.repeat(55)}`.padEnd(MAX_PLACE_UNITS, '\u3000');
    // Eight requests of member 1 reach the primary at once (a member may run up to 8 ahead).
    for (let counter = 1; counter <= 8; counter++) {
      const op: LunchOp = { kind: 'propose', place, time: '12:00' };
      const req = signBody(c.suite, c.members[1]!.secretKey, { t: 'request', room: c.roster.room, from: 1, counter, op } satisfies RequestBody);
      c.collect(0, c.nodes[0]!.step(1, encodeWire({ k: 'request', req })));
    }
    const sizes = c.queue.map((m) => c.decode(m)).flatMap((w) => (w.k === 'pre-prepare' ? [batchBytes(w.batch).length] : []));
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    c.run(3_000);
    for (const m of [0, 1, 2, 3]) expect(snap(c, m).lastCounter[1]).toBe(8);
  });
});

describe('a liar sending the largest messages it can (bloat)', () => {
  for (const role of ['primary', 'backup'] as const) {
    it(`as ${role}: the honest members refuse what is too large and decide every request`, () => {
      const liar = role === 'primary' ? 0 : 3;
      const c = new Cluster(4, {
        wrap: (replica, m, cl) => (m.index === liar ? new Adversary('bloat', { replica, secretKey: m.secretKey, suite: cl.suite, roster: cl.roster }) : replica),
      });
      const honest = [0, 1, 2, 3].filter((m) => m !== liar);
      for (let i = 0; i < 6; i++) {
        for (const m of [0, 1, 2, 3]) c.request(m, { kind: 'propose', place: `Place ${m}/${i}`, time: '12:00' });
        c.run(8_000);
      }
      c.run(30_000);
      expect(findFork(c, honest)).toBeNull();
      for (const m of honest) for (const r of honest) expect(snap(c, m).lastCounter[r]).toBe(6);
      const drops = snap(c, honest[0]!).drops;
      expect(drops.oversize).toBeGreaterThan(0);
      expect(drops['too-many-items']).toBeGreaterThan(0);
      if (role === 'primary') expect(drops['batch-too-large']).toBeGreaterThan(0);
    });
  }
});
