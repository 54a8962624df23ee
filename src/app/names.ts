// Who a member is on screen. Once the roster is fixed a member is the name the room agreed for its
// seat (the lunch state holds it, so every tab says the same); before that nobody has a seat, and
// a member is the start of its key's fingerprint, which every tab also sees alike. The fingerprint
// is hashed once per key: the view asks for every member's on every change.
import { fingerprint, fromHex } from '../crypto/ed25519.ts';

/** Keys remembered at most; a room holds at most 10 members, the rest is churn before the roster. */
const FINGERPRINTS_KEPT = 64;

/** Where names come from: the room's agreement. */
export interface NameSources {
  /** The agreed name of the member with key `id` (hex), or null while it has no seat. */
  agreed(id: string): string | null;
}

/** Members' names and fingerprints, by key or by roster index. */
export class Names {
  private readonly fingerprints = new Map<string, string>();

  constructor(private readonly sources: NameSources) {}

  /** The name of the member with key `id` (hex). */
  of(id: string): string {
    return this.sources.agreed(id) ?? unseated(this.fingerprintOf(id));
  }

  /** The name of the member at `index` in `keys`, or `member <index>` when there is none. */
  at(keys: readonly string[] | undefined, index: number): string {
    const id = keys?.[index];
    return id ? this.of(id) : `member ${index}`;
  }

  /** The fingerprint people compare aloud for the key `id` (hex). */
  fingerprintOf(id: string): string {
    let f = this.fingerprints.get(id);
    if (f === undefined) {
      f = fingerprint(fromHex(id));
      if (this.fingerprints.size > FINGERPRINTS_KEPT) this.fingerprints.clear();
      this.fingerprints.set(id, f);
    }
    return f;
  }
}

/** What a member is called before it has a seat: by the fingerprint it will be checked by. */
export function unseated(fingerprint: string): string {
  return `member ${fingerprint.slice(0, 4)}`;
}
