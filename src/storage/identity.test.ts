import './fake-idb-globals.ts';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateKeyPair, publicKeyOf, toHex, equalBytes } from '../crypto/ed25519.ts';
import {
  CAST,
  DB_NAME,
  IdentityError,
  SESSION_KEY,
  STORE,
  browserIdentityEnv,
  claimIdentity,
  deleteIdentityRecord,
  parseIdentityRecord,
  pickDefaultName,
  requestPersistentStorage,
} from './identity.ts';
import type { ClaimedIdentity, IdentityEnv, LockLike, LockManagerLike, StorageLike } from './identity.ts';

// ---------------------------------------------------------------------------------------------
// Fakes

/** Exclusive Web Locks with `ifAvailable` semantics; records every request's options. */
class FakeLocks implements LockManagerLike {
  readonly held = new Set<string>();
  readonly requested: { name: string; options: Record<string, unknown> }[] = [];

  request<T>(
    name: string,
    options: { ifAvailable: true; mode: 'exclusive' },
    callback: (lock: LockLike | null) => T,
  ): Promise<Awaited<T>> {
    this.requested.push({ name, options: { ...options } });
    if (options.ifAvailable !== true || options.mode !== 'exclusive' || 'steal' in options) {
      return Promise.reject(new Error('FakeLocks only supports exclusive ifAvailable requests'));
    }
    if (this.held.has(name)) {
      return Promise.resolve().then(() => callback(null)) as Promise<Awaited<T>>;
    }
    // Granted: held from now until the callback's promise settles.
    this.held.add(name);
    return Promise.resolve()
      .then(() => callback({ name }))
      .finally(() => this.held.delete(name)) as Promise<Awaited<T>>;
  }
}

class MapStorage implements StorageLike {
  readonly map: Map<string, string>;
  constructor(entries?: Iterable<[string, string]>) {
    this.map = new Map(entries);
  }
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
  copy(): MapStorage {
    return new MapStorage(this.map);
  }
}

interface Tab {
  session: MapStorage;
  env: IdentityEnv;
  claim(): Promise<ClaimedIdentity>;
}

/** One browser profile: a shared IndexedDB and lock manager; tabs have their own session storage. */
function makeBrowser() {
  const factory = new IDBFactory();
  const locks = new FakeLocks();
  let clock = 1_700_000_000_000;
  const claimed: ClaimedIdentity[] = [];
  function openTab(session: MapStorage = new MapStorage()): Tab {
    const env: IdentityEnv = { indexedDB: factory, locks, session, now: () => clock++ };
    return {
      session,
      env,
      claim: async () => {
        const identity = await claimIdentity(env);
        claimed.push(identity);
        return identity;
      },
    };
  }
  return { factory, locks, openTab, claimed };
}

let browsers: ReturnType<typeof makeBrowser>[] = [];
function browser() {
  const b = makeBrowser();
  browsers.push(b);
  return b;
}
afterEach(() => {
  for (const b of browsers) for (const identity of b.claimed) identity.release();
  browsers = [];
  vi.unstubAllGlobals();
});

// Raw IndexedDB helpers for planting records the app would never write itself.

function requestToPromise<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function openRaw(
  factory: IDBFactory,
  version: number,
  upgrade: (db: IDBDatabase) => void,
): Promise<IDBDatabase> {
  const request = factory.open(DB_NAME, version);
  request.onupgradeneeded = () => upgrade(request.result);
  return requestToPromise(request);
}

async function plant(factory: IDBFactory, records: unknown[]): Promise<void> {
  const db = await openRaw(factory, 1, (d) => d.createObjectStore(STORE, { keyPath: 'id' }));
  const tx = db.transaction(STORE, 'readwrite');
  for (const record of records) tx.objectStore(STORE).put(record);
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}

async function storedKeys(factory: IDBFactory): Promise<IDBValidKey[]> {
  const db = await openRaw(factory, 1, () => {});
  const keys = await requestToPromise(db.transaction(STORE).objectStore(STORE).getAllKeys());
  db.close();
  return keys;
}

function validRecord(name: string, createdAt = 1) {
  const { secretKey, publicKey } = generateKeyPair();
  return { v: 1, id: toHex(publicKey), secretKey, publicKey, name, createdAt };
}

async function expectIdentityError(promise: Promise<unknown>, code: string): Promise<IdentityError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected IdentityError ${code}, but it succeeded`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IdentityError);
  expect((error as IdentityError).code).toBe(code);
  return error as IdentityError;
}

// ---------------------------------------------------------------------------------------------

describe('claimIdentity across tabs', () => {
  it('gives four tabs four distinct identities named James, Bryan, Rich, Chris', async () => {
    const b = browser();
    const tabs = [b.openTab(), b.openTab(), b.openTab(), b.openTab()];
    const ids: ClaimedIdentity[] = [];
    for (const tab of tabs) ids.push(await tab.claim());

    expect(ids.map((i) => i.name)).toEqual(['James', 'Bryan', 'Rich', 'Chris']);
    expect(new Set(ids.map((i) => i.id)).size).toBe(4);
    for (const [i, identity] of ids.entries()) {
      expect(identity.created).toBe(true);
      expect(identity.corrupt).toEqual([]);
      expect(identity.id).toBe(toHex(identity.publicKey));
      expect(equalBytes(publicKeyOf(identity.secretKey), identity.publicKey)).toBe(true);
      expect(identity.fingerprint).toMatch(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/);
      expect(tabs[i]!.session.getItem(SESSION_KEY)).toBe(identity.id);
      expect(b.locks.held.has(`byzantine-lunch.identity.${identity.id}`)).toBe(true);
    }
    // Never waits, never steals.
    for (const { options } of b.locks.requested) {
      expect(options).toEqual({ ifAvailable: true, mode: 'exclusive' });
    }
  });

  it('gives tabs claiming at the same moment distinct identities and distinct names', async () => {
    const b = browser();
    const ids = await Promise.all([1, 2, 3, 4].map(() => b.openTab().claim()));
    expect(new Set(ids.map((i) => i.id)).size).toBe(4);
    expect(new Set(ids.map((i) => i.name))).toEqual(new Set(['James', 'Bryan', 'Rich', 'Chris']));
  });

  it('keeps the same identity across a reload', async () => {
    const b = browser();
    const tab = b.openTab();
    const other = b.openTab();
    const first = await tab.claim();
    await other.claim();

    first.release(); // the page unloads
    const again = await b.openTab(tab.session).claim(); // same sessionStorage after reload
    expect(again.id).toBe(first.id);
    expect(again.name).toBe('James');
    expect(again.created).toBe(false);
  });

  it('lets the next new tab take the identity of a closed tab instead of creating one', async () => {
    const b = browser();
    const ids: ClaimedIdentity[] = [];
    for (let i = 0; i < 4; i++) ids.push(await b.openTab().claim());

    ids[1]!.release(); // Bryan's tab is closed
    const newcomer = await b.openTab().claim();
    expect(newcomer.id).toBe(ids[1]!.id);
    expect(newcomer.name).toBe('Bryan');
    expect(newcomer.created).toBe(false);
    expect(await storedKeys(b.factory)).toHaveLength(4);

    // With everyone present again, one more tab is a fifth member.
    const fifth = await b.openTab().claim();
    expect(fifth.created).toBe(true);
    expect(fifth.name).toBe('Ana');
  });

  it('reuses free identities oldest first', async () => {
    const b = browser();
    const ids: ClaimedIdentity[] = [];
    for (let i = 0; i < 3; i++) ids.push(await b.openTab().claim());
    ids[2]!.release();
    ids[0]!.release();
    expect((await b.openTab().claim()).id).toBe(ids[0]!.id);
    expect((await b.openTab().claim()).id).toBe(ids[2]!.id);
  });

  it('gives a duplicated tab a different identity without waiting for the lock', async () => {
    const b = browser();
    const original = b.openTab();
    const mine = await original.claim();

    const duplicate = b.openTab(original.session.copy()); // inherits sessionStorage
    expect(duplicate.session.getItem(SESSION_KEY)).toBe(mine.id);
    const theirs = await duplicate.claim();

    expect(theirs.id).not.toBe(mine.id);
    expect(theirs.name).toBe('Bryan');
    expect(theirs.corrupt).toEqual([]); // a held identity is not a corrupt one
    expect(duplicate.session.getItem(SESSION_KEY)).toBe(theirs.id);
    expect(original.session.getItem(SESSION_KEY)).toBe(mine.id);
    expect(b.locks.held.has(`byzantine-lunch.identity.${mine.id}`)).toBe(true);

    // A reload of the duplicate keeps the duplicate's own identity.
    theirs.release();
    expect((await b.openTab(duplicate.session).claim()).id).toBe(theirs.id);
  });

  it('takes a free stored identity for a duplicated tab before creating one', async () => {
    const b = browser();
    const a = b.openTab();
    const james = await a.claim();
    const bryan = await b.openTab().claim();
    bryan.release();

    const duplicate = await b.openTab(a.session.copy()).claim();
    expect(duplicate.id).toBe(bryan.id);
    expect(duplicate.created).toBe(false);
    expect(james.id).not.toBe(duplicate.id);
  });

  it('falls back to "Member 13", "Member 14" after the cast', async () => {
    const b = browser();
    const names: string[] = [];
    for (let i = 0; i < 14; i++) names.push((await b.openTab().claim()).name);
    expect(names).toEqual([...CAST, 'Member 13', 'Member 14']);
  });

  it('gives a new identity the first cast name no stored identity uses', async () => {
    const b = browser();
    const james = await b.openTab().claim();
    await b.openTab().claim(); // Bryan
    await james.rename('Rich');
    // James is free again as a name; Rich is taken by the renamed member.
    expect((await b.openTab().claim()).name).toBe('James');
    expect((await b.openTab().claim()).name).toBe('Chris');
  });
});

describe('rename', () => {
  it('persists a trimmed name that survives a reload', async () => {
    const b = browser();
    const tab = b.openTab();
    const me = await tab.claim();
    await me.rename('  Ada Lovelace  ');
    expect(me.name).toBe('Ada Lovelace');

    me.release();
    const again = await b.openTab(tab.session).claim();
    expect(again.id).toBe(me.id);
    expect(again.name).toBe('Ada Lovelace');
  });

  it('accepts 1 and 32 characters, counting characters rather than UTF-16 units', async () => {
    const b = browser();
    const me = await b.openTab().claim();
    await me.rename('x');
    expect(me.name).toBe('x');
    await me.rename('a'.repeat(32));
    expect(me.name).toBe('a'.repeat(32));
    await me.rename('🥪'.repeat(32));
    expect(me.name).toBe('🥪'.repeat(32));
  });

  it.each([
    ['empty', ''],
    ['only spaces', '   '],
    ['33 characters', 'b'.repeat(33)],
    ['a line break', 'two\nlines'],
  ])('rejects a name that is %s and keeps the old one', async (_label, bad) => {
    const b = browser();
    const tab = b.openTab();
    const me = await tab.claim();
    const error = await expectIdentityError(me.rename(bad), 'invalid-name');
    expect(error.message).toMatch(/name/i);
    expect(me.name).toBe('James');

    me.release();
    expect((await b.openTab(tab.session).claim()).name).toBe('James');
  });

  it('refuses to rename after release', async () => {
    const me = await browser().openTab().claim();
    me.release();
    await expectIdentityError(me.rename('Later'), 'identity-released');
  });

  it('reports an identity that vanished from storage', async () => {
    const b = browser();
    const tab = b.openTab();
    const me = await tab.claim();
    await deleteIdentityRecord(tab.env, me.id);
    await expectIdentityError(me.rename('Ghost'), 'identity-missing');
  });
});

describe('corrupt records', () => {
  function corruptRecords() {
    const a = generateKeyPair();
    const other = generateKeyPair();
    const shortSecret = validRecord('Short', 1);
    const smallOrder = new Uint8Array(32);
    smallOrder[0] = 1; // the identity point: canonical but of small order
    return {
      shortSecret: { ...shortSecret, secretKey: shortSecret.secretKey.slice(0, 31) },
      longPublic: (() => {
        const r = validRecord('Long', 2);
        const publicKey = new Uint8Array(33);
        publicKey.set(r.publicKey);
        return { ...r, publicKey };
      })(),
      mismatched: {
        v: 1,
        id: toHex(a.publicKey),
        secretKey: other.secretKey,
        publicKey: a.publicKey,
        name: 'James',
        createdAt: 3,
      },
      wrongId: { ...validRecord('Wrong', 4), id: 'ab'.repeat(32) },
      smallOrder: { v: 1, id: toHex(smallOrder), secretKey: a.secretKey, publicKey: smallOrder, name: 'Zero', createdAt: 5 },
      garbage: { id: 'garbage', hello: 'world' },
      numericKey: { id: 42 },
      badName: { ...validRecord('x', 6), name: '' },
    };
  }

  it('reports every unreadable record and never claims one', async () => {
    const b = browser();
    const bad = corruptRecords();
    const good = validRecord('Priya', 100);
    await plant(b.factory, [...Object.values(bad), good]);

    const first = await b.openTab().claim();
    expect(first.id).toBe(good.id);
    expect(first.name).toBe('Priya');
    const reasons = new Map(first.corrupt.map((c) => [c.key, c.reason]));
    expect(reasons.get(bad.shortSecret.id)).toBe('secret key is not 32 bytes');
    expect(reasons.get(bad.longPublic.id)).toBe('public key is not 32 bytes');
    expect(reasons.get(bad.mismatched.id)).toBe('secret key does not match the public key');
    expect(reasons.get(bad.wrongId.id)).toBe('id does not match the public key');
    expect(reasons.get(bad.smallOrder.id)).toBe('public key is not an acceptable Ed25519 key');
    expect(reasons.get('garbage')).toMatch(/^not an identity record/);
    expect(reasons.get('42')).toMatch(/^not an identity record/);
    expect(reasons.get(bad.badName.id)).toMatch(/^name is not 1–32 characters/);
    expect(first.corrupt).toHaveLength(Object.keys(bad).length);
    expect(first.corrupt.every((c) => !c.remembered)).toBe(true);

    // The next tab creates a new identity rather than touching a corrupt one. The corrupt
    // mismatched record is named James, but only valid identities reserve names.
    const second = await b.openTab().claim();
    expect(second.created).toBe(true);
    expect(second.name).toBe('James');
    const corruptIds = new Set(first.corrupt.map((c) => c.key));
    expect(corruptIds.has(second.id)).toBe(false);
  });

  it('moves a tab whose remembered identity is corrupt to another identity and says so', async () => {
    const b = browser();
    const { mismatched } = corruptRecords();
    await plant(b.factory, [mismatched]);
    const tab = b.openTab(new MapStorage([[SESSION_KEY, mismatched.id]]));

    const me = await tab.claim();
    expect(me.id).not.toBe(mismatched.id);
    expect(me.created).toBe(true);
    expect(me.corrupt).toEqual([
      { key: mismatched.id, reason: 'secret key does not match the public key', remembered: true },
    ]);
    expect(tab.session.getItem(SESSION_KEY)).toBe(me.id);
    expect(b.locks.held.has(`byzantine-lunch.identity.${mismatched.id}`)).toBe(false);
  });

  it('moves a tab whose remembered identity is gone to another identity and says so', async () => {
    const b = browser();
    const tab = b.openTab(new MapStorage([[SESSION_KEY, 'cd'.repeat(32)]]));
    const me = await tab.claim();
    expect(me.created).toBe(true);
    expect(me.corrupt).toHaveLength(1);
    expect(me.corrupt[0]).toMatchObject({ key: 'cd'.repeat(32), remembered: true });
    expect(me.corrupt[0]!.reason).toMatch(/no longer stored/);
  });

  it('deletes a corrupt record on request, including one stored under a non-string key', async () => {
    const b = browser();
    const { mismatched, numericKey } = corruptRecords();
    await plant(b.factory, [mismatched, numericKey]);
    const tab = b.openTab();
    const me = await tab.claim();
    expect(me.corrupt.map((c) => c.key).sort()).toEqual(['42', mismatched.id].sort());

    for (const c of me.corrupt) await deleteIdentityRecord(tab.env, c.key);
    await deleteIdentityRecord(tab.env, 'not-there'); // harmless
    expect(await storedKeys(b.factory)).toEqual([me.id]);
    expect((await b.openTab().claim()).corrupt).toEqual([]);
  });

  it('parseIdentityRecord accepts a valid record and copies its bytes', () => {
    const record = validRecord('Wei');
    const parsed = parseIdentityRecord(record);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.record).toEqual(record);
    expect(parsed.record.secretKey).not.toBe(record.secretKey);
    for (const junk of [null, undefined, 7, 'x', [], { v: 2 }]) {
      expect(parseIdentityRecord(junk).ok).toBe(false);
    }
  });
});

describe('IndexedDB failures', () => {
  function envWith(indexedDB: IDBFactory): IdentityEnv {
    return { indexedDB, locks: new FakeLocks(), session: new MapStorage(), now: () => 0 };
  }

  it('reports IndexedDB refused by the browser (error event)', async () => {
    const refusing = {
      open() {
        const request = new EventTarget() as EventTarget & { error: DOMException | null };
        request.error = new DOMException('The operation is insecure.', 'SecurityError');
        queueMicrotask(() => request.dispatchEvent(new Event('error')));
        return request;
      },
    } as unknown as IDBFactory;
    const error = await expectIdentityError(claimIdentity(envWith(refusing)), 'indexeddb-unavailable');
    expect(error.message).toMatch(/IndexedDB was refused by the browser/);
    expect(error.message).toMatch(/private/i);
    expect(error.message).toContain('The operation is insecure.');
  });

  it('reports IndexedDB refused by the browser (open throws)', async () => {
    const throwing = {
      open() {
        throw new DOMException('Access denied', 'InvalidStateError');
      },
    } as unknown as IDBFactory;
    const error = await expectIdentityError(claimIdentity(envWith(throwing)), 'indexeddb-unavailable');
    expect(error.message).toContain('Access denied');
  });

  it('reports a database without the identities store as corrupt', async () => {
    const factory = new IDBFactory();
    (await openRaw(factory, 1, (db) => db.createObjectStore('something-else'))).close();
    const error = await expectIdentityError(claimIdentity(envWith(factory)), 'indexeddb-corrupt');
    expect(error.message).toMatch(/identities/);
    expect(error.message).toMatch(/clear/i);
  });

  it('reports an identities store with the wrong layout as corrupt', async () => {
    const factory = new IDBFactory();
    (await openRaw(factory, 1, (db) => db.createObjectStore(STORE, { autoIncrement: true }))).close();
    await expectIdentityError(claimIdentity(envWith(factory)), 'indexeddb-corrupt');
  });

  it('reports a database from a newer version as corrupt', async () => {
    const factory = new IDBFactory();
    (await openRaw(factory, 2, (db) => db.createObjectStore(STORE, { keyPath: 'id' }))).close();
    const error = await expectIdentityError(claimIdentity(envWith(factory)), 'indexeddb-corrupt');
    expect(error.message).toMatch(/newer version/);
  });

  it('reports a lock manager that refuses requests', async () => {
    const env = envWith(new IDBFactory());
    env.locks = {
      request: () => Promise.reject(new DOMException('not fully active', 'InvalidStateError')),
    };
    await expectIdentityError(claimIdentity(env), 'locks-unavailable');
  });
});

describe('browserIdentityEnv', () => {
  it('explains a missing IndexedDB', () => {
    vi.stubGlobal('indexedDB', undefined);
    expect(() => browserIdentityEnv()).toThrowError(IdentityError);
    try {
      browserIdentityEnv();
    } catch (e) {
      expect((e as IdentityError).code).toBe('indexeddb-unavailable');
    }
  });

  it('explains missing Web Locks', () => {
    vi.stubGlobal('indexedDB', new IDBFactory());
    vi.stubGlobal('navigator', {});
    expect(() => browserIdentityEnv()).toThrowError(/does not offer Web Locks.*localhost or https/);
  });

  it('returns the real pieces when present', () => {
    const factory = new IDBFactory();
    const locks = new FakeLocks();
    const session = new MapStorage();
    vi.stubGlobal('indexedDB', factory);
    vi.stubGlobal('navigator', { locks });
    vi.stubGlobal('sessionStorage', session);
    const env = browserIdentityEnv();
    expect(env.indexedDB).toBe(factory);
    expect(env.locks).toBe(locks);
    expect(env.session).toBe(session);
    expect(typeof env.now()).toBe('number');
  });
});

describe('pickDefaultName', () => {
  it('takes the first unused cast name, then numbered members', () => {
    expect(pickDefaultName([])).toBe('James');
    expect(pickDefaultName(['Bryan', 'james'])).toBe('Rich');
    expect(pickDefaultName(CAST)).toBe('Member 13');
    expect(pickDefaultName([...CAST, 'Member 13', 'Member 15'])).toBe('Member 14');
  });
});

describe('requestPersistentStorage', () => {
  it('maps the browser answers', async () => {
    expect(await requestPersistentStorage({})).toBe('unsupported');
    expect(await requestPersistentStorage({ persist: async () => true })).toBe('persisted');
    expect(await requestPersistentStorage({ persist: async () => false })).toBe('refused');
    expect(
      await requestPersistentStorage({
        persist: async () => {
          throw new Error('nope');
        },
      }),
    ).toBe('refused');
    const persist = vi.fn(async () => false);
    expect(await requestPersistentStorage({ persisted: async () => true, persist })).toBe('persisted');
    expect(persist).not.toHaveBeenCalled();
  });

  it('is unsupported without navigator.storage', async () => {
    vi.stubGlobal('navigator', {});
    expect(await requestPersistentStorage()).toBe('unsupported');
  });
});
