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

/** What a restore found wrong with the stored records, or null when they were whole. */
export function restoreProblem(unreadable: number, amnesia: boolean): string | null {
  if (unreadable > 0) {
    return `${unreadable} stored protocol record(s) could not be read and were not used; ` +
      'this tab recovers with the others’ help and takes part again once that is safe.';
  }
  if (amnesia) return 'This tab’s protocol records are gone; it recovers with the others’ help and takes part again once that is safe.';
  return null;
}

/**
 * A write failed. The replica then holds signatures that are not durable, which it must not
 * retransmit, so the tab stops taking part until it is reloaded.
 */
export function storageFailed(e: unknown): string {
  return `Storage failed, so this tab stopped taking part: ${errorText(e)} Reload the tab.`;
}
