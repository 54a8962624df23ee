import { describe, expect, it } from 'vitest';
import { MAX_WIRE_BYTES } from '../core/limits.ts';
import { FRAGMENT_BYTES, Reassembler, split } from './fragments.ts';

describe('fragments', () => {
  it('splits and reassembles messages of every size', () => {
    for (const size of [0, 1, FRAGMENT_BYTES, FRAGMENT_BYTES + 1, 5 * FRAGMENT_BYTES + 7, 300_000]) {
      const bytes = Uint8Array.from({ length: size }, (_, i) => i % 251);
      const r = new Reassembler();
      const parts = split(7, bytes)!;
      expect(parts.every((p) => p.data.length <= FRAGMENT_BYTES)).toBe(true);
      const results = parts.map((p) => r.add(p));
      expect(results.slice(0, -1).every((x) => !x.done)).toBe(true);
      expect(results.at(-1)).toEqual({ done: true, bytes });
    }
  });

  it('refuses oversize, out-of-order and unbounded input', () => {
    // The largest protocol message still goes; one byte more is refused without a throw, which
    // the mesh counts as a dropped send (a throw there once stopped the tab).
    expect(split(1, new Uint8Array(MAX_WIRE_BYTES))?.length).toBe(Math.ceil(MAX_WIRE_BYTES / FRAGMENT_BYTES));
    expect(split(1, new Uint8Array(MAX_WIRE_BYTES + 1))).toBeNull();
    const r = new Reassembler();
    const parts = split(1, new Uint8Array(3 * FRAGMENT_BYTES))!;
    expect(r.add(parts[1]!)).toEqual({ done: false, problem: 'fragment without its start' });
    r.add(parts[0]!);
    expect(r.add(parts[2]!)).toEqual({ done: false, problem: 'fragments out of order' });
    expect(r.add({ id: 9, index: 0, total: 10_000, data: new Uint8Array(1) }).done).toBe(false);
    // Many abandoned starts do not accumulate.
    for (let id = 100; id < 200; id++) r.add({ id, index: 0, total: 3, data: new Uint8Array(FRAGMENT_BYTES) });
    expect((r as unknown as { partial: Map<number, unknown> }).partial.size).toBeLessThanOrEqual(4);
  });
});
