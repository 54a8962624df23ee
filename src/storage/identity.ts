// Each browser tab is one BFT replica with its own Ed25519 identity.
//
// Keypairs live in IndexedDB, which every tab of a browser profile shares. A tab *claims* one
// identity by holding a Web Lock named after it for as long as the page lives, and remembers the
// claimed id in sessionStorage so that a reload gets the same member back:
//
//   - four tabs            → four locks → four distinct members;
//   - a reload             → the lock was released on unload; the remembered id is re-claimed;
//   - a closed tab         → its lock is gone, so the next new tab takes that identity;
//   - a duplicated tab     → inherits the remembered id, finds its lock held by the original tab
//                            (we only ever ask with `ifAvailable`, never wait and never `steal`),
//                            and takes another free identity or creates a new one.
//
// Everything read back from IndexedDB is validated: storage is a trust boundary (other code,
// extensions, devtools or a half-written record can put anything there). Invalid records are
// never used; they are reported so the UI can offer to delete them.
import { wrap } from 'idb';
import type { DBSchema, IDBPDatabase } from 'idb';
import * as v from 'valibot';
import {
  KEY_BYTES,
  equalBytes,
  fingerprint,
  generateKeyPair,
  isAcceptablePublicKey,
  publicKeyOf,
  toHex,
} from '../crypto/ed25519.ts';
import { errorMessage, openIndexedDB } from './idb-open.ts';

export const DB_NAME = 'byzantine-lunch';
export const DB_VERSION = 1;
export const STORE = 'identities';
/** sessionStorage key holding the id this tab claimed last. */
export const SESSION_KEY = 'byzantine-lunch.identity';
export const LOCK_PREFIX = 'byzantine-lunch.identity.';

export const NAME_MAX_LENGTH = 32;
export const CAST: readonly string[] = [
  'James',
  'Bryan',
  'Rich',
  'Chris',
  'Ana',
  'Miguel',
  'Priya',
  'Wei',
  'Fatima',
  'Noor',
  'Tomas',
  'Lena',
];

// ---------------------------------------------------------------------------------------------
// Errors

export type IdentityErrorCode =
  | 'indexeddb-unavailable'
  | 'indexeddb-corrupt'
  | 'locks-unavailable'
  | 'invalid-name'
  | 'identity-missing'
  | 'identity-released';

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  readonly code: IdentityErrorCode;

  constructor(code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Environment (injected so that the module is testable in Node)

/** The part of a granted Web Lock that we look at. */
export interface LockLike {
  readonly name: string;
}

/** The subset of `LockManager` used here: only non-waiting exclusive requests. */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { ifAvailable: true; mode: 'exclusive' },
    callback: (lock: LockLike | null) => T,
  ): Promise<Awaited<T>>;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface IdentityEnv {
  indexedDB: IDBFactory;
  locks: LockManagerLike;
  session: StorageLike;
  now(): number;
}

const SECURE_CONTEXT_HINT =
  'Byzantine Lunch needs a current Chrome, Edge, Firefox or Safari served over http://localhost or https';

/** The real browser environment. Throws an actionable `IdentityError` when a piece is missing. */
export function browserIdentityEnv(): IdentityEnv {
  const g = globalThis as Partial<typeof globalThis>;
  let factory: IDBFactory | undefined;
  try {
    factory = g.indexedDB ?? undefined;
  } catch (error) {
    // Some browsers throw a SecurityError on mere access when storage is disabled.
    throw new IdentityError(
      'indexeddb-unavailable',
      `IndexedDB was refused by the browser (private browsing or disabled site storage can do this): ${errorMessage(error)}. ` +
        'Allow site data for this page, or use a normal window.',
      { cause: error },
    );
  }
  if (!factory) {
    throw new IdentityError(
      'indexeddb-unavailable',
      `This browser does not offer IndexedDB; ${SECURE_CONTEXT_HINT}.`,
    );
  }
  const locks = g.navigator?.locks;
  // No fallback on purpose: without a lock two tabs could claim one key, and the member would
  // then sign conflicting messages and be proven faulty through no fault of the person.
  if (!locks || typeof locks.request !== 'function') {
    throw new IdentityError(
      'locks-unavailable',
      `This browser does not offer Web Locks; ${SECURE_CONTEXT_HINT}.`,
    );
  }
  return {
    indexedDB: factory,
    locks,
    session: browserSessionStorage(),
    now: () => Date.now(),
  };
}

/**
 * `window.sessionStorage`, or an in-memory stand-in when the browser refuses it (then a reload
 * cannot keep its member, but the tab still works).
 */
function browserSessionStorage(): StorageLike {
  try {
    const storage = globalThis.sessionStorage;
    if (storage) return storage;
  } catch {
    // fall through
  }
  const memory = new Map<string, string>();
  return {
    getItem: (key) => memory.get(key) ?? null,
    setItem: (key, value) => void memory.set(key, value),
  };
}

// ---------------------------------------------------------------------------------------------
// Records

const NAME_REASON = `name is not 1–${NAME_MAX_LENGTH} characters`;

function isUint8Array(value: unknown): value is Uint8Array {
  return (
    value instanceof Uint8Array ||
    (ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]')
  );
}

function keyBytes(what: string) {
  return v.pipe(
    v.custom<Uint8Array>(isUint8Array, `${what} is not a byte array`),
    v.length(KEY_BYTES, `${what} is not ${KEY_BYTES} bytes`),
  );
}

/**
 * A stored identity. Validation covers the shape and, because the bytes may have been tampered
 * with, the cryptographic consistency of the keypair.
 */
export const IdentityRecordSchema = v.pipe(
  v.object(
    {
      v: v.literal(1, 'not an identity record (unknown format version)'),
      id: v.string('not an identity record (id is not a string)'),
      secretKey: keyBytes('secret key'),
      publicKey: keyBytes('public key'),
      name: v.pipe(
        v.string('not an identity record (name is not a string)'),
        v.check((name) => validNameLength(name.trim()) && name === name.trim(), NAME_REASON),
      ),
      createdAt: v.pipe(
        v.number('not an identity record (createdAt is not a number)'),
        v.finite('creation time is not a finite number'),
      ),
    },
    'not an identity record',
  ),
  v.check((r) => r.id === toHex(r.publicKey), 'id does not match the public key'),
  v.check((r) => isAcceptablePublicKey(r.publicKey), 'public key is not an acceptable Ed25519 key'),
  v.check((r) => secretMatchesPublic(r.secretKey, r.publicKey), 'secret key does not match the public key'),
);

export type IdentityRecord = v.InferOutput<typeof IdentityRecordSchema>;

function secretMatchesPublic(secretKey: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return equalBytes(publicKeyOf(secretKey), publicKey);
  } catch {
    return false;
  }
}

/** A record in the identities store that cannot be used, or a remembered identity that is gone. */
export interface CorruptRecord {
  /** The record's key (its `id`), as text. Pass it to `deleteIdentityRecord` to remove it. */
  readonly key: string;
  readonly reason: string;
  /** True when this is the identity this tab had claimed before (kept in sessionStorage). */
  readonly remembered: boolean;
}

type Parsed =
  | { ok: true; record: IdentityRecord }
  | { ok: false; reason: string };

/** Validates one value read from IndexedDB. Returns copies of the key bytes. */
export function parseIdentityRecord(value: unknown): Parsed {
  let result;
  try {
    result = v.safeParse(IdentityRecordSchema, value, { abortEarly: true });
  } catch (error) {
    return { ok: false, reason: `not an identity record (${errorMessage(error)})` };
  }
  if (!result.success) {
    return { ok: false, reason: result.issues[0]?.message ?? 'not an identity record' };
  }
  const r = result.output;
  return {
    ok: true,
    record: {
      v: 1,
      id: r.id,
      secretKey: new Uint8Array(r.secretKey),
      publicKey: new Uint8Array(r.publicKey),
      name: r.name,
      createdAt: r.createdAt,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Names

function validNameLength(trimmed: string): boolean {
  const length = [...trimmed].length;
  return length >= 1 && length <= NAME_MAX_LENGTH;
}

/** Trims and checks a display name; throws `IdentityError('invalid-name')` with the rule. */
export function normalizeName(name: unknown): string {
  if (typeof name !== 'string') {
    throw new IdentityError('invalid-name', 'A name must be text.');
  }
  const trimmed = name.trim();
  if (trimmed.length === 0) {
    throw new IdentityError('invalid-name', 'A name cannot be empty.');
  }
  if (!validNameLength(trimmed)) {
    throw new IdentityError(
      'invalid-name',
      `A name can be at most ${NAME_MAX_LENGTH} characters long (this one has ${[...trimmed].length}).`,
    );
  }
  if (/[\u0000-\u001f\u007f-\u009f]/.test(trimmed)) {
    throw new IdentityError('invalid-name', 'A name cannot contain line breaks or control characters.');
  }
  return trimmed;
}

/** The first cast name not used by any of `taken`, then "Member 13", "Member 14", … */
export function pickDefaultName(taken: Iterable<string>): string {
  const used = new Set<string>();
  for (const name of taken) used.add(name.trim().toLowerCase());
  for (const name of CAST) if (!used.has(name.toLowerCase())) return name;
  for (let n = CAST.length + 1; ; n++) {
    const name = `Member ${n}`;
    if (!used.has(name.toLowerCase())) return name;
  }
}

// ---------------------------------------------------------------------------------------------
// Database

interface LunchDB extends DBSchema {
  identities: { key: string; value: IdentityRecord };
}

type DB = IDBPDatabase<LunchDB>;

function corruptDatabaseError(detail: string, cause?: unknown): IdentityError {
  return new IdentityError(
    'indexeddb-corrupt',
    `The Byzantine Lunch database in this browser is damaged or from an incompatible version (${detail}). ` +
      'Clear this site’s data (site settings → clear data) and reload; this deletes the stored identities.',
    cause === undefined ? undefined : { cause },
  );
}

function unavailableError(error: unknown): IdentityError {
  return new IdentityError(
    'indexeddb-unavailable',
    'IndexedDB was refused by the browser, so this tab cannot keep an identity. ' +
      'Private browsing or disabled site storage can cause this; allow site data or use a normal window. ' +
      `The browser said: ${errorMessage(error)}`,
    { cause: error },
  );
}

/**
 * Opens the database through the injected factory (idb's `openDB` would use the global one).
 * `openIndexedDB` turns refusals of every flavour — a synchronous throw, an `error` event — into
 * an `IdentityError`; the database itself is then wrapped by idb.
 */
async function openDatabase(env: IdentityEnv): Promise<DB> {
  const raw = await openIndexedDB(env.indexedDB, DB_NAME, DB_VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1 && !db.objectStoreNames.contains(STORE)) {
        db.createObjectStore(STORE, { keyPath: 'id' });
      }
    },
    unavailable: unavailableError,
    tooNew: (error) => corruptDatabaseError('it was written by a newer version of the app', error),
    fallbackMessage: 'opening the database failed',
  });

  // Let a future version of the app upgrade the schema instead of being blocked by this tab.
  raw.addEventListener('versionchange', () => raw.close());

  const db = wrap(raw) as unknown as DB;
  try {
    if (!raw.objectStoreNames.contains(STORE)) {
      throw corruptDatabaseError(`the “${STORE}” store is missing`);
    }
    if (raw.version !== DB_VERSION) {
      throw corruptDatabaseError(`version ${raw.version} instead of ${DB_VERSION}`);
    }
    const store = raw.transaction(STORE, 'readonly').objectStore(STORE);
    if (store.keyPath !== 'id' || store.autoIncrement) {
      throw corruptDatabaseError(`the “${STORE}” store has the wrong layout`);
    }
  } catch (error) {
    raw.close();
    throw error instanceof IdentityError ? error : corruptDatabaseError(errorMessage(error), error);
  }
  return db;
}

function keyLabel(key: IDBValidKey): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number') return String(key);
  if (key instanceof Date) return key.toISOString();
  if (Array.isArray(key)) return `[${key.map(keyLabel).join(', ')}]`;
  return '(binary key)';
}

interface Inventory {
  /** Valid identities in creation order. */
  valid: IdentityRecord[];
  corrupt: CorruptRecord[];
}

async function readInventory(db: DB): Promise<Inventory> {
  // Both requests in one transaction: the same snapshot, in the same key order.
  const tx = db.transaction(STORE, 'readonly');
  const store = tx.objectStore(STORE);
  const [keys, values] = await Promise.all([
    store.getAllKeys() as Promise<IDBValidKey[]>,
    store.getAll() as Promise<unknown[]>,
    tx.done,
  ]);
  const valid: IdentityRecord[] = [];
  const corrupt: CorruptRecord[] = [];
  keys.forEach((key, i) => {
    const parsed = parseIdentityRecord(values[i]);
    if (parsed.ok && parsed.record.id === key) {
      valid.push(parsed.record);
    } else {
      const reason = parsed.ok ? 'stored under a key that is not its id' : parsed.reason;
      corrupt.push({ key: keyLabel(key), reason, remembered: false });
    }
  });
  valid.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { valid, corrupt };
}

// ---------------------------------------------------------------------------------------------
// Locks

interface HeldLock {
  release(): void;
}

/**
 * Asks for an exclusive lock without waiting. Resolves with a handle when granted (the lock is
 * held until `release()`), or null when another tab holds it.
 */
function tryLock(locks: LockManagerLike, name: string): Promise<HeldLock | null> {
  return new Promise<HeldLock | null>((resolve, reject) => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let settled = false;
    let request: Promise<unknown>;
    try {
      request = locks.request(name, { ifAvailable: true, mode: 'exclusive' }, (lock) => {
        settled = true;
        if (lock === null) {
          resolve(null);
          return undefined;
        }
        resolve({ release });
        // The lock stays held until this promise resolves.
        return held;
      });
    } catch (error) {
      reject(locksError(error));
      return;
    }
    request.then(
      () => {
        if (!settled) reject(locksError(new Error('the lock request ended without an answer')));
      },
      (error: unknown) => {
        if (!settled) reject(locksError(error));
      },
    );
  });
}

function locksError(error: unknown): IdentityError {
  return new IdentityError(
    'locks-unavailable',
    `The browser refused a Web Lock, so this tab cannot claim an identity (${errorMessage(error)}). ` +
      `${SECURE_CONTEXT_HINT}.`,
    { cause: error },
  );
}

function lockName(id: string): string {
  return LOCK_PREFIX + id;
}

// ---------------------------------------------------------------------------------------------
// Claiming

export interface ClaimedIdentity {
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  /** The current display name (updated by `rename`). */
  readonly name: string;
  readonly fingerprint: string;
  /** True when this claim created a new identity. */
  readonly created: boolean;
  /** Unusable records found while claiming (never claimed). */
  readonly corrupt: readonly CorruptRecord[];
  /** Validates, persists and adopts a new display name. */
  rename(name: string): Promise<void>;
  /** Lets the lock go; another tab may then claim this identity. Idempotent. */
  release(): void;
}

function readSession(session: StorageLike): string | null {
  try {
    return session.getItem(SESSION_KEY);
  } catch {
    return null;
  }
}

function writeSession(session: StorageLike, id: string): void {
  try {
    session.setItem(SESSION_KEY, id);
  } catch {
    // Without sessionStorage a reload cannot keep its member; the tab still works.
  }
}

/**
 * Claims an identity for this tab: the remembered one if its lock is free, else the oldest free
 * stored identity, else a freshly created one. Never waits for a lock and never steals one.
 */
export async function claimIdentity(env: IdentityEnv): Promise<ClaimedIdentity> {
  const db = await openDatabase(env);
  try {
    const { valid, corrupt } = await readInventory(db);
    const remembered = readSession(env.session);

    if (remembered !== null) {
      const index = corrupt.findIndex((c) => c.key === remembered);
      const known = corrupt[index];
      if (known) {
        corrupt[index] = { ...known, remembered: true };
      } else if (!valid.some((r) => r.id === remembered)) {
        corrupt.push({
          key: remembered,
          reason:
            'the identity this tab used before is no longer stored (site data may have been cleared); a different identity was taken',
          remembered: true,
        });
      }
    }

    const candidates = [
      ...valid.filter((r) => r.id === remembered),
      ...valid.filter((r) => r.id !== remembered),
    ];
    for (const record of candidates) {
      const lock = await tryLock(env.locks, lockName(record.id));
      if (lock) return finishClaim(env, record, lock, false, corrupt);
    }

    // Nothing free: create a new identity. The keypair is generated before any transaction is
    // opened (an idb transaction would auto-commit across unrelated awaits), and its lock is taken
    // before it is stored, so no other tab can claim it in between.
    const { secretKey, publicKey } = generateKeyPair();
    const id = toHex(publicKey);
    const lock = await tryLock(env.locks, lockName(id));
    if (!lock) throw locksError(new Error(`the lock for a brand-new identity was already held`));
    try {
      const record = await storeNewIdentity(db, env, id, secretKey, publicKey);
      return finishClaim(env, record, lock, true, corrupt);
    } catch (error) {
      lock.release();
      throw error;
    }
  } finally {
    db.close();
  }
}

/**
 * Picks the default name and writes the record in a single readwrite transaction, so two tabs
 * creating identities at the same moment cannot both pick the same cast name.
 */
async function storeNewIdentity(
  db: DB,
  env: IdentityEnv,
  id: string,
  secretKey: Uint8Array,
  publicKey: Uint8Array,
): Promise<IdentityRecord> {
  const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' });
  const store = tx.objectStore(STORE);
  const existing = (await store.getAll()) as unknown[];
  const taken: string[] = [];
  for (const value of existing) {
    const parsed = parseIdentityRecord(value);
    if (parsed.ok) taken.push(parsed.record.name);
  }
  const record: IdentityRecord = {
    v: 1,
    id,
    secretKey,
    publicKey,
    name: pickDefaultName(taken),
    createdAt: env.now(),
  };
  await store.add(record);
  await tx.done;
  return record;
}

function finishClaim(
  env: IdentityEnv,
  record: IdentityRecord,
  lock: HeldLock,
  created: boolean,
  corrupt: CorruptRecord[],
): ClaimedIdentity {
  writeSession(env.session, record.id);
  let name = record.name;
  let released = false;
  const corruptList: readonly CorruptRecord[] = Object.freeze([...corrupt]);
  return {
    id: record.id,
    publicKey: record.publicKey,
    secretKey: record.secretKey,
    get name() {
      return name;
    },
    fingerprint: fingerprint(record.publicKey),
    created,
    corrupt: corruptList,
    async rename(newName: string): Promise<void> {
      const normalized = normalizeName(newName);
      if (released) {
        throw new IdentityError(
          'identity-released',
          'This identity was released by this tab, so it can no longer be renamed here.',
        );
      }
      await renameStored(env, record.id, normalized);
      name = normalized;
    },
    release(): void {
      if (released) return;
      released = true;
      lock.release();
    },
  };
}

async function renameStored(env: IdentityEnv, id: string, name: string): Promise<void> {
  const db = await openDatabase(env);
  try {
    const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' });
    const store = tx.objectStore(STORE);
    const parsed = parseIdentityRecord(await store.get(id));
    if (!parsed.ok) {
      tx.abort();
      await tx.done.catch(() => undefined);
      throw new IdentityError(
        'identity-missing',
        'This tab’s identity is no longer stored (site data may have been cleared), so the name could not be saved. Reload the page.',
      );
    }
    await store.put({ ...parsed.record, name });
    await tx.done;
  } finally {
    db.close();
  }
}

/**
 * Deletes one record from the identities store — for removing a corrupt record the user chose to
 * discard. `key` is a `CorruptRecord.key`. Deleting a key that is not stored does nothing.
 */
export async function deleteIdentityRecord(env: IdentityEnv, key: string): Promise<void> {
  const db = await openDatabase(env);
  try {
    const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' });
    const store = tx.objectStore(STORE);
    if ((await store.count(key)) > 0) {
      await store.delete(key);
    } else {
      // Records stored under a non-string key are reported with a text label of that key.
      for (const stored of (await store.getAllKeys()) as IDBValidKey[]) {
        if (typeof stored !== 'string' && keyLabel(stored) === key) {
          await (store as unknown as { delete(k: IDBValidKey): Promise<void> }).delete(stored);
        }
      }
    }
    await tx.done;
  } finally {
    db.close();
  }
}

/**
 * What `storeIdentityRecord` did: stored a new identity, found the same identity already stored
 * (nothing changed), or replaced an unreadable record stored under the same id.
 */
export type StoreIdentityOutcome = 'stored' | 'already-stored' | 'replaced-corrupt';

/**
 * Stores a complete identity record (for importing an identity), unless a valid record with the
 * same id is already stored: then nothing changes and the stored record is returned. A corrupt
 * record under that id is replaced, since the new one is a verified keypair for that very id.
 * Throws a `TypeError` for an invalid record.
 */
export async function storeIdentityRecord(
  env: IdentityEnv,
  record: IdentityRecord,
): Promise<{ outcome: StoreIdentityOutcome; record: IdentityRecord }> {
  const parsed = parseIdentityRecord(record);
  if (!parsed.ok) throw new TypeError(`Refusing to store an invalid identity record: ${parsed.reason}.`);
  const fresh = parsed.record;
  const db = await openDatabase(env);
  try {
    const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' });
    const store = tx.objectStore(STORE);
    const existing = await store.get(fresh.id);
    if (existing !== undefined) {
      const stored = parseIdentityRecord(existing);
      if (stored.ok && stored.record.id === fresh.id) {
        await tx.done;
        return { outcome: 'already-stored', record: stored.record };
      }
    }
    await store.put(fresh);
    await tx.done;
    return { outcome: existing === undefined ? 'stored' : 'replaced-corrupt', record: fresh };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Persistent storage

export type PersistResult = 'persisted' | 'refused' | 'unsupported';

/** The part of `StorageManager` used by `requestPersistentStorage`. */
export interface StorageManagerLike {
  persist?(): Promise<boolean>;
  persisted?(): Promise<boolean>;
}

/**
 * Asks the browser not to evict this site's storage (which holds the secret keys). Never throws.
 * Browsers may refuse silently (Chrome decides by engagement; Firefox asks the user).
 */
export async function requestPersistentStorage(
  storage: StorageManagerLike | undefined = defaultStorageManager(),
): Promise<PersistResult> {
  if (!storage || typeof storage.persist !== 'function') return 'unsupported';
  try {
    if (typeof storage.persisted === 'function' && (await storage.persisted())) return 'persisted';
    return (await storage.persist()) ? 'persisted' : 'refused';
  } catch {
    return 'refused';
  }
}

function defaultStorageManager(): StorageManagerLike | undefined {
  try {
    return (globalThis as Partial<typeof globalThis>).navigator?.storage;
  } catch {
    return undefined;
  }
}
