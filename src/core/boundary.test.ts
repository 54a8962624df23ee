// What crosses the trust boundary into a replica: malformed bytes, bad signatures, replays from
// another room, duplicate and conflicting requests.
import { encode } from 'cborg';
import { describe, expect, it } from 'vitest';
import { Cluster, makeRoster } from './harness.ts';
import { encodeWire, signBody, type RequestBody } from './messages.ts';
import { Replica } from './replica.ts';
import { WAL_VERSION } from './wal.ts';

const op = { kind: 'propose', place: 'Thai Palace', time: '12:30' } as const;

describe('a replica at its boundary', () => {
  it('drops malformed input with a reason and never throws', () => {
    const { roster, suite, members } = makeRoster(4, false);
    const r = new Replica({ roster, me: 0, secretKey: members[0]!.secretKey, suite });
    let seed = 7;
    const next = () => (seed = (seed * 1664525 + 1013904223) >>> 0);
    const inputs: Uint8Array[] = [
      new Uint8Array(),
      new Uint8Array(1024 * 1024 + 1),
      encode({ k: 'commit' }),
      encode({ k: 'request', req: { body: { t: 'request' }, sig: new Uint8Array(64) } }),
      encode({ k: 'fetch', seq: -1 }),
      encode({ k: 'fetch', seq: 1.5 }),
      encode({ k: 'nope' }),
      ...Array.from({ length: 500 }, () => Uint8Array.from({ length: next() % 200 }, () => next() & 0xff)),
    ];
    for (const bytes of inputs) {
      const effects = r.step(1, bytes);
      expect(effects.filter((e) => e.kind === 'send')).toEqual([]);
      expect(effects.some((e) => e.kind === 'received' && e.dropped !== null)).toBe(true);
    }
    const drops = r.snapshot().drops;
    expect(Object.keys(drops).sort()).toEqual(expect.arrayContaining(['bad-shape', 'oversize']));
    expect(r.step(9, encode({ k: 'fetch', seq: 1 }))).toMatchObject([{ kind: 'received', dropped: 'unknown-sender' }]);
  });

  it('rejects a forged signature without blaming the member it names', () => {
    const c = new Cluster(4, { real: true });
    const body: RequestBody = { t: 'request', room: c.roster.room, from: 2, counter: 1, op };
    // Member 3 signs a request in member 2's name.
    const forged = { body, sig: signBody(c.suite, c.members[3]!.secretKey, body).sig };
    const effects = c.nodes[0]!.step(3, encodeWire({ k: 'request', req: forged }));
    expect(effects.filter((e) => e.kind !== 'persist')).toMatchObject([{ kind: 'received', from: 3, dropped: 'bad-signature' }]);
    c.deliverAll();
    expect(c.evidence(0)).toEqual([]);
  });

  it('says whose signed message a link delivered, so a replay of another member\'s message is told from its own', () => {
    const c = new Cluster(4, { real: false });
    const status = signBody(c.suite, c.members[2]!.secretKey, { t: 'status', room: c.roster.room, from: 2, view: 0, executed: 0 } as const);
    const bytes = encodeWire({ k: 'status', status });
    // The same signed status, from its author and passed on by member 3: taken in both times.
    expect(c.nodes[0]!.step(2, bytes)).toContainEqual(expect.objectContaining({ kind: 'received', from: 2, signer: 2, dropped: null }));
    expect(c.nodes[0]!.step(3, bytes)).toContainEqual(expect.objectContaining({ kind: 'received', from: 3, signer: 2, dropped: null }));
    // A message that carries only others' signatures speaks for nobody.
    expect(c.nodes[0]!.step(3, encodeWire({ k: 'fetch', seq: 1 }))).toContainEqual(expect.objectContaining({ kind: 'received', from: 3, signer: null }));
  });

  it('refuses a message signed for another room', () => {
    const a = makeRoster(4, true, 'room-a');
    const replicaB = new Replica({ roster: { ...a.roster, room: 'room-b' }, me: 0, secretKey: a.members[0]!.secretKey, suite: a.suite });
    // Its first effects start its log.
    expect(replicaB.tick(0)).toContainEqual({ kind: 'persist', record: { v: WAL_VERSION, kind: 'start' } });
    const body: RequestBody = { t: 'request', room: 'room-a', from: 1, counter: 1, op };
    const req = signBody(a.suite, a.members[1]!.secretKey, body);
    expect(replicaB.step(1, encodeWire({ k: 'request', req }))).toMatchObject([{ kind: 'received', from: 1, dropped: 'bad-signature' }]);
    // The same bytes with the room rewritten no longer match the signature.
    const moved = { body: { ...body, room: 'room-b' }, sig: req.sig };
    expect(replicaB.step(1, encodeWire({ k: 'request', req: moved }))).toMatchObject([{ kind: 'received', from: 1, dropped: 'bad-signature' }]);
  });

  it('executes a request delivered many times exactly once', () => {
    const c = new Cluster(4);
    c.request(1, op);
    const copies = c.queue.filter((m) => m.type === 'request');
    for (let i = 0; i < 5; i++) c.queue.push(...copies);
    c.deliverAll();
    c.run(5_000);
    for (const m of [0, 1, 2, 3]) expect(c.executed(m).flatMap((e) => e.requests)).toHaveLength(1);
  });

  it('treats two requests with one counter and different content as proof of equivocation', () => {
    const c = new Cluster(4, { real: true });
    const sign = (place: string) => signBody<RequestBody>(c.suite, c.members[3]!.secretKey, {
      t: 'request', room: c.roster.room, from: 3, counter: 1, op: { kind: 'propose', place, time: '12:00' },
    });
    c.collect(3, [
      { kind: 'send', to: 0, type: 'request', message: { k: 'request', req: sign('Pizza') }, bytes: encodeWire({ k: 'request', req: sign('Pizza') }) },
      { kind: 'send', to: 1, type: 'request', message: { k: 'request', req: sign('Sushi') }, bytes: encodeWire({ k: 'request', req: sign('Sushi') }) },
    ]);
    c.run(10_000);
    for (const m of [0, 1, 2]) expect(c.evidence(m).map((e) => [e.member, e.slot])).toEqual([[3, 'request/3/1']]);
    // Only one of the two can ever execute.
    const logs = [0, 1, 2].map((m) => JSON.stringify(c.executed(m).flatMap((e) => e.requests)));
    expect(new Set(logs).size).toBe(1);
    expect(JSON.parse(logs[0]!)).toHaveLength(1);
  });
});

describe('sizes', () => {
  it('n = 10 decides with three members down', () => {
    const c = new Cluster(10);
    for (const m of [7, 8, 9]) c.down.add(m);
    c.request(4, op);
    c.run(3_000);
    for (let m = 0; m < 7; m++) expect(c.executed(m).flatMap((e) => e.requests)).toHaveLength(1);
  });

  it('n = 7 replaces a silent primary and decides', () => {
    const c = new Cluster(7, { real: true });
    c.down.add(0);
    c.request(3, op);
    c.run(20_000);
    for (let m = 1; m < 7; m++) {
      expect(c.executed(m).flatMap((e) => e.requests)).toHaveLength(1);
      expect((c.nodes[m] as Replica).snapshot().view).toBe(1);
    }
  });
});
