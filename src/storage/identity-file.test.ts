import './fake-idb-globals.ts';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, publicKeyOf, toHex } from '../crypto/ed25519.ts';
import { DB_NAME, SESSION_KEY, STORE, claimIdentity } from './identity.ts';
import type { IdentityEnv, LockLike, LockManagerLike, StorageLike } from './identity.ts';
import {
  IDENTITY_FILE_FORMAT,
  IdentityFileError,
  SEALED_ITERATIONS_RANGE,
  exportIdentity,
  exportSealedIdentity,
  identityFileName,
  importIdentity,
  storeImportedIdentity,
  openIdentityFile,
  parseIdentityFile,
} from './identity-file.ts';

class FakeLocks implements LockManagerLike {
  readonly held = new Set<string>();
  request<T>(name: string, _options: { ifAvailable: true; mode: 'exclusive' }, callback: (lock: LockLike | null) => T): Promise<Awaited<T>> {
    if (this.held.has(name)) return Promise.resolve().then(() => callback(null)) as Promise<Awaited<T>>;
    this.held.add(name);
    return Promise.resolve()
      .then(() => callback({ name }))
      .finally(() => this.held.delete(name)) as Promise<Awaited<T>>;
  }
}

class MapStorage implements StorageLike {
  readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
}

function env(factory = new IDBFactory(), locks = new FakeLocks()): IdentityEnv {
  let clock = 1_700_000_000_000;
  return { indexedDB: factory, locks, session: new MapStorage(), now: () => clock++ };
}

function identity(name = 'James') {
  const { secretKey, publicKey } = generateKeyPair();
  return { id: toHex(publicKey), secretKey, publicKey, name };
}

const NOW = Date.UTC(2025, 5, 1, 12, 30, 0);

/** An exported file with some fields replaced (undefined deletes a field). */
function fileWith(changes: Record<string, unknown>, base = identity()): string {
  const json = JSON.parse(exportIdentity(base, NOW)) as Record<string, unknown>;
  for (const [k, value] of Object.entries(changes)) {
    if (value === undefined) delete json[k];
    else json[k] = value;
  }
  return JSON.stringify(json);
}

function parseError(text: string): IdentityFileError {
  try {
    parseIdentityFile(text);
  } catch (error) {
    expect(error).toBeInstanceOf(IdentityFileError);
    return error as IdentityFileError;
  }
  throw new Error('expected the file to be rejected');
}

async function storedRecords(factory: IDBFactory): Promise<Record<string, unknown>[]> {
  const db = await new Promise<globalThis.IDBDatabase>((resolve, reject) => {
    const request = factory.open(DB_NAME);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const values = await new Promise<Record<string, unknown>[]>((resolve, reject) => {
    const request = db.transaction(STORE).objectStore(STORE).getAll();
    request.onsuccess = () => resolve(request.result as Record<string, unknown>[]);
    request.onerror = () => reject(request.error);
  });
  db.close();
  return values;
}

describe('exportIdentity / parseIdentityFile', () => {
  it('round-trips an identity', () => {
    const me = identity('Ada Lovelace');
    const text = exportIdentity(me, NOW);
    const json = JSON.parse(text) as Record<string, unknown>;
    expect(json).toEqual({
      format: IDENTITY_FILE_FORMAT,
      version: 1,
      name: 'Ada Lovelace',
      publicKey: me.id,
      secretKey: toHex(me.secretKey),
      exportedAt: '2025-06-01T12:30:00.000Z',
    });
    expect(exportIdentity(me, new Date(NOW))).toBe(text); // pure: same input, same text

    const parsed = parseIdentityFile(text);
    expect(parsed.name).toBe('Ada Lovelace');
    expect(parsed.id).toBe(me.id);
    expect(parsed.publicKey).toEqual(me.publicKey);
    expect(parsed.secretKey).toEqual(me.secretKey);
    expect(parsed.publicKey).toBeInstanceOf(Uint8Array);
  });

  it('accepts uppercase hex, a byte order mark and a missing export date', () => {
    const me = identity();
    const text = fileWith({ publicKey: me.id.toUpperCase(), secretKey: toHex(me.secretKey).toUpperCase(), exportedAt: undefined }, me);
    expect(parseIdentityFile(`\uFEFF${text}`).id).toBe(me.id);
  });

  it('refuses to export an inconsistent identity', () => {
    const me = identity();
    expect(() => exportIdentity({ ...me, secretKey: generateKeyPair().secretKey }, NOW)).toThrow(/secret key does not match/);
    expect(() => exportIdentity({ ...me, id: 'ab'.repeat(32) }, NOW)).toThrow(/id does not match/);
    expect(() => exportIdentity(me, Number.NaN)).toThrow(/not a valid date/);
  });

  it('names the file after the member', () => {
    const me = identity('Ana María / 🥪');
    expect(identityFileName(me)).toMatch(/^byzantine-lunch-Ana-María-[0-9a-f]{4}-[0-9a-f]{4}\.json$/);
    expect(identityFileName({ ...me, name: '///' })).toMatch(/^byzantine-lunch-member-/);
  });

  const smallOrder = `01${'00'.repeat(31)}`; // the identity point
  const nonCanonical = `ed${'ff'.repeat(30)}7f`; // y = p, which must be encoded as 0

  it.each<[string, () => string, IdentityFileError['code'], RegExp]>([
    ['not JSON', () => '{"format": "byzantine-lunch-identity",', 'not-json', /not valid JSON/],
    ['empty', () => '', 'not-json', /not valid JSON/],
    ['a JSON list', () => '[1, 2]', 'wrong-format', /not a Byzantine Lunch identity file/],
    ['another JSON file', () => '{"name": "package", "version": "1.0.0"}', 'wrong-format', /not a Byzantine Lunch identity file/],
    ['another format', () => fileWith({ format: 'something-else' }), 'wrong-format', /not a Byzantine Lunch identity file/],
    ['a newer version', () => fileWith({ version: 3 }), 'wrong-version', /format version 3.*reads versions 1 and 2 only/],
    ['no version', () => fileWith({ version: undefined }), 'wrong-version', /does not say which format version/],
    ['no name', () => fileWith({ name: undefined }), 'bad-field', /The name is missing from this identity file/],
    ['an empty name', () => fileWith({ name: '  ' }), 'bad-name', /name in this identity file cannot be used: A name cannot be empty/],
    ['a name too long', () => fileWith({ name: 'x'.repeat(33) }), 'bad-name', /at most 32 characters/],
    ['no public key', () => fileWith({ publicKey: undefined }), 'bad-field', /The public key is missing from this identity file/],
    ['a short public key', () => fileWith({ publicKey: 'abcd' }), 'bad-field', /public key .* has 4 hex digits instead of 64/],
    ['a public key that is not hex', () => fileWith({ publicKey: 'zz'.repeat(32) }), 'bad-field', /public key .* is not hexadecimal/],
    ['a long secret key', () => fileWith({ secretKey: 'ab'.repeat(33) }), 'bad-field', /secret key .* has 66 hex digits/],
    ['a secret key that is a number', () => fileWith({ secretKey: 42 }), 'bad-field', /secret key .* is not text/],
    ['a small-order public key', () => fileWith({ publicKey: smallOrder }), 'bad-key', /not an acceptable Ed25519 key/],
    ['a non-canonical public key', () => fileWith({ publicKey: nonCanonical }), 'bad-key', /not an acceptable Ed25519 key/],
    ['another identity’s secret key', () => fileWith({ secretKey: toHex(generateKeyPair().secretKey) }), 'key-mismatch', /does not belong to its public key/],
    ['a huge file', () => ' '.repeat(20_000), 'wrong-format', /too large/],
  ])('rejects %s with its own message', (_label, make, code, message) => {
    const error = parseError(make());
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('checks that the small-order and mismatch cases really are what they claim', () => {
    // The mismatch case above must fail only on the mismatch: its public key is fine.
    const me = identity();
    expect(toHex(publicKeyOf(me.secretKey))).toBe(me.id);
  });
});

describe('importIdentity', () => {
  it('stores the identity and makes the next reload claim it', async () => {
    const exported = identity('Priya');
    const text = exportIdentity(exported, NOW);
    const factory = new IDBFactory();
    const locks = new FakeLocks();
    const tab = env(factory, locks);

    const result = await importIdentity(tab, text);
    expect(result).toEqual({ id: exported.id, name: 'Priya', alreadyStored: false, passphraseUnused: false });
    expect(tab.session.getItem(SESSION_KEY)).toBe(exported.id);
    const stored = await storedRecords(factory);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ v: 1, id: exported.id, name: 'Priya', createdAt: 1_700_000_000_000 });

    // "Reload": the same tab (same sessionStorage) claims again.
    const claimed = await claimIdentity(tab);
    expect(claimed.id).toBe(exported.id);
    expect(claimed.name).toBe('Priya');
    expect(claimed.secretKey).toEqual(exported.secretKey);
    expect(claimed.created).toBe(false);
    claimed.release();
  });

  it('is a no-op for an identity this browser already holds', async () => {
    const factory = new IDBFactory();
    const locks = new FakeLocks();
    const first = env(factory, locks);
    const me = await claimIdentity(first); // James, created here
    await me.rename('Jim');
    const before = await storedRecords(factory);
    const text = exportIdentity({ ...me, name: 'Someone Else' }, NOW);

    const other = env(factory, locks);
    const result = await importIdentity(other, text);
    expect(result).toEqual({ id: me.id, name: 'Jim', alreadyStored: true, passphraseUnused: false });
    expect(await storedRecords(factory)).toEqual(before);
    expect(other.session.getItem(SESSION_KEY)).toBe(me.id);
    me.release();
  });

  it('replaces an unreadable record stored under the same id', async () => {
    const factory = new IDBFactory();
    const tab = env(factory);
    const exported = identity('Wei');
    await importIdentity(tab, exportIdentity(exported, NOW));
    // Damage the stored record, then import again.
    const db = await new Promise<globalThis.IDBDatabase>((resolve) => {
      const request = factory.open(DB_NAME);
      request.onsuccess = () => resolve(request.result);
    });
    await new Promise<void>((resolve) => {
      const tx = db.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).put({ id: exported.id, v: 1, name: 'Wei', secretKey: new Uint8Array(3) });
      tx.oncomplete = () => resolve();
    });
    db.close();

    const result = await importIdentity(tab, exportIdentity(exported, NOW));
    expect(result.alreadyStored).toBe(false);
    const stored = await storedRecords(factory);
    expect(stored).toHaveLength(1);
    expect(stored[0]!['secretKey']).toEqual(exported.secretKey);
  });

  it('stores nothing from a bad file', async () => {
    const factory = new IDBFactory();
    const tab = env(factory);
    await expect(importIdentity(tab, fileWith({ version: 3 }))).rejects.toBeInstanceOf(IdentityFileError);
    expect(tab.session.getItem(SESSION_KEY)).toBeNull();
    expect((await factory.databases()).map((d) => d.name)).toEqual([]);
  });
});

describe('sealed identity files (a passphrase)', () => {
  // The fewest rounds an import accepts, so the tests stay quick; the app writes 600,000.
  const iterations = SEALED_ITERATIONS_RANGE[0];
  const PASS = 'correct horse battery';

  async function sealed(base = identity('Rich'), passphrase = PASS): Promise<string> {
    return exportSealedIdentity(base, NOW, passphrase, { iterations });
  }

  async function openError(text: string, passphrase?: string): Promise<IdentityFileError> {
    const error = await openIdentityFile(text, passphrase).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityFileError);
    return error as IdentityFileError;
  }

  it('round-trips with the passphrase, and keeps no secret key in the clear', async () => {
    const me = identity('Rich');
    const text = await sealed(me);
    expect(text).not.toContain(toHex(me.secretKey));
    const json = JSON.parse(text) as { version: number; sealed: { iterations: number } };
    expect(json.version).toBe(2);
    expect(json.sealed.iterations).toBe(iterations);
    const opened = await openIdentityFile(text, PASS);
    expect(opened).toEqual({ id: me.id, name: 'Rich', publicKey: me.publicKey, secretKey: me.secretKey, sealed: true });
  });

  it('says when a passphrase was given for a plain file, which opens without it', async () => {
    const me = identity('Bryan');
    const plain = exportIdentity(me, NOW);
    expect((await openIdentityFile(plain, PASS)).sealed).toBe(false);
    expect((await openIdentityFile(await sealed(me), PASS)).sealed).toBe(true);
    const factory = new IDBFactory();
    const tab = env(factory, new FakeLocks());
    expect(await importIdentity(tab, plain, PASS)).toMatchObject({ id: me.id, passphraseUnused: true });
    expect(await importIdentity(tab, plain, '')).toMatchObject({ passphraseUnused: false });
    expect(await importIdentity(env(new IDBFactory(), new FakeLocks()), await sealed(me), PASS)).toMatchObject({ passphraseUnused: false });
  });

  it('stores what a confirmed import read, as importIdentity would', async () => {
    const me = identity('Bryan');
    const factory = new IDBFactory();
    const tab = env(factory, new FakeLocks());
    const file = await openIdentityFile(await sealed(me), PASS);
    // Nothing is stored until the person confirms.
    expect((await factory.databases()).map((d) => d.name)).toEqual([]);
    expect(await storeImportedIdentity(tab, file)).toEqual({ id: me.id, name: 'Bryan', alreadyStored: false });
    expect(tab.session.getItem(SESSION_KEY)).toBe(me.id);
    expect(await storedRecords(factory)).toHaveLength(1);
  });

  it('asks for the passphrase, and says so when it is wrong', async () => {
    const text = await sealed();
    expect(parseError(text).code).toBe('needs-passphrase');
    expect((await openError(text)).code).toBe('needs-passphrase');
    const wrong = await openError(text, 'not the passphrase at all');
    expect(wrong.code).toBe('wrong-passphrase');
    expect(wrong.message).toMatch(/does not open the identity file/);
  });

  it('does not open when the sealed key is moved into another identity\'s file', async () => {
    const other = identity('Chris');
    const mine = JSON.parse(await sealed()) as Record<string, unknown>;
    const theirs = JSON.parse(await sealed(other)) as Record<string, unknown>;
    const swapped = JSON.stringify({ ...theirs, sealed: mine['sealed'] });
    expect((await openError(swapped, PASS)).code).toBe('wrong-passphrase');
  });

  it('bounds what a file may ask of the import, and checks every field', async () => {
    const json = JSON.parse(await sealed()) as { sealed: Record<string, unknown> };
    const withSealed = (changes: Record<string, unknown>) => JSON.stringify({ ...json, sealed: { ...json.sealed, ...changes } });
    const cases: [string, string, RegExp][] = [
      ['too many rounds', withSealed({ iterations: 1e9 }), /far above/],
      ['too few rounds', withSealed({ iterations: 1000 }), /too weak/],
      ['an unknown method', withSealed({ kdf: 'md5' }), /does not know/],
      ['a short salt', withSealed({ salt: 'ab' }), /salt .* not 16 bytes/],
      ['a cut sealed key', withSealed({ secretKey: 'ab'.repeat(10) }), /sealed secret key .* not 48 bytes/],
      ['no sealed key', JSON.stringify({ ...json, sealed: undefined }), /sealed secret key is missing/],
    ];
    for (const [what, text, message] of cases) {
      const error = await openError(text, PASS);
      expect(error.code, what).toBe('bad-field');
      expect(error.message, what).toMatch(message);
    }
  });

  it('refuses a short passphrase, and rounds or random bytes an import would refuse, on export', async () => {
    await expect(exportSealedIdentity(identity(), NOW, 'eleven char', { iterations })).rejects.toThrow(/at least 12 characters/);
    await expect(exportSealedIdentity(identity(), NOW, PASS, { iterations: 99_999 })).rejects.toThrow(RangeError);
    await expect(exportSealedIdentity(identity(), NOW, PASS, { iterations: 150_000.5 })).rejects.toThrow(RangeError);
    await expect(exportSealedIdentity(identity(), NOW, PASS, { iterations, random: (n) => new Uint8Array(n - 1) })).rejects.toThrow(RangeError);
  });

  it('does not open when someone changed the name without the passphrase', async () => {
    const json = JSON.parse(await sealed()) as Record<string, unknown>;
    expect((await openError(JSON.stringify({ ...json, name: 'Chris' }), PASS)).code).toBe('wrong-passphrase');
  });

  it('imports a sealed file with its passphrase, and stores nothing without it', async () => {
    const factory = new IDBFactory();
    const tab = env(factory);
    const me = identity('Bryan');
    const text = await sealed(me);
    await expect(importIdentity(tab, text)).rejects.toMatchObject({ code: 'needs-passphrase' });
    expect((await factory.databases()).map((d) => d.name)).toEqual([]);
    const result = await importIdentity(tab, text, PASS);
    expect(result).toMatchObject({ id: me.id, name: 'Bryan', alreadyStored: false });
    expect(tab.session.getItem(SESSION_KEY)).toBe(me.id);
  });
});
