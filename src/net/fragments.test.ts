import { describe, expect, it } from 'vitest';
import { FRAGMENT_BYTES, MAX_MESSAGE_BYTES, Reassembler, split } from './fragments.ts';

describe('fragments', () => {
  it('splits and reassembles messages of every size', () => {
    for (const size of [0, 1, FRAGMENT_BYTES, FRAGMENT_BYTES + 1, 5 * FRAGMENT_BYTES + 7, 300_000]) {
      const bytes = Uint8Array.from({ length: size }, (_, i) => i % 251);
      const r = new Reassembler();
      const parts = split(7, bytes);
      expect(parts.every((p) => p.data.length <= FRAGMENT_BYTES)).toBe(true);
      const results = parts.map((p) => r.add(p));
      expect(results.slice(0, -1).every((x) => !x.done)).toBe(true);
      expect(results.at(-1)).toEqual({ done: true, bytes });
    }
  });

  it('refuses oversize, out-of-order and unbounded input', () => {
    expect(() => split(1, new Uint8Array(MAX_MESSAGE_BYTES + 1))).toThrow(RangeError);
    const r = new Reassembler();
    const parts = split(1, new Uint8Array(3 * FRAGMENT_BYTES));
    expect(r.add(parts[1]!)).toEqual({ done: false, problem: 'fragment without its start' });
    r.add(parts[0]!);
    expect(r.add(parts[2]!)).toEqual({ done: false, problem: 'fragments out of order' });
    expect(r.add({ id: 9, index: 0, total: 10_000, data: new Uint8Array(1) }).done).toBe(false);
    // Many abandoned starts do not accumulate.
    for (let id = 100; id < 200; id++) r.add({ id, index: 0, total: 3, data: new Uint8Array(FRAGMENT_BYTES) });
    expect((r as unknown as { partial: Map<number, unknown> }).partial.size).toBeLessThanOrEqual(4);
  });
});
