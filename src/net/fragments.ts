// Data channels deliver messages of about 16 KiB everywhere; protocol messages (view changes, new
// views, state chunks) can be larger. A large message travels as numbered fragments and is put
// back together on arrival, with caps so that a peer cannot make us hold unbounded memory.
import { MAX_WIRE_BYTES } from '../core/limits.ts';

/** Data carried by one fragment: leaves room for the frame's envelope below MAX_FRAME_BYTES (wire.ts). */
export const FRAGMENT_BYTES = 15 * 1024;
const MAX_PARTIAL = 4;

export interface Fragment {
  readonly id: number;
  readonly index: number;
  readonly total: number;
  readonly data: Uint8Array;
}

/**
 * The fragments of one message, or null when it is larger than any peer reassembles: the caller
 * counts that as a dropped send. (It once threw, and the throw stopped the tab.)
 */
export function split(id: number, bytes: Uint8Array): Fragment[] | null {
  if (bytes.length > MAX_WIRE_BYTES) return null;
  const total = Math.max(1, Math.ceil(bytes.length / FRAGMENT_BYTES));
  return Array.from({ length: total }, (_, index) => ({
    id, index, total, data: bytes.subarray(index * FRAGMENT_BYTES, (index + 1) * FRAGMENT_BYTES),
  }));
}

export type Assembled = { done: true; bytes: Uint8Array } | { done: false; problem?: string };

/** Reassembles fragments from one peer. Fragments of one message arrive in order on a reliable channel. */
export class Reassembler {
  private readonly partial = new Map<number, { total: number; parts: Uint8Array[]; size: number }>();

  add(f: Fragment): Assembled {
    if (f.total < 1 || f.total * FRAGMENT_BYTES > MAX_WIRE_BYTES + FRAGMENT_BYTES || f.index >= f.total || f.data.length > FRAGMENT_BYTES) {
      return { done: false, problem: 'fragment out of bounds' };
    }
    if (f.total === 1) return { done: true, bytes: f.data };
    let p = this.partial.get(f.id);
    if (!p) {
      if (f.index !== 0) return { done: false, problem: 'fragment without its start' };
      if (this.partial.size >= MAX_PARTIAL) this.partial.delete(this.partial.keys().next().value!);
      p = { total: f.total, parts: [], size: 0 };
      this.partial.set(f.id, p);
    }
    if (f.total !== p.total || f.index !== p.parts.length) {
      this.partial.delete(f.id);
      return { done: false, problem: 'fragments out of order' };
    }
    p.parts.push(f.data);
    p.size += f.data.length;
    if (p.parts.length < p.total) return { done: false };
    this.partial.delete(f.id);
    const out = new Uint8Array(p.size);
    let at = 0;
    for (const part of p.parts) {
      out.set(part, at);
      at += part.length;
    }
    return { done: true, bytes: out };
  }
}
