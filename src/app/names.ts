// Who a member is on screen: the name its tab announced, or else the start of its key's
// fingerprint. The fingerprint is hashed once per key: the view asks for every member's on every
// change.
import { fingerprint, fromHex } from '../crypto/ed25519.ts';

/** Keys remembered at most; a room holds at most 10 members, the rest is churn before the roster. */
const FINGERPRINTS_KEPT = 64;

/** Where names come from: this tab's own, and what its verified peers announced. */
export interface NameSources {
  /** This tab's key (hex). */
  readonly me: string;
  myName(): string;
  /** A verified peer's announced name, or null while it has none. */
  peerName(id: string): string | null;
}

/** Members' names and fingerprints, by key or by roster index. */
export class Names {
  private readonly fingerprints = new Map<string, string>();

  constructor(private readonly sources: NameSources) {}

  /** The name of the member with key `id` (hex). */
  of(id: string): string {
    if (id === this.sources.me) return this.sources.myName();
    return this.sources.peerName(id) ?? `member ${this.fingerprintOf(id).slice(0, 4)}`;
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
