// What the tab tells its user when something keeps it from taking part normally. Each text says
// what happened and what the user can do, if anything.

/** The text of a thrown value. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The stored roster says one size and the link another: the user opened the wrong link. */
export function sizeMismatch(room: string, stored: number, linked: number): string {
  return `This member joined room ${room} as one of ${stored}; the link says ${linked}. Open the room with its original link.`;
}

/** How many stored records another version of the app wrote, by which side of this one it is. */
export interface OtherVersions {
  readonly older: number;
  readonly newer: number;
}

/**
 * What a restore found wrong with the stored records, or null when the tab is whole. A tab that
 * is not amnesic has nothing to report, even with bad records in store: they came before a
 * recovery that has settled (compaction keeps what it cannot read), so they no longer matter.
 * Records of another version are not damage: they get their own text, since what the user can
 * do differs. `needed` is how many members that kept their records a recovery takes (2f + 1).
 */
export function restoreProblem(unreadable: number, amnesia: boolean, versions: OtherVersions = { older: 0, newer: 0 }, needed = 3): string | null {
  if (!amnesia) return null;
  const recovers = 'this tab recovers with the others’ help and takes part again once that is safe.';
  if (versions.newer > 0) {
    return `This tab’s records of the room were saved by a newer version of Byzantine Lunch, so it cannot use them: reload the page to get that version. Until then ${recovers}`;
  }
  if (versions.older > 0) {
    // An amnesic member signs no votes, so its recovery is ordered by others that kept their
    // records; after an update that changed the record version, members of an old room rarely
    // have (and a changed handshake keeps old and new tabs apart anyway).
    return `This tab’s records of the room were saved by an older version of Byzantine Lunch and cannot be used. ` +
      `It can take part again only with the help of ${needed} other members that kept their records and run this version, ` +
      'which a room from before the update rarely has: start a new room.';
  }
  if (unreadable > 0) {
    return `${unreadable} stored protocol record(s) could not be read and were not used; ${recovers}`;
  }
  return 'This tab’s protocol records are gone; it recovers with the others’ help and takes part again once that is safe.';
}

/**
 * A write failed. The replica then holds signatures that are not durable, which it must not
 * retransmit, so the tab stops taking part until it is reloaded.
 */
export function storageFailed(e: unknown): string {
  return `Storage failed, so this tab stopped taking part: ${errorText(e)} Reload the tab.`;
}
