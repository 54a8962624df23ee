// Exporting and importing an identity as a small JSON file.
//
// A member whose secret key is gone counts as faulty for good, so a person can save their
// identity and bring it back (after clearing site data, or into another browser). A plain file
// (version 1) holds the secret key in hex: whoever has the file can act as that member. A sealed
// file (version 2) holds it encrypted under a passphrase: AES-GCM with a key derived by PBKDF2,
// bound to the file's public key and name. Whoever reads a sealed file must still guess the
// passphrase, offline and as often as they like: it is only as good as the passphrase is long.
//
// An imported file is a trust boundary like storage: it is validated in full, including that the
// secret key really belongs to the public key and that the public key is an acceptable Ed25519
// key, and every problem is reported in a sentence a person can act on.
import * as v from 'valibot';
import { KEY_BYTES, equalBytes, fingerprint, fromHex, isAcceptablePublicKey, publicKeyOf, toHex } from '../crypto/ed25519.ts';
import { IdentityError, SESSION_KEY, normalizeName, storeIdentityRecord } from './identity.ts';
import type { IdentityEnv } from './identity.ts';

export const IDENTITY_FILE_FORMAT = 'byzantine-lunch-identity';
/** The version of a plain file, which holds the secret key in hex. */
export const IDENTITY_FILE_VERSION = 1;
/** The version of a sealed file, which holds the secret key encrypted under a passphrase. */
export const SEALED_FILE_VERSION = 2;
/** PBKDF2-SHA256 rounds for a new sealed file (a fraction of a second in a browser). */
export const SEALED_ITERATIONS = 600_000;
/** What a sealed file may ask of an import: fewer rounds would be weak, more a way to stall a tab. */
export const SEALED_ITERATIONS_RANGE: readonly [number, number] = [100_000, 2_000_000];
/** The shortest passphrase a sealed export accepts. */
export const MIN_PASSPHRASE_LENGTH = 12;
/** Far above any real identity file (about 300 bytes); anything larger is not one. */
export const IDENTITY_FILE_MAX_LENGTH = 16 * 1024;

export type IdentityFileErrorCode =
  | 'not-json'
  | 'wrong-format'
  | 'wrong-version'
  | 'bad-field'
  | 'bad-name'
  | 'bad-key'
  | 'key-mismatch'
  | 'needs-passphrase'
  | 'wrong-passphrase';

export class IdentityFileError extends Error {
  override readonly name = 'IdentityFileError';
  readonly code: IdentityFileErrorCode;

  constructor(code: IdentityFileErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface ExportableIdentity {
  readonly id: string;
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly name: string;
}

export interface IdentityFileContents {
  readonly id: string;
  readonly name: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  /** The file was sealed under a passphrase; false for a plain file, which needs none. */
  readonly sealed: boolean;
}

// ---------------------------------------------------------------------------------------------
// Export

/**
 * The identity as JSON text (pure: `now` is the export time, in ms since the epoch or a Date).
 * Throws when the identity is inconsistent, so a broken file is never produced.
 */
export function exportIdentity(identity: ExportableIdentity, now: number | Date): string {
  const date = checkExportable(identity, now);
  const file = {
    format: IDENTITY_FILE_FORMAT,
    version: IDENTITY_FILE_VERSION,
    name: identity.name,
    publicKey: toHex(identity.publicKey),
    secretKey: toHex(identity.secretKey),
    exportedAt: date.toISOString(),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/**
 * The identity as JSON text with its secret key sealed under `passphrase` (at least
 * MIN_PASSPHRASE_LENGTH characters). `random` supplies the salt and nonce (tests pass their own).
 * Throws a TypeError for an inconsistent identity and a RangeError for a short passphrase.
 */
export async function exportSealedIdentity(
  identity: ExportableIdentity,
  now: number | Date,
  passphrase: string,
  options: { iterations?: number; random?: (bytes: number) => Uint8Array } = {},
): Promise<string> {
  const date = checkExportable(identity, now);
  if (typeof passphrase !== 'string' || [...passphrase].length < MIN_PASSPHRASE_LENGTH) {
    throw new RangeError(`A passphrase needs at least ${MIN_PASSPHRASE_LENGTH} characters.`);
  }
  const iterations = options.iterations ?? SEALED_ITERATIONS;
  // What an import refuses is never written.
  if (!Number.isInteger(iterations) || iterations < SEALED_ITERATIONS_RANGE[0] || iterations > SEALED_ITERATIONS_RANGE[1]) {
    throw new RangeError(`Sealing rounds must be a whole number from ${SEALED_ITERATIONS_RANGE[0]} to ${SEALED_ITERATIONS_RANGE[1]}.`);
  }
  const random = options.random ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  const salt = random(SALT_BYTES);
  const iv = random(IV_BYTES);
  if (salt.length !== SALT_BYTES || iv.length !== IV_BYTES) throw new RangeError('The random source gave the wrong number of bytes.');
  const key = await sealingKey(passphrase, salt, iterations);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv as BufferSource, additionalData: sealedContext(identity.publicKey, identity.name) }, key, identity.secretKey as BufferSource),
  );
  const file = {
    format: IDENTITY_FILE_FORMAT,
    version: SEALED_FILE_VERSION,
    name: identity.name,
    publicKey: toHex(identity.publicKey),
    sealed: { kdf: SEALED_KDF, iterations, salt: toHex(salt), iv: toHex(iv), secretKey: toHex(sealed) },
    exportedAt: date.toISOString(),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Throws unless the identity's keys and id agree; returns the export time as a Date. */
function checkExportable(identity: ExportableIdentity, now: number | Date): Date {
  const { id, secretKey, publicKey } = identity;
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_BYTES || !(secretKey instanceof Uint8Array) || secretKey.length !== KEY_BYTES) {
    throw new TypeError(`An identity's keys must be ${KEY_BYTES} bytes each.`);
  }
  if (id !== toHex(publicKey)) throw new TypeError('The identity id does not match its public key.');
  if (!equalBytes(publicKeyOf(secretKey), publicKey)) throw new TypeError('The identity secret key does not match its public key.');
  const date = now instanceof Date ? now : new Date(now);
  if (Number.isNaN(date.getTime())) throw new TypeError('The export time is not a valid date.');
  return date;
}

const SEALED_KDF = 'PBKDF2-SHA256';
const SALT_BYTES = 16;
const IV_BYTES = 12;
/** AES-GCM's tag follows the 32 encrypted bytes. */
const SEALED_BYTES = KEY_BYTES + 16;

async function sealingKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase.normalize('NFC')), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as BufferSource, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/**
 * What the ciphertext is bound to: a sealed key moved into another identity's file does not
 * open, and neither does a file whose name someone changed without the passphrase.
 */
function sealedContext(publicKey: Uint8Array, name: string): BufferSource {
  return new TextEncoder().encode(JSON.stringify([IDENTITY_FILE_FORMAT, SEALED_FILE_VERSION, toHex(publicKey), name]));
}

/** A file name for the download, e.g. `byzantine-lunch-James-3fa2-91c0.json`. */
export function identityFileName(identity: Pick<ExportableIdentity, 'name' | 'publicKey'>): string {
  const safe = identity.name.replace(/[^\p{L}\p{N}_-]+/gu, '-').replace(/^-+|-+$/g, '').slice(0, 32) || 'member';
  const short = fingerprint(identity.publicKey).split(' ').slice(0, 2).join('-');
  return `byzantine-lunch-${safe}-${short}.json`;
}

// ---------------------------------------------------------------------------------------------
// Parse

const DAMAGED = 'the file is damaged or was edited';

const hexKey = (what: string) =>
  v.pipe(
    v.string(`The ${what} in this identity file is missing or is not text; ${DAMAGED}.`),
    v.check(
      (s) => /^[0-9a-fA-F]*$/.test(s),
      `The ${what} in this identity file is not hexadecimal; ${DAMAGED}.`,
    ),
    v.check(
      (s) => s.length === KEY_BYTES * 2,
      (issue) =>
        `The ${what} in this identity file has ${String((issue.input as string).length)} hex digits instead of ${KEY_BYTES * 2} ` +
        `(${KEY_BYTES} bytes); ${DAMAGED}.`,
    ),
  );

// Checked in this order, stopping at the first problem: the format first, so that any other JSON
// file is reported as "not an identity file" rather than by its first odd field.
const FormatSchema = v.object(
  {
    format: v.literal(
      IDENTITY_FILE_FORMAT,
      'This is not a Byzantine Lunch identity file. Choose the .json file that “Export identity” saved.',
    ),
  },
  'This is not a Byzantine Lunch identity file. Choose the .json file that “Export identity” saved.',
);

/** The message for a missing field (valibot reports those on the object, not on the field). */
function missingField(labels: Record<string, string>) {
  return (issue: v.ObjectIssue): string => {
    const step = issue.path?.[0];
    const key = step && typeof step.key === 'string' ? step.key : /^"(.*)"$/.exec(issue.expected ?? '')?.[1];
    const label = key !== undefined ? labels[key] : undefined;
    if (issue.input === undefined && label) return `The ${label} is missing from this identity file; ${DAMAGED}.`;
    return 'This is not a Byzantine Lunch identity file. Choose the .json file that “Export identity” saved.';
  };
}

const VersionSchema = v.object({
  version: v.picklist([IDENTITY_FILE_VERSION, SEALED_FILE_VERSION], (issue) =>
    typeof issue.input === 'number'
      ? `This identity file has format version ${issue.input}, but this version of Byzantine Lunch reads versions ` +
        `${IDENTITY_FILE_VERSION} and ${SEALED_FILE_VERSION} only. Open it with the version of the app that exported it, or reload to update this one.`
      : `This identity file does not say which format version it has; ${DAMAGED}.`,
  ),
}, (issue) => (issue.input === undefined ? `This identity file does not say which format version it has; ${DAMAGED}.` : 'This identity file could not be read.'));

const FieldsSchema = v.object({
  name: v.string(`The name in this identity file is missing or is not text; ${DAMAGED}.`),
  publicKey: hexKey('public key'),
  secretKey: hexKey('secret key'),
  exportedAt: v.optional(v.string(`The export date in this identity file is not text; ${DAMAGED}.`)),
}, missingField({ name: 'name', publicKey: 'public key', secretKey: 'secret key' }));

const hex = (what: string, bytes: number) =>
  v.pipe(
    v.string(`The ${what} in this identity file is missing or is not text; ${DAMAGED}.`),
    v.regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `The ${what} in this identity file is not ${bytes} bytes of hexadecimal; ${DAMAGED}.`),
  );

const SealedSchema = v.object({
  name: v.string(`The name in this identity file is missing or is not text; ${DAMAGED}.`),
  publicKey: hexKey('public key'),
  sealed: v.object({
    kdf: v.literal(SEALED_KDF, `This identity file is sealed in a way this version of Byzantine Lunch does not know; ${DAMAGED}.`),
    iterations: v.pipe(
      v.number(`The sealing strength in this identity file is missing; ${DAMAGED}.`),
      v.integer(`The sealing strength in this identity file is not a whole number; ${DAMAGED}.`),
      v.minValue(SEALED_ITERATIONS_RANGE[0], `The sealing strength in this identity file is too weak to trust; ${DAMAGED}.`),
      v.maxValue(SEALED_ITERATIONS_RANGE[1], `The sealing strength in this identity file is far above what Byzantine Lunch writes; ${DAMAGED}.`),
    ),
    salt: hex('salt', SALT_BYTES),
    iv: hex('nonce', IV_BYTES),
    secretKey: hex('sealed secret key', SEALED_BYTES),
  }, `The sealed secret key in this identity file is missing; ${DAMAGED}.`),
  exportedAt: v.optional(v.string(`The export date in this identity file is not text; ${DAMAGED}.`)),
}, missingField({ name: 'name', publicKey: 'public key', sealed: 'sealed secret key' }));

function firstIssue(schema: v.GenericSchema, value: unknown): string | null {
  const result = v.safeParse(schema, value, { abortEarly: true });
  return result.success ? null : (result.issues[0]?.message ?? 'This identity file could not be read.');
}

/**
 * Reads an identity file. Throws an `IdentityFileError` whose message says what is wrong: not
 * JSON, not an identity file, another format version, a missing or malformed field, an unusable
 * name, a public key that is not an acceptable Ed25519 key, or a secret key of another identity.
 */
export function parseIdentityFile(text: string): IdentityFileContents {
  const json = readIdentityJson(text);
  if (isSealed(json)) {
    throw new IdentityFileError('needs-passphrase', 'This identity file is sealed with a passphrase. Enter the passphrase it was saved with.');
  }
  const fields = v.safeParse(FieldsSchema, json, { abortEarly: true });
  if (!fields.success) {
    throw new IdentityFileError('bad-field', fields.issues[0]?.message ?? 'This identity file could not be read.');
  }
  return { ...checkedContents(fields.output.name, fields.output.publicKey, fields.output.secretKey), sealed: false };
}

/**
 * Reads a plain or a sealed identity file; a sealed one opens with its `passphrase`. A plain file
 * needs none, and one given is not used: `sealed: false` says so, for the caller to tell the
 * person who typed it. Throws an `IdentityFileError`: as `parseIdentityFile` does, and
 * `needs-passphrase` (none given for a sealed file) or `wrong-passphrase` (it does not open the
 * file, or the file was altered).
 */
export async function openIdentityFile(text: string, passphrase?: string): Promise<IdentityFileContents> {
  const json = readIdentityJson(text);
  if (!isSealed(json)) return parseIdentityFile(text);
  if (typeof passphrase !== 'string' || passphrase === '') {
    throw new IdentityFileError('needs-passphrase', 'This identity file is sealed with a passphrase. Enter the passphrase it was saved with.');
  }
  const fields = v.safeParse(SealedSchema, json, { abortEarly: true });
  if (!fields.success) {
    throw new IdentityFileError('bad-field', fields.issues[0]?.message ?? 'This identity file could not be read.');
  }
  const { name, publicKey, sealed } = fields.output;
  // The cheap checks first: a hostile file costs no key derivation for a name or key it cannot use.
  checkedName(name);
  const publicBytes = checkedPublicKey(publicKey);
  let secretKey: Uint8Array;
  try {
    const key = await sealingKey(passphrase, fromHex(sealed.salt.toLowerCase()), sealed.iterations);
    secretKey = new Uint8Array(await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromHex(sealed.iv.toLowerCase()) as BufferSource, additionalData: sealedContext(publicBytes, name) },
      key,
      fromHex(sealed.secretKey.toLowerCase()) as BufferSource,
    ));
  } catch (error) {
    throw new IdentityFileError(
      'wrong-passphrase',
      'This passphrase does not open the identity file. Check it and try again (the file may also have been altered).',
      { cause: error },
    );
  }
  return { ...checkedContents(name, publicKey, toHex(secretKey)), sealed: true };
}

/** The file's JSON, once its size, its syntax, its format and its version are right. */
function readIdentityJson(text: string): unknown {
  if (typeof text !== 'string') throw new IdentityFileError('not-json', 'An identity file must be read as text.');
  if (text.length > IDENTITY_FILE_MAX_LENGTH) {
    throw new IdentityFileError(
      'wrong-format',
      'This file is far too large to be a Byzantine Lunch identity file. Choose the .json file that “Export identity” saved.',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new IdentityFileError(
      'not-json',
      `This file is not an identity file: it is not valid JSON (${error instanceof Error ? error.message : String(error)}). ` +
        'Choose the .json file that “Export identity” saved.',
      { cause: error },
    );
  }
  const formatProblem = firstIssue(FormatSchema, json);
  if (formatProblem) throw new IdentityFileError('wrong-format', formatProblem);
  const versionProblem = firstIssue(VersionSchema, json);
  if (versionProblem) throw new IdentityFileError('wrong-version', versionProblem);
  return json;
}

function isSealed(json: unknown): boolean {
  return (json as { version?: unknown }).version === SEALED_FILE_VERSION;
}

function checkedName(rawName: string): string {
  try {
    return normalizeName(rawName);
  } catch (error) {
    const why = error instanceof IdentityError ? error.message : String(error);
    throw new IdentityFileError('bad-name', `The name in this identity file cannot be used: ${why}`, { cause: error });
  }
}

function checkedPublicKey(publicHex: string): Uint8Array {
  const publicKey = fromHex(publicHex.toLowerCase());
  if (!isAcceptablePublicKey(publicKey)) {
    throw new IdentityFileError(
      'bad-key',
      'The public key in this identity file is not an acceptable Ed25519 key (a non-canonical or small-order point); ' +
        `${DAMAGED}, and cannot be used.`,
    );
  }
  return publicKey;
}

/** The name and keys checked as one identity: a usable name, an acceptable key, a matching secret. */
function checkedContents(rawName: string, publicHex: string, secretHex: string): Omit<IdentityFileContents, 'sealed'> {
  const name = checkedName(rawName);
  const publicKey = checkedPublicKey(publicHex);
  const secretKey = fromHex(secretHex.toLowerCase());
  let derived: Uint8Array | null;
  try {
    derived = publicKeyOf(secretKey);
  } catch {
    derived = null;
  }
  if (!derived || !equalBytes(derived, publicKey)) {
    throw new IdentityFileError(
      'key-mismatch',
      `The secret key in this identity file does not belong to its public key; ${DAMAGED}. ` +
        'Export the identity again from a tab that still has it.',
    );
  }
  return { id: toHex(publicKey), name, publicKey, secretKey };
}

// ---------------------------------------------------------------------------------------------
// Import

export interface ImportedIdentity {
  readonly id: string;
  /** The name the identity has in this browser (the stored one when it was already there). */
  readonly name: string;
  /** True when this browser already held the identity: nothing was written to IndexedDB. */
  readonly alreadyStored: boolean;
  /** A passphrase was given for a plain file, which opened without it: the caller says so. */
  readonly passphraseUnused: boolean;
}

/**
 * Reads an identity file, stores the identity (unless it is already stored) and remembers it in
 * sessionStorage, so that this tab claims it after the caller reloads the page. A sealed file
 * needs its `passphrase`. Throws an `IdentityFileError` for a bad file (or a missing or wrong
 * passphrase) and an `IdentityError` when storage fails.
 *
 * If another tab of this browser is using the identity right now, the reload cannot claim it and
 * takes another one, exactly as a duplicated tab would.
 */
export async function importIdentity(env: IdentityEnv, text: string, passphrase?: string): Promise<ImportedIdentity> {
  const file = await openIdentityFile(text, passphrase);
  const stored = await storeImportedIdentity(env, file);
  return { ...stored, passphraseUnused: !file.sealed && typeof passphrase === 'string' && passphrase !== '' };
}

/**
 * Stores an identity read from a file (unless it is already stored) and remembers it in
 * sessionStorage, so that this tab claims it after the caller reloads the page: the second half
 * of `importIdentity`, for a caller that asks the person to confirm in between.
 */
export async function storeImportedIdentity(env: IdentityEnv, file: IdentityFileContents): Promise<Omit<ImportedIdentity, 'passphraseUnused'>> {
  const { outcome, record } = await storeIdentityRecord(env, {
    v: 1,
    id: file.id,
    secretKey: file.secretKey,
    publicKey: file.publicKey,
    name: file.name,
    createdAt: env.now(),
  });
  try {
    env.session.setItem(SESSION_KEY, record.id);
  } catch {
    // Without sessionStorage the reload takes the oldest free identity instead; still stored.
  }
  return { id: record.id, name: record.name, alreadyStored: outcome === 'already-stored' };
}
