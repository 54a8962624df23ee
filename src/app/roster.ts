// The roster's fingerprint: what people read aloud to be sure they are in the same room with the
// same members. It covers the room id, the size and every member's key, in roster order.
import { sha256 } from '@noble/hashes/sha2.js';
import { encode } from 'cborg';
import { toHex } from '../crypto/ed25519.ts';

export function rosterFingerprint(room: string, n: number, keys: readonly string[]): string {
  const digest = sha256(encode(['byzantine-lunch/roster/v1', room, n, keys]));
  return toHex(digest.subarray(0, 8)).match(/.{4}/g)!.join(' ');
}
