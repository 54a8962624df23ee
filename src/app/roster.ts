// The roster: who the room's members are, fixed once n of them (this tab included) have proven
// their keys to each other. Its fingerprint is what people read aloud to be sure they are in the
// same room with the same members; it covers the room id, the size and every key, in roster order.
import { sha256 } from '@noble/hashes/sha2.js';
import { encode } from 'cborg';
import { toHex } from '../crypto/ed25519.ts';
import type { RoomRoster } from '../storage/room-store.ts';

/** The roster's fingerprint: four groups of four hex digits. */
export function rosterFingerprint(room: string, n: number, keys: readonly string[]): string {
  const digest = sha256(encode(['byzantine-lunch/roster/v1', room, n, keys]));
  return toHex(digest.subarray(0, 8)).match(/.{4}/g)!.join(' ');
}

/**
 * The roster of a room of `n` once this tab (`me`) has n − 1 verified peers, or null before. The
 * first n − 1 verified peers are taken, and the keys are sorted so that every member numbers the
 * roster alike.
 */
export function fixRoster(room: string, n: number, me: string, verified: readonly string[], now: number): RoomRoster | null {
  if (verified.length + 1 < n) return null;
  const keys = [me, ...verified.slice(0, n - 1)].sort();
  return { v: 1, room, n, keys, fingerprint: rosterFingerprint(room, n, keys), me: keys.indexOf(me), fixedAt: now };
}
