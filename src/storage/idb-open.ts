/**
 * The one place that turns `IDBFactory.open` into a promise, shared by the identity and room
 * stores. Each store keeps its own wording: it passes in how to build the error for "IndexedDB was
 * refused" and for "the database on disk is newer than this app".
 */
export interface OpenIndexedDBOptions {
  /** Creates or migrates the schema; called from `upgradeneeded` with the version found on disk. */
  upgrade(db: IDBDatabase, oldVersion: number): void;
  /** The error for a refusal: a synchronous throw from `open`, or an `error` event. */
  unavailable(error: unknown): Error;
  /** The error for a `VersionError`: the stored database was written by a newer app. */
  tooNew(error: unknown): Error;
  /** Shown as the browser's reason when an `error` event carries no error at all. */
  fallbackMessage: string;
}

export function openIndexedDB(
  factory: IDBFactory,
  name: string,
  version: number,
  options: OpenIndexedDBOptions,
): Promise<IDBDatabase> {
  return new Promise<IDBDatabase>((resolve, reject) => {
    let request: IDBOpenDBRequest;
    try {
      request = factory.open(name, version);
    } catch (error) {
      reject(options.unavailable(error));
      return;
    }
    request.addEventListener('upgradeneeded', (event) => options.upgrade(request.result, event.oldVersion));
    request.addEventListener('success', () => resolve(request.result));
    request.addEventListener('error', (event) => {
      // Keep the error from also surfacing as an uncaught error on the window.
      event.preventDefault?.();
      let error: unknown;
      try {
        error = request.error;
      } catch (thrown) {
        error = thrown;
      }
      if (isNamedError(error, 'VersionError')) {
        reject(options.tooNew(error));
      } else {
        reject(options.unavailable(error ?? new Error(options.fallbackMessage)));
      }
    });
    // 'blocked' cannot happen while both databases are at version 1 (nothing older exists); ignore it.
  });
}

/** A DOMException (or anything shaped like one) of the given name, e.g. `QuotaExceededError`. */
export function isNamedError(error: unknown, name: string): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === name;
}

/** A storage error as a person reads it: "Name: message", without repeating the name. */
export function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { name, message } = error as { name?: unknown; message?: unknown };
    const n = typeof name === 'string' ? name : '';
    const m = typeof message === 'string' ? message : '';
    if (n && n !== 'Error' && m && !m.startsWith(n)) return `${n}: ${m}`;
    if (m) return m;
    if (n) return n;
  }
  return String(error);
}
