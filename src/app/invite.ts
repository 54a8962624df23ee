// The words around inviting coworkers: how full the room is, and the tab's title. Pure, so the
// waiting screen's sentences are tested without a browser.
import { DEFAULT_ROOM_SIZE } from '../net/signaling-frames.ts';
import { roomLinkSearch, type RoomLink } from './link.ts';

/** The app's name, as the tab title ends with it. */
export const APP_TITLE = 'Byzantine Lunch';

/** "2 of 4 here — waiting for 2 more", or "All 4 here" once nobody is missing. */
export function waitingLine(here: number, size: number): string {
  const missing = Math.max(0, size - here);
  return missing === 0 ? `All ${size} here` : `${here} of ${size} here — waiting for ${missing} more`;
}

/**
 * The tab title: the member's name first, so that four tabs (or four windows on one desk) can
 * be told apart in the tab strip. A tab that is no member has only the app's name.
 */
export function tabTitle(name: string | null): string {
  return name ? `${name} — ${APP_TITLE}` : APP_TITLE;
}

/** The full link coworkers open to join `link`'s room, on the page at `base` (origin and path). */
export function roomLinkUrl(base: string, link: RoomLink): string {
  return `${base}${roomLinkSearch(link)}`;
}

/** The link to a fresh room of the same size, for a tab that could not join this one. */
export function newRoomUrl(base: string, size: number): string {
  return size === DEFAULT_ROOM_SIZE ? base : `${base}?n=${size}`;
}
