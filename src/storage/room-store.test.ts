import './fake-idb-globals.ts';
import { IDBDatabase, IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cluster } from '../core/harness.ts';
import type { LunchOp } from '../core/lunch.ts';
import type { Replica } from '../core/replica.ts';
import { WAL_VERSION, type WalRecord } from '../core/wal.ts';
import { generateKeyPair, toHex } from '../crypto/ed25519.ts';
import {
  OWNER_INDEX,
  ROOMS_DB_NAME,
  ROSTERS_STORE,
  StorageError,
  WAL_STORE,
  checkRoster,
  createRoomStore,
} from './room-store.ts';
import type { RoomRoster, RoomStore } from './room-store.ts';

const ROOM = 'lunch-room';

let stores: RoomStore[] = [];
function store(factory: IDBFactory = new IDBFactory(), options?: Parameters<typeof createRoomStore>[1]): RoomStore {
  const s = createRoomStore(factory, options);
  stores.push(s);
  return s;
}
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of stores) await s.close();
  stores = [];
});

/** A roster of `n` real members, as member `mine` sees it. */
function makeRoster(n = 4, mine = 0, room = ROOM): { roster: RoomRoster; memberId: string } {
  const keys = Array.from({ length: n }, () => toHex(generateKeyPair().publicKey)).sort();
  const memberId = keys[mine]!;
  return {
    memberId,
    roster: { v: 1, room, n, keys, fingerprint: '3fa2 91c0 77de 0a15', me: mine, fixedAt: 1_700_000_000_000 },
  };
}

/** Writes raw values straight into a store of the rooms database (as a damaged browser might). */
async function plant(factory: IDBFactory, storeName: string, entries: { key?: IDBValidKey; value: unknown }[]): Promise<void> {
  const db = await new Promise<globalThis.IDBDatabase>((resolve, reject) => {
    const request = factory.open(ROOMS_DB_NAME);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  await new Promise<void>((resolve, reject) => {
    const tx = db.transaction(storeName, 'readwrite');
    for (const { key, value } of entries) tx.objectStore(storeName).put(value, key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}

async function expectStorageError(promise: Promise<unknown>, code: StorageError['code']): Promise<StorageError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StorageError);
  expect((error as StorageError).code).toBe(code);
  return error as StorageError;
}

// ---------------------------------------------------------------------------------------------
// A real write-ahead log: member 1 of a four-member cluster through a view change and three
// stable checkpoints.

const place = (i: number): LunchOp => ({ kind: 'propose', place: `Place ${i}`, time: '12:00' });
type AnyRecord = WalRecord & Record<string, unknown>;

function runCluster(): { c: Cluster; member: number; records: WalRecord[] } {
  const c = new Cluster(4);
  for (let i = 0; i < 5; i++) {
    c.request(1 + (i % 3), place(i));
    c.run(200);
  }
  c.down.add(0); // the primary of view 0 goes away: view change to view 1
  c.request(1, place(100));
  c.run(20_000);
  for (let i = 0; i < 20; i++) {
    c.request(1 + (i % 3), place(200 + i));
    c.run(300);
  }
  // structuredClone: in Node some bytes are Buffers, which IndexedDB (like a browser, which has no
  // Buffer) hands back as plain Uint8Arrays; compare against what storage can return.
  return { c, member: 1, records: structuredClone(c.records[1] as WalRecord[]) };
}

const snap = (c: Cluster, m: number) => (c.nodes[m] as Replica).snapshot();

function kindOf(r: WalRecord): string {
  return r.kind === 'signed' ? `signed/${r.signed.body.t}` : r.kind;
}

/** What must survive compaction against the stable record at `stable` (computed independently). */
function survivors(records: WalRecord[], stable: number): WalRecord[] {
  let lastStable = -1;
  for (const [i, r] of records.entries()) if (r.kind === 'stable' && r.seq === stable) lastStable = i;
  let lastView = -1;
  for (const [i, r] of records.entries()) if (r.kind === 'view') lastView = i;
  return records.filter((r, i) => {
    switch (r.kind) {
      case 'start':
      case 'lost':
      case 'recovery':
        return true;
      case 'view':
        return i === lastView;
      case 'stable':
        return r.seq > stable || i === lastStable;
      case 'prepared':
      case 'committed':
        return r.cert.pp.body.seq > stable;
      case 'signed': {
        const b = r.signed.body;
        return !('seq' in b) || b.seq > stable;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------

describe('rosters', () => {
  it('round-trips a roster and reports none before it is fixed', async () => {
    const s = store();
    const { roster, memberId } = makeRoster(4, 2);
    expect(await s.loadRoster(ROOM, memberId)).toBeNull();
    await s.saveRoster(ROOM, memberId, roster);
    expect(await s.loadRoster(ROOM, memberId)).toEqual(roster);
    // Per member and room: another room, or another member of the same browser, has none yet.
    expect(await s.loadRoster('other-room', memberId)).toBeNull();
    expect(await s.loadRoster(ROOM, roster.keys[0]!)).toBeNull();
  });

  it('survives reopening the database', async () => {
    const factory = new IDBFactory();
    const { roster, memberId } = makeRoster();
    const first = store(factory);
    await first.saveRoster(ROOM, memberId, roster);
    await first.close();
    expect(await store(factory).loadRoster(ROOM, memberId)).toEqual(roster);
  });

  it('treats saving the same roster again as a no-op and keeps the first fixing time', async () => {
    const s = store();
    const { roster, memberId } = makeRoster();
    await s.saveRoster(ROOM, memberId, roster);
    await s.saveRoster(ROOM, memberId, { ...roster, keys: [...roster.keys], fixedAt: roster.fixedAt + 5_000 });
    expect(await s.loadRoster(ROOM, memberId)).toEqual(roster);
  });

  it('refuses a different roster for the same member and room', async () => {
    const s = store();
    const { roster, memberId } = makeRoster();
    await s.saveRoster(ROOM, memberId, roster);

    const otherKeys = [...roster.keys.filter((k) => k !== roster.keys[3]), toHex(generateKeyPair().publicKey)].sort();
    const other: RoomRoster = { ...roster, keys: otherKeys, me: otherKeys.indexOf(memberId), fingerprint: 'aaaa bbbb cccc dddd' };
    const error = await expectStorageError(s.saveRoster(ROOM, memberId, other), 'roster-conflict');
    expect(error.message).toContain(ROOM);
    expect(error.message).toContain(roster.fingerprint);
    expect(error.message).toContain('aaaa bbbb cccc dddd');
    expect(error.message).toMatch(/fixed once and never changes/);

    await expectStorageError(s.saveRoster(ROOM, memberId, { ...roster, fingerprint: 'ffff 0000 ffff 0000' }), 'roster-conflict');
    expect(await s.loadRoster(ROOM, memberId)).toEqual(roster);
  });

  it('refuses to save an invalid roster', async () => {
    const s = store();
    const { roster, memberId } = makeRoster();
    await expect(s.saveRoster(ROOM, memberId, { ...roster, keys: [...roster.keys].reverse() })).rejects.toThrow(/sorted/);
    await expect(s.saveRoster(ROOM, memberId, { ...roster, me: (roster.me + 1) % 4 })).rejects.toThrow(/this member/);
    await expect(s.saveRoster('another', memberId, roster)).rejects.toThrow(/another room/);
    await expect(s.saveRoster(ROOM, 'not-hex', roster)).rejects.toThrow(/member id/);
    expect(await s.loadRoster(ROOM, memberId)).toBeNull();
  });

  it('reports a corrupt roster with a sentence a person can act on', async () => {
    const factory = new IDBFactory();
    const s = store(factory);
    const { roster, memberId } = makeRoster();
    await s.loadRoster(ROOM, memberId); // creates the database
    const key = `${ROOM}/${memberId}`;
    const smallOrder = `01${'00'.repeat(31)}`;
    const cases: [unknown, RegExp][] = [
      ['garbage', /not a roster record/],
      [{ ...roster, v: 2 }, /unknown roster format version/],
      [{ ...roster, extra: true }, /not a roster record/],
      [{ ...roster, keys: roster.keys.slice(0, 3) }, /number of keys/],
      [{ ...roster, keys: [...roster.keys].reverse(), me: 3 }, /sorted/],
      [{ ...roster, keys: [smallOrder, ...roster.keys.slice(1)].sort(), me: 3 }, /acceptable Ed25519/],
      [{ ...roster, me: 4 }, /outside the roster/],
      [{ ...roster, me: 1 }, /this member/],
      [{ ...roster, room: 'elsewhere' }, /another room/],
      [{ ...roster, fixedAt: 'yesterday' }, /fixing time/],
    ];
    for (const [value, reason] of cases) {
      await plant(factory, ROSTERS_STORE, [{ key, value }]);
      const error = await expectStorageError(s.loadRoster(ROOM, memberId), 'corrupt-roster');
      expect(error.message).toMatch(reason);
      expect(error.message).toContain(`room “${ROOM}”`);
      expect(error.message).toMatch(/Start over in this room/);
      // A damaged roster is not silently replaced either.
      await expectStorageError(s.saveRoster(ROOM, memberId, roster), 'corrupt-roster');
    }
  });

  it('checkRoster copies the keys', () => {
    const { roster, memberId } = makeRoster();
    const checked = checkRoster(roster, ROOM, memberId);
    expect(checked.ok).toBe(true);
    if (checked.ok) expect(checked.roster.keys).not.toBe(roster.keys);
  });
});

describe('write-ahead records', () => {
  it('returns exactly what was appended, bytes intact, in append order', async () => {
    const { records } = runCluster();
    const factory = new IDBFactory();
    const s = store(factory);
    const memberId = toHex(generateKeyPair().publicKey);
    const withoutStable = records.filter((r) => r.kind !== 'stable'); // no compaction in this test
    await s.appendRecords(ROOM, memberId, withoutStable.slice(0, 10));
    await s.appendRecords(ROOM, memberId, withoutStable.slice(10));

    // A new connection, as after a reload.
    const loaded = await store(factory).loadRecords(ROOM, memberId);
    expect(loaded.corrupt).toBe(0);
    expect(loaded.records).toEqual(withoutStable);
    const signed = loaded.records.find((r) => (r as AnyRecord).kind === 'signed') as Extract<WalRecord, { kind: 'signed' }>;
    expect(signed.signed.sig).toBeInstanceOf(Uint8Array);
    expect(signed.signed.sig).toHaveLength(64);
  });

  it('keeps call order across concurrent appends', async () => {
    const { records } = runCluster();
    const s = store();
    const memberId = toHex(generateKeyPair().publicKey);
    const plain = records.filter((r) => r.kind !== 'stable').slice(0, 60);
    // Batches of varying size, all started at once, as effects arrive in a busy tab.
    const batches: WalRecord[][] = [];
    for (let i = 0, size = 1; i < plain.length; i += size, size = (size % 4) + 1) batches.push(plain.slice(i, i + size));
    const settled: number[] = [];
    await Promise.all(batches.map((batch, i) => s.appendRecords(ROOM, memberId, batch).then(() => settled.push(i))));
    expect(settled).toEqual(batches.map((_, i) => i));
    expect((await s.loadRecords(ROOM, memberId)).records).toEqual(plain);
  });

  it('writes with strict durability in one transaction per call', async () => {
    const s = store();
    const memberId = toHex(generateKeyPair().publicKey);
    const { records } = runCluster();
    await s.loadRecords(ROOM, memberId); // open first, so only the append is counted
    const spy = vi.spyOn(IDBDatabase.prototype, 'transaction');
    await s.appendRecords(ROOM, memberId, records.filter((r) => r.kind !== 'stable').slice(0, 5));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]![1]).toBe('readwrite');
    expect(spy.mock.calls[0]![2]).toEqual({ durability: 'strict' });
  });

  it('keeps members and rooms apart', async () => {
    const s = store();
    const { records } = runCluster();
    const [a, b] = [toHex(generateKeyPair().publicKey), toHex(generateKeyPair().publicKey)];
    await Promise.all([
      s.appendRecords(ROOM, a, [records[0]!]),
      s.appendRecords(ROOM, b, [records[1]!]),
      s.appendRecords('room-2', a, [records[2]!]),
    ]);
    expect((await s.loadRecords(ROOM, a)).records).toEqual([records[0]]);
    expect((await s.loadRecords(ROOM, b)).records).toEqual([records[1]]);
    expect((await s.loadRecords('room-2', a)).records).toEqual([records[2]]);
  });

  it('counts and leaves out entries with a broken wrapper', async () => {
    const factory = new IDBFactory();
    const s = store(factory);
    const { records } = runCluster();
    const memberId = toHex(generateKeyPair().publicKey);
    const owner = `${ROOM}/${memberId}`;
    await s.appendRecords(ROOM, memberId, [records[0]!]);
    await plant(factory, WAL_STORE, [
      { value: { owner, junk: 1 } },
      { value: { owner, record: 5 } },
      { value: { owner, record: null } },
      { value: { owner, record: records[1], extra: 'x' } },
      { value: { owner: `${ROOM}/${'ab'.repeat(32)}`, record: records[2] } }, // someone else's
    ]);
    await s.appendRecords(ROOM, memberId, [records[3]!]);
    // A wrapper that is fine around a record that is not is the replica's business.
    await plant(factory, WAL_STORE, [{ value: { owner, record: { v: 99, kind: 'nonsense' } } }]);

    const loaded = await s.loadRecords(ROOM, memberId);
    expect(loaded.corrupt).toBe(4);
    expect(loaded.records).toEqual([records[0], records[3], { v: 99, kind: 'nonsense' }]);
  });

  it('reports a failed write, rolls the whole batch back and goes on working', async () => {
    const s = store();
    const { records } = runCluster();
    const memberId = toHex(generateKeyPair().publicKey);
    const uncloneable = { ...records[1]!, hook: () => 1 } as unknown as WalRecord;
    const error = await expectStorageError(s.appendRecords(ROOM, memberId, [records[0]!, uncloneable]), 'write-failed');
    expect(error.message).toMatch(/Could not save 2 write-ahead records for room “lunch-room”/);
    expect(error.message).toMatch(/Nothing that depends on it was sent/);
    await s.appendRecords(ROOM, memberId, [records[2]!]);
    expect((await s.loadRecords(ROOM, memberId)).records).toEqual([records[2]]);
  });

  it('rejects input that is not a list of records of this version', async () => {
    const s = store();
    const memberId = toHex(generateKeyPair().publicKey);
    await expect(s.appendRecords(ROOM, memberId, [{ v: WAL_VERSION + 1 } as unknown as WalRecord])).rejects.toThrow(TypeError);
    await expect(s.appendRecords(ROOM, memberId, [])).resolves.toBeUndefined();
  });
});

describe('compaction', () => {
  it('keeps what it must, drops what the stable record supersedes, and the replica restores from it', async () => {
    const { c, member, records } = runCluster();
    const stables = records.filter((r) => r.kind === 'stable').map((r) => r.seq);
    expect(stables).toEqual([8, 16, 24]);
    const kinds = new Set(records.map(kindOf));
    for (const k of ['signed/request', 'signed/view-change', 'signed/new-view', 'signed/pre-prepare', 'signed/prepare', 'signed/commit', 'signed/checkpoint', 'prepared', 'committed']) {
      expect(kinds, k).toContain(k);
    }

    const s = store();
    const memberId = toHex(c.roster.keys[member]!);
    // One append per record, none awaited: compaction runs behind each appended stable record.
    const appends = records.map((r) => s.appendRecords(ROOM, memberId, [r]));
    await Promise.all(appends);
    await s.appendRecords(ROOM, memberId, []); // barrier: background compaction is done too

    const automatic = (await s.loadRecords(ROOM, memberId)).records as WalRecord[];
    expect(automatic.filter((r) => r.kind === 'stable').map((r) => r.seq)).toEqual([24]);
    expect(automatic.length).toBeLessThan(records.length / 2);

    const result = await s.compact(ROOM, memberId);
    expect(result.stableSeq).toBe(24);
    const loaded = await s.loadRecords(ROOM, memberId);
    expect(loaded.corrupt).toBe(0);
    const kept = loaded.records as WalRecord[];
    expect(kept).toEqual(survivors(records, 24));
    expect(result.kept).toBe(kept.length);

    // Requests, view-changes and new-views all stay; nothing at or below 24 from a slot does.
    const count = (list: WalRecord[], k: string) => list.filter((r) => kindOf(r) === k).length;
    for (const k of ['signed/request', 'signed/view-change', 'signed/new-view']) expect(count(kept, k), k).toBe(count(records, k));
    for (const r of kept) {
      if (r.kind === 'prepared' || r.kind === 'committed') expect(r.cert.pp.body.seq).toBeGreaterThan(24);
      if (r.kind === 'signed' && 'seq' in r.signed.body) expect(r.signed.body.seq).toBeGreaterThan(24);
    }

    // The replica rebuilt from the compacted log is the member it was, with nothing rejected.
    const before = snap(c, member);
    const report = c.restart(member, { records: loaded.records });
    expect(report.rejected).toEqual([]);
    expect(report.amnesia).toBe(false);
    const after = snap(c, member);
    expect(after.executedSeq).toBe(before.executedSeq);
    expect(after.stable).toBe(before.stable);
    expect(after.view).toBe(before.view);
    expect(after.lastCounter).toEqual(before.lastCounter);
    expect(Buffer.from(after.lunchBytes).equals(Buffer.from(before.lunchBytes))).toBe(true);
  });

  it('compacts against a given stable seq only, and does nothing without a stored stable record', async () => {
    const { records } = runCluster();
    const s = store();
    const memberId = toHex(generateKeyPair().publicKey);
    const upTo16 = records.slice(0, records.findIndex((r) => r.kind === 'stable' && r.seq === 16));
    const plain = upTo16.filter((r) => r.kind !== 'stable');
    await s.appendRecords(ROOM, memberId, plain);
    expect(await s.compact(ROOM, memberId)).toEqual({ stableSeq: null, removed: 0, kept: plain.length });

    const stable8 = records.find((r) => r.kind === 'stable' && r.seq === 8)!;
    const stable16 = records.find((r) => r.kind === 'stable' && r.seq === 16)!;
    expect((await s.compact(ROOM, memberId, 8)).stableSeq).toBeNull(); // not stored yet
    await s.appendRecords(ROOM, memberId, [stable8, stable16]); // compacts against 16 in the background
    await s.appendRecords(ROOM, memberId, []);
    expect((await s.loadRecords(ROOM, memberId)).records).toEqual(survivors([...plain, stable8, stable16], 16));
  });

  it('never deletes entries it cannot read, and keeps a newer stable record than the one given', async () => {
    const factory = new IDBFactory();
    const s = store(factory);
    const { records } = runCluster();
    const memberId = toHex(generateKeyPair().publicKey);
    const owner = `${ROOM}/${memberId}`;
    const stable8 = records.find((r) => r.kind === 'stable' && r.seq === 8)!;
    const stable16 = records.find((r) => r.kind === 'stable' && r.seq === 16)!;
    const lowCommit = records.find((r) => r.kind === 'committed' && r.cert.pp.body.seq <= 8)!;
    const midCommit = records.find((r) => r.kind === 'committed' && r.cert.pp.body.seq > 8 && r.cert.pp.body.seq <= 16)!;
    await s.appendRecords(ROOM, memberId, [lowCommit, midCommit]);
    await plant(factory, WAL_STORE, [
      { value: { owner, junk: true } },
      { value: { owner, record: { ...lowCommit, v: WAL_VERSION + 1 } } }, // not this version: left for the replica to reject
    ]);
    const lowPrepared = records.find((r) => r.kind === 'prepared' && r.cert.pp.body.seq <= 8)!;
    await plant(factory, WAL_STORE, [{ value: { owner, record: stable16 } }, { value: { owner, record: lowPrepared } }]);
    await s.appendRecords(ROOM, memberId, [stable8]); // background compaction against 8 only
    await s.appendRecords(ROOM, memberId, []);

    const loaded = await s.loadRecords(ROOM, memberId);
    expect(loaded.corrupt).toBe(1);
    expect(loaded.records).toEqual([midCommit, { ...lowCommit, v: WAL_VERSION + 1 }, stable16, stable8]);
  });

  it('reports a failed background compaction without failing the append', async () => {
    const { records } = runCluster();
    const errors: StorageError[] = [];
    const s = store(new IDBFactory(), { onBackgroundError: (e) => errors.push(e) });
    const memberId = toHex(generateKeyPair().publicKey);
    const stable8 = records.find((r) => r.kind === 'stable' && r.seq === 8)!;
    await s.loadRecords(ROOM, memberId);
    const original = IDBDatabase.prototype.transaction;
    let calls = 0;
    vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (this: IDBDatabase, ...args) {
      if (++calls === 2) throw new DOMException('disk on fire', 'UnknownError');
      return original.apply(this, args as Parameters<typeof original>);
    });
    await s.appendRecords(ROOM, memberId, [stable8]);
    await s.appendRecords(ROOM, memberId, []);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('write-failed');
    expect(errors[0]!.message).toContain('disk on fire');
    expect((await s.loadRecords(ROOM, memberId)).records).toEqual([stable8]);
  });
});

describe('wipe', () => {
  it('deletes this member’s roster and records in the room, and nothing else', async () => {
    const s = store();
    const { records } = runCluster();
    const mine = makeRoster(4, 0);
    const other = toHex(generateKeyPair().publicKey);
    await s.saveRoster(ROOM, mine.memberId, mine.roster);
    await s.appendRecords(ROOM, mine.memberId, records.slice(0, 3));
    await s.appendRecords(ROOM, other, records.slice(3, 5));
    await s.appendRecords('room-2', mine.memberId, records.slice(5, 6));

    await s.wipe(ROOM, mine.memberId);
    expect(await s.loadRoster(ROOM, mine.memberId)).toBeNull();
    expect(await s.loadRecords(ROOM, mine.memberId)).toEqual({ records: [], corrupt: 0 });
    expect((await s.loadRecords(ROOM, other)).records).toEqual(records.slice(3, 5));
    expect((await s.loadRecords('room-2', mine.memberId)).records).toEqual(records.slice(5, 6));

    // Starting over: a roster can be fixed again.
    await s.saveRoster(ROOM, mine.memberId, { ...mine.roster, fingerprint: 'new0 new0 new0 new0' });
    expect((await s.loadRoster(ROOM, mine.memberId))?.fingerprint).toBe('new0 new0 new0 new0');
    await s.wipe(ROOM, toHex(generateKeyPair().publicKey)); // nothing stored: harmless
  });
});

describe('IndexedDB failures', () => {
  const memberId = 'cd'.repeat(32);

  it('reports IndexedDB refused by the browser with its message', async () => {
    const throwing = {
      open() {
        throw new DOMException('Access denied', 'InvalidStateError');
      },
    } as unknown as IDBFactory;
    const error = await expectStorageError(store(throwing).loadRoster(ROOM, memberId), 'indexeddb-unavailable');
    expect(error.message).toContain('Access denied');
    expect(error.message).toMatch(/private/i);

    const refusing = {
      open() {
        const request = new EventTarget() as EventTarget & { error: DOMException | null };
        request.error = new DOMException('The operation is insecure.', 'SecurityError');
        queueMicrotask(() => request.dispatchEvent(new Event('error')));
        return request;
      },
    } as unknown as IDBFactory;
    const s = store(refusing);
    const again = await expectStorageError(s.appendRecords(ROOM, memberId, []).then(() => s.loadRecords(ROOM, memberId)), 'indexeddb-unavailable');
    expect(again.message).toContain('The operation is insecure.');
  });

  it('tries to open again after a failure', async () => {
    const factory = new IDBFactory();
    let fail = true;
    const flaky = {
      open(name: string, version?: number) {
        if (fail) {
          fail = false;
          throw new DOMException('busy', 'UnknownError');
        }
        return factory.open(name, version);
      },
    } as unknown as IDBFactory;
    const s = store(flaky);
    await expectStorageError(s.loadRoster(ROOM, memberId), 'indexeddb-unavailable');
    expect(await s.loadRoster(ROOM, memberId)).toBeNull();
  });

  it('reports a database from a newer version of the app', async () => {
    const factory = new IDBFactory();
    await new Promise<void>((resolve) => {
      const request = factory.open(ROOMS_DB_NAME, 2);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(ROSTERS_STORE);
        request.result.createObjectStore(WAL_STORE, { autoIncrement: true }).createIndex(OWNER_INDEX, 'owner');
      };
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
    });
    const error = await expectStorageError(store(factory).loadRecords(ROOM, memberId), 'indexeddb-unavailable');
    expect(error.message).toMatch(/newer version/);
  });

  it('reports a wal store with the wrong layout', async () => {
    const factory = new IDBFactory();
    await new Promise<void>((resolve) => {
      const request = factory.open(ROOMS_DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(ROSTERS_STORE);
        request.result.createObjectStore(WAL_STORE, { keyPath: 'id' });
      };
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
    });
    const error = await expectStorageError(store(factory).loadRecords(ROOM, memberId), 'indexeddb-unavailable');
    expect(error.message).toMatch(/“wal” store has the wrong layout/);
  });

  it('does not touch the identities database', async () => {
    const factory = new IDBFactory();
    const { roster, memberId: me } = makeRoster();
    await store(factory).saveRoster(ROOM, me, roster);
    const names = (await factory.databases()).map((d) => d.name);
    expect(names).toEqual([ROOMS_DB_NAME]);
  });
});
