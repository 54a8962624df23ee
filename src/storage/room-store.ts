// Per-room storage of a member: the roster it fixed for the room and its write-ahead records.
//
// This lives in its own IndexedDB database (`byzantine-lunch-rooms`) so the identities database is
// never touched by a room. Every value read back is treated as untrusted: a roster is validated in
// full (a member that cannot trust its roster must not rejoin silently), and write-ahead records
// are returned raw for the replica to validate with its own schema (see `Replica.restore`).
//
// Durability contract (protocol.md, "Durability"): `appendRecords` writes in one transaction with
// `durability: 'strict'` and resolves only after the transaction completed, so the caller may send
// what the records cover once it resolves, and a record whose write failed was never sent.
// A browser that does not know the hint ignores it (an unknown member of an options dictionary)
// and commits with its default durability: the record then survives a crashed or reloaded tab,
// which is what the contract is for, though perhaps not a power cut right after the commit.
//
// Deciding that records were lost is the caller's job: a stored roster with no (or corrupt)
// records means the member must restore with `lost: true`.
import { wrap } from 'idb';
import type { DBSchema, IDBPDatabase } from 'idb';
import * as v from 'valibot';
import { fromHex, isAcceptablePublicKey } from '../crypto/ed25519.ts';
import { WAL_VERSION, WalRecord, obsoleteAtOrBelow } from '../core/wal.ts';
import { errorMessage, isNamedError, openIndexedDB } from './idb-open.ts';

export const ROOMS_DB_NAME = 'byzantine-lunch-rooms';
export const ROOMS_DB_VERSION = 1;
export const ROSTERS_STORE = 'rosters';
export const WAL_STORE = 'wal';
export const OWNER_INDEX = 'owner';

/** Same bounds as a room in a signed message (see core/messages.ts). */
export const ROOM_MAX_LENGTH = 64;
/** Members are numbered 0..255 in messages. */
export const MAX_MEMBERS = 256;

// ---------------------------------------------------------------------------------------------
// Errors

export type StorageErrorCode = 'indexeddb-unavailable' | 'corrupt-roster' | 'roster-conflict' | 'write-failed';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

function unavailableError(error: unknown): StorageError {
  return new StorageError(
    'indexeddb-unavailable',
    'IndexedDB was refused by the browser, so this tab cannot keep its place in a room across reloads. ' +
      'Private browsing or disabled site storage can cause this; allow site data or use a normal window. ' +
      `The browser said: ${errorMessage(error)}`,
    { cause: error },
  );
}

function damagedDatabaseError(detail: string, cause?: unknown): StorageError {
  return new StorageError(
    'indexeddb-unavailable',
    `The Byzantine Lunch room database in this browser is damaged or from an incompatible version (${detail}). ` +
      'Reload to get the newest version of the app; if that does not help, clear this site’s data ' +
      '(site settings → clear data), which deletes every stored identity and room.',
    cause === undefined ? undefined : { cause },
  );
}

function readFailed(what: string, room: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  return new StorageError(
    'indexeddb-unavailable',
    `Could not read ${what} for room “${room}” from this browser’s storage (${errorMessage(error)}). Reload the page to try again.`,
    { cause: error },
  );
}

function writeFailed(what: string, room: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const full = isNamedError(error, 'QuotaExceededError')
    ? ' The browser says its storage for this site is full: free disk space or clear other site data, then reload.'
    : ' Reload the page to try again.';
  return new StorageError(
    'write-failed',
    `Could not save ${what} for room “${room}” (${errorMessage(error)}). Nothing that depends on it was sent.${full}`,
    { cause: error },
  );
}

// ---------------------------------------------------------------------------------------------
// Rosters

const HEX_KEY = /^[0-9a-f]{64}$/;

/** A member's id: the lowercase hex of its public key. */
function checkMemberId(memberId: unknown): asserts memberId is string {
  if (typeof memberId !== 'string' || !HEX_KEY.test(memberId)) {
    throw new TypeError('A member id must be the 64 lowercase hexadecimal digits of its public key.');
  }
}

function checkRoom(room: unknown): asserts room is string {
  if (typeof room !== 'string' || room.length < 1 || room.length > ROOM_MAX_LENGTH) {
    throw new TypeError(`A room id must be text of 1–${ROOM_MAX_LENGTH} characters.`);
  }
}

function ownerKey(room: string, memberId: string): string {
  checkRoom(room);
  checkMemberId(memberId);
  // Unambiguous: the member id is the hex after the last '/'.
  return `${room}/${memberId}`;
}

function strictlyAscending(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) return false;
  return true;
}

function acceptableHexKey(key: string): boolean {
  try {
    return isAcceptablePublicKey(fromHex(key));
  } catch {
    return false;
  }
}

/** The stored shape of a roster, checked on its own (without knowing whose or which room it is). */
export const RoomRosterSchema = v.pipe(
  v.strictObject(
    {
      v: v.literal(1, 'unknown roster format version'),
      room: v.pipe(
        v.string('room is not text'),
        v.minLength(1, 'room is empty'),
        v.maxLength(ROOM_MAX_LENGTH, `room is longer than ${ROOM_MAX_LENGTH} characters`),
      ),
      n: v.pipe(
        v.number('size n is not a number'),
        v.safeInteger('size n is not a whole number'),
        v.minValue(1, 'size n is below 1'),
        v.maxValue(MAX_MEMBERS, `size n is above ${MAX_MEMBERS}`),
      ),
      keys: v.array(v.pipe(v.string('a key is not text'), v.regex(HEX_KEY, 'a key is not 64 lowercase hex digits')), 'keys is not a list'),
      fingerprint: v.pipe(v.string('fingerprint is not text'), v.minLength(1, 'fingerprint is empty'), v.maxLength(200, 'fingerprint is too long')),
      me: v.pipe(v.number('own index is not a number'), v.safeInteger('own index is not a whole number'), v.minValue(0, 'own index is negative')),
      fixedAt: v.pipe(v.number('fixing time is not a number'), v.finite('fixing time is not finite')),
    },
    'not a roster record (unexpected shape)',
  ),
  v.check((r) => r.keys.length === r.n, 'the number of keys differs from its size n'),
  v.check((r) => r.me < r.n, 'own index is outside the roster'),
  v.check((r) => strictlyAscending(r.keys), 'keys are not sorted ascending without repeats'),
  v.check((r) => r.keys.every(acceptableHexKey), 'a key is not an acceptable Ed25519 public key'),
);

export type RoomRoster = v.InferOutput<typeof RoomRosterSchema>;

export type RosterCheck = { ok: true; roster: RoomRoster } | { ok: false; reason: string };

/** Validates a roster for `room` as seen by `memberId` (its own key must be `keys[me]`). */
export function checkRoster(value: unknown, room: string, memberId: string): RosterCheck {
  let result;
  try {
    result = v.safeParse(RoomRosterSchema, value, { abortEarly: true });
  } catch (error) {
    return { ok: false, reason: `not a roster record (${errorMessage(error)})` };
  }
  if (!result.success) return { ok: false, reason: result.issues[0]?.message ?? 'not a roster record' };
  const r = result.output;
  if (r.room !== room) return { ok: false, reason: 'it belongs to another room' };
  if (r.keys[r.me] !== memberId) return { ok: false, reason: 'its own index does not point at this member’s key' };
  return {
    ok: true,
    roster: { v: 1, room: r.room, n: r.n, keys: [...r.keys], fingerprint: r.fingerprint, me: r.me, fixedAt: r.fixedAt },
  };
}

/** Two rosters are the same when everything but the time they were fixed agrees. */
function sameRoster(a: RoomRoster, b: RoomRoster): boolean {
  return (
    a.room === b.room &&
    a.n === b.n &&
    a.me === b.me &&
    a.fingerprint === b.fingerprint &&
    a.keys.length === b.keys.length &&
    a.keys.every((k, i) => k === b.keys[i])
  );
}

function corruptRosterError(room: string, reason: string): StorageError {
  return new StorageError(
    'corrupt-roster',
    `The roster this browser stored for room “${room}” is damaged (${reason}), so this tab cannot tell which ` +
      'members it agreed to. Start over in this room (this deletes what this member stored for it), or join a new room.',
  );
}

// ---------------------------------------------------------------------------------------------
// Write-ahead entries

/** One stored write-ahead record. */
export interface WalEntry {
  owner: string;
  record: unknown;
}

function isWalEntry(value: unknown, owner: string): value is WalEntry {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 2 || !keys.includes('owner') || !keys.includes('record')) return false;
  const entry = value as { owner: unknown; record: unknown };
  return entry.owner === owner && !!entry.record && typeof entry.record === 'object';
}

/** What a stable record at `stable` makes redundant: slot records at or below it, and older stables. */
export interface CompactResult {
  /** Sequence number of the stable record compacted against, or null when none was stored. */
  readonly stableSeq: number | null;
  readonly removed: number;
  readonly kept: number;
}

// ---------------------------------------------------------------------------------------------
// Database

interface RoomsDB extends DBSchema {
  rosters: { key: string; value: unknown };
  wal: { key: number; value: unknown; indexes: { owner: string } };
}

type DB = IDBPDatabase<RoomsDB>;

async function openRoomsDatabase(factory: IDBFactory): Promise<IDBDatabase> {
  const raw = await openIndexedDB(factory, ROOMS_DB_NAME, ROOMS_DB_VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        if (!db.objectStoreNames.contains(ROSTERS_STORE)) db.createObjectStore(ROSTERS_STORE);
        if (!db.objectStoreNames.contains(WAL_STORE)) {
          const wal = db.createObjectStore(WAL_STORE, { autoIncrement: true });
          wal.createIndex(OWNER_INDEX, 'owner', { unique: false });
        }
      }
    },
    unavailable: unavailableError,
    tooNew: (error) => damagedDatabaseError('it was written by a newer version of the app', error),
    fallbackMessage: 'opening the room database failed',
  });

  try {
    if (raw.version !== ROOMS_DB_VERSION) throw damagedDatabaseError(`version ${raw.version} instead of ${ROOMS_DB_VERSION}`);
    for (const name of [ROSTERS_STORE, WAL_STORE]) {
      if (!raw.objectStoreNames.contains(name)) throw damagedDatabaseError(`the “${name}” store is missing`);
    }
    const tx = raw.transaction([ROSTERS_STORE, WAL_STORE], 'readonly');
    const rosters = tx.objectStore(ROSTERS_STORE);
    const wal = tx.objectStore(WAL_STORE);
    if (rosters.keyPath !== null || rosters.autoIncrement) throw damagedDatabaseError(`the “${ROSTERS_STORE}” store has the wrong layout`);
    if (wal.keyPath !== null || !wal.autoIncrement || !wal.indexNames.contains(OWNER_INDEX)) {
      throw damagedDatabaseError(`the “${WAL_STORE}” store has the wrong layout`);
    }
    if (wal.index(OWNER_INDEX).keyPath !== 'owner') throw damagedDatabaseError(`the “${OWNER_INDEX}” index has the wrong layout`);
  } catch (error) {
    raw.close();
    throw error instanceof StorageError ? error : damagedDatabaseError(errorMessage(error), error);
  }
  return raw;
}

// ---------------------------------------------------------------------------------------------
// The store

export interface RoomStore {
  /** The roster this member fixed for the room, validated; null when none is stored. */
  loadRoster(room: string, memberId: string): Promise<RoomRoster | null>;
  /** Fixes the roster once. The same roster again is a no-op; a different one is refused. */
  saveRoster(room: string, memberId: string, roster: RoomRoster): Promise<void>;
  /**
   * Makes records durable, in one strict transaction; resolves once it completed. Calls for one
   * member land in call order. Appending a `stable` record compacts the log afterwards.
   */
  appendRecords(room: string, memberId: string, records: readonly WalRecord[]): Promise<void>;
  /** The stored records in append order, raw; entries with a broken wrapper are counted and left out. */
  loadRecords(room: string, memberId: string): Promise<{ records: unknown[]; corrupt: number }>;
  /**
   * Deletes what the newest stored stable record supersedes. With `stableSeq`, compacts against
   * the stored stable record at that seq only (no-op when it is not stored).
   */
  compact(room: string, memberId: string, stableSeq?: number): Promise<CompactResult>;
  /** Deletes the roster and every record of this member in this room. */
  wipe(room: string, memberId: string): Promise<void>;
  /** Waits for pending work and closes the database connection (the next call reopens it). */
  close(): Promise<void>;
}

export interface RoomStoreOptions {
  /** Called when compaction in the background fails (the log then just stays longer). */
  onBackgroundError?(error: StorageError): void;
}

export function createRoomStore(indexedDB: IDBFactory, options: RoomStoreOptions = {}): RoomStore {
  let connection: Promise<DB> | null = null;

  function database(): Promise<DB> {
    if (!connection) {
      const opening = openRoomsDatabase(indexedDB).then((raw) => {
        const forget = () => {
          if (connection === opening) connection = null;
        };
        // Let a future version of the app upgrade the schema instead of being blocked by this tab.
        raw.addEventListener('versionchange', () => {
          forget();
          raw.close();
        });
        raw.addEventListener('close', forget); // closed by the browser (storage cleared, …)
        return wrap(raw) as unknown as DB;
      });
      connection = opening;
      opening.catch(() => {
        if (connection === opening) connection = null; // the next call tries again
      });
    }
    return connection;
  }

  // One queue per member and room: operations on one log happen in call order, one at a time.
  const queues = new Map<string, Promise<void>>();
  function serial<T>(owner: string, task: () => Promise<T>): Promise<T> {
    const previous = queues.get(owner) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    queues.set(owner, tail);
    void tail.then(() => {
      if (queues.get(owner) === tail) queues.delete(owner);
    });
    return result;
  }

  async function loadRosterNow(room: string, memberId: string, owner: string): Promise<RoomRoster | null> {
    let value: unknown;
    try {
      const db = await database();
      value = await db.get(ROSTERS_STORE, owner);
    } catch (error) {
      throw readFailed('the roster', room, error);
    }
    if (value === undefined) return null;
    const checked = checkRoster(value, room, memberId);
    if (!checked.ok) throw corruptRosterError(room, checked.reason);
    return checked.roster;
  }

  async function saveRosterNow(room: string, memberId: string, owner: string, roster: RoomRoster): Promise<void> {
    let tx: { abort(): void } | null = null;
    try {
      const db = await database();
      const t = db.transaction(ROSTERS_STORE, 'readwrite', { durability: 'strict' });
      tx = t;
      const done = t.done;
      done.catch(() => undefined); // awaited below, or abandoned after an abort
      const existing = await t.store.get(owner);
      if (existing !== undefined) {
        const stored = checkRoster(existing, room, memberId);
        if (!stored.ok) throw corruptRosterError(room, stored.reason);
        if (!sameRoster(stored.roster, roster)) throw rosterConflictError(room, stored.roster, roster);
        await done; // the same roster again: nothing to do
        return;
      }
      await t.store.put({ ...roster, keys: [...roster.keys] }, owner);
      await done;
    } catch (error) {
      if (tx) abortQuietly(tx);
      throw writeFailed('the roster', room, error);
    }
  }

  async function appendNow(room: string, owner: string, records: readonly WalRecord[]): Promise<void> {
    const pending: Promise<unknown>[] = [];
    let tx: { abort(): void } | null = null;
    try {
      const db = await database();
      const t = db.transaction(WAL_STORE, 'readwrite', { durability: 'strict' });
      tx = t;
      pending.push(t.done);
      for (const record of records) pending.push(t.store.add({ owner, record }));
      await Promise.all(pending);
    } catch (error) {
      for (const p of pending) p.catch(() => undefined);
      if (tx) abortQuietly(tx);
      throw writeFailed(records.length === 1 ? 'a write-ahead record' : `${records.length} write-ahead records`, room, error);
    }
  }

  async function loadRecordsNow(room: string, owner: string): Promise<{ records: unknown[]; corrupt: number }> {
    let values: unknown[];
    try {
      const db = await database();
      values = (await db.getAllFromIndex(WAL_STORE, OWNER_INDEX, owner)) as unknown[];
    } catch (error) {
      throw readFailed('the write-ahead records', room, error);
    }
    const records: unknown[] = [];
    let corrupt = 0;
    for (const value of values) {
      if (isWalEntry(value, owner)) records.push(value.record);
      else corrupt++;
    }
    return { records, corrupt };
  }

  async function compactNow(room: string, owner: string, stableSeq: number | undefined): Promise<CompactResult> {
    const pending: Promise<unknown>[] = [];
    let tx: { abort(): void } | null = null;
    try {
      const db = await database();
      const t = db.transaction(WAL_STORE, 'readwrite', { durability: 'strict' });
      tx = t;
      pending.push(t.done);
      const index = t.store.index(OWNER_INDEX);
      const [keys, values] = await Promise.all([index.getAllKeys(owner), index.getAll(owner) as Promise<unknown[]>]);

      // Only records that are well formed take part: anything unreadable stays, so the replica
      // still sees it and knows its log is damaged.
      const parsed: (WalRecord | null)[] = values.map((value) => {
        if (!isWalEntry(value, owner)) return null;
        const result = v.safeParse(WalRecord, value.record);
        return result.success ? result.output : null;
      });
      let anchor = -1; // position of the stable record kept
      for (const [i, record] of parsed.entries()) {
        if (record?.kind !== 'stable') continue;
        if (stableSeq !== undefined && record.seq !== stableSeq) continue;
        const best = parsed[anchor];
        if (anchor < 0 || (best?.kind === 'stable' && record.seq >= best.seq)) anchor = i;
      }
      const anchorRecord = parsed[anchor];
      if (anchorRecord?.kind !== 'stable') {
        await Promise.all(pending);
        return { stableSeq: null, removed: 0, kept: values.length };
      }
      const seq = anchorRecord.seq;
      // Of the NEW-VIEWs this member followed only the latest matters.
      let newestView = -1;
      for (const [i, record] of parsed.entries()) {
        const best = parsed[newestView];
        if (record?.kind === 'view' && (best?.kind !== 'view' || record.nv.body.view >= best.nv.body.view)) newestView = i;
      }
      const doomed: number[] = [];
      for (const [i, record] of parsed.entries()) {
        if (!record || i === anchor) continue;
        const superseded = record.kind === 'view' ? i !== newestView : (obsoleteAtOrBelow(record) ?? Infinity) <= seq;
        if (superseded) doomed.push(keys[i]!);
      }
      for (const key of doomed) pending.push(t.store.delete(key));
      await Promise.all(pending);
      return { stableSeq: seq, removed: doomed.length, kept: values.length - doomed.length };
    } catch (error) {
      for (const p of pending) p.catch(() => undefined);
      if (tx) abortQuietly(tx);
      throw writeFailed('the compacted write-ahead log', room, error);
    }
  }

  async function wipeNow(room: string, owner: string): Promise<void> {
    const pending: Promise<unknown>[] = [];
    let tx: { abort(): void } | null = null;
    try {
      const db = await database();
      const t = db.transaction([ROSTERS_STORE, WAL_STORE], 'readwrite', { durability: 'strict' });
      tx = t;
      pending.push(t.done);
      pending.push(t.objectStore(ROSTERS_STORE).delete(owner));
      const wal = t.objectStore(WAL_STORE);
      for (const key of await wal.index(OWNER_INDEX).getAllKeys(owner)) pending.push(wal.delete(key));
      await Promise.all(pending);
    } catch (error) {
      for (const p of pending) p.catch(() => undefined);
      if (tx) abortQuietly(tx);
      throw writeFailed('the deletion of this member’s data', room, error);
    }
  }

  return {
    async loadRoster(room, memberId) {
      const owner = ownerKey(room, memberId);
      return serial(owner, () => loadRosterNow(room, memberId, owner));
    },

    async saveRoster(room, memberId, roster) {
      const owner = ownerKey(room, memberId);
      const checked = checkRoster(roster, room, memberId);
      if (!checked.ok) throw new TypeError(`Refusing to save an invalid roster for room “${room}”: ${checked.reason}.`);
      return serial(owner, () => saveRosterNow(room, memberId, owner, checked.roster));
    },

    async appendRecords(room, memberId, records) {
      const owner = ownerKey(room, memberId);
      if (!Array.isArray(records) || records.some((r) => !r || typeof r !== 'object' || r.v !== WAL_VERSION)) {
        throw new TypeError('appendRecords takes a list of write-ahead records of this version.');
      }
      // No await comes before the calls to `serial`: they happen synchronously at call time, so
      // concurrent calls are queued, and land, in call order.
      const batch = [...records];
      if (batch.length === 0) return serial(owner, async () => undefined); // a barrier: earlier appends are done
      const appended = serial(owner, () => appendNow(room, owner, batch));
      let newestStable: number | null = null;
      for (const r of batch) if (r.kind === 'stable' && (newestStable === null || r.seq > newestStable)) newestStable = r.seq;
      if (newestStable !== null) {
        const seq = newestStable;
        // Queued behind the append (so before any later one), but the caller does not wait for it.
        serial(owner, () =>
          appended.then(
            () => compactNow(room, owner, seq),
            () => null, // nothing was written, so nothing to compact
          ),
        ).catch((error: unknown) => {
          options.onBackgroundError?.(error instanceof StorageError ? error : writeFailed('the compacted write-ahead log', room, error));
        });
      }
      return appended;
    },

    async loadRecords(room, memberId) {
      const owner = ownerKey(room, memberId);
      return serial(owner, () => loadRecordsNow(room, owner));
    },

    async compact(room, memberId, stableSeq) {
      const owner = ownerKey(room, memberId);
      if (stableSeq !== undefined && !(Number.isSafeInteger(stableSeq) && stableSeq >= 0)) {
        throw new TypeError('stableSeq must be a non-negative whole number.');
      }
      return serial(owner, () => compactNow(room, owner, stableSeq));
    },

    async wipe(room, memberId) {
      const owner = ownerKey(room, memberId);
      return serial(owner, () => wipeNow(room, owner));
    },

    async close() {
      await Promise.all([...queues.values()]);
      const open = connection;
      connection = null;
      if (open) {
        try {
          (await open).close();
        } catch {
          // never opened: nothing to close
        }
      }
    },
  };
}

function rosterConflictError(room: string, stored: RoomRoster, offered: RoomRoster): StorageError {
  const when = Number.isFinite(stored.fixedAt) ? ` on ${new Date(stored.fixedAt).toISOString()}` : '';
  return new StorageError(
    'roster-conflict',
    `This member already fixed a different roster for room “${room}”${when} (fingerprint ${stored.fingerprint}, ` +
      `${stored.n} members); a roster is fixed once and never changes, so the new one (fingerprint ${offered.fingerprint}, ` +
      `${offered.n} members) was refused. If the group really started again, use a new room.`,
  );
}

function abortQuietly(tx: { abort(): void }): void {
  try {
    tx.abort();
  } catch {
    // already finished or aborted
  }
}
