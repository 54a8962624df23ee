/**
 * Test-only: import for its side effect before anything that uses idb.
 *
 * idb recognises IndexedDB objects with `instanceof` against the global constructors, which a
 * browser has and Node does not. This installs fake-indexeddb's classes — but deliberately not a
 * global `indexedDB`, so that every test goes through the factory it injects.
 */
import * as fake from 'fake-indexeddb';

const CLASSES = ['IDBCursor', 'IDBDatabase', 'IDBIndex', 'IDBKeyRange', 'IDBObjectStore', 'IDBRequest', 'IDBTransaction'] as const;

for (const name of CLASSES) Object.assign(globalThis, { [name]: fake[name] });
