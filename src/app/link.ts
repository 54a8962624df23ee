// The room link is user input: everything read from it is checked before use.
import * as v from 'valibot';
import { DEFAULT_ROOM_SIZE, ROOM_SIZES, RoomId, type RoomSize } from '../net/signaling-frames.ts';

/** The room a link leads to, and its size. */
export interface RoomLink {
  /** The room's id, checked against RoomId. */
  readonly room: string;
  /** How many members the room has (`n` in the link; 4 when it says none). */
  readonly size: RoomSize;
  /** True when the link named no room and one was made up for it. */
  readonly generated: boolean;
}

/** A checked link, or what is wrong with it in words for the user. */
export type LinkResult = { ok: true; link: RoomLink } | { ok: false; message: string };

/**
 * Reads a link's query string (`?room=…&n=…`). A link without a room gets a new one from
 * `newRoomId`; anything else that is not valid is refused with a message, never repaired.
 */
export function parseRoomLink(search: string, newRoomId: () => string): LinkResult {
  const params = new URLSearchParams(search);
  const rawRoom = params.get('room');
  const rawSize = params.get('n');
  let size: RoomSize = DEFAULT_ROOM_SIZE;
  if (rawSize !== null) {
    const n = Number(rawSize);
    if (!(ROOM_SIZES as readonly number[]).includes(n) || String(n) !== rawSize) {
      return { ok: false, message: `The link asks for a room of n=${JSON.stringify(rawSize)} members; n must be ${ROOM_SIZES.join(', ')}.` };
    }
    size = n as RoomSize;
  }
  if (rawRoom === null || rawRoom === '') return { ok: true, link: { room: newRoomId(), size, generated: true } };
  if (!v.is(RoomId, rawRoom)) {
    return { ok: false, message: `The room name in the link is not valid: use 1 to 64 letters, digits, "-" or "_".` };
  }
  return { ok: true, link: { room: rawRoom, size, generated: false } };
}

/** The query string that leads back to `link`, leaving out the default size. */
export function roomLinkSearch(link: RoomLink): string {
  const params = new URLSearchParams({ room: link.room });
  if (link.size !== DEFAULT_ROOM_SIZE) params.set('n', String(link.size));
  return `?${params}`;
}
