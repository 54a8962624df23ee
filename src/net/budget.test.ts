import { describe, expect, it } from 'vitest';
import { MAX_WIRE_BYTES } from '../core/limits.ts';
import { ByteBudget, LINK_BURST_BYTES, LINK_BYTES_PER_SECOND } from './budget.ts';

describe('a link byte budget', () => {
  it('lets the largest message through in a burst, then holds a flood to the sustained rate', () => {
    const b = new ByteBudget(0);
    for (let i = 0; i < LINK_BURST_BYTES / MAX_WIRE_BYTES; i++) expect(b.take(MAX_WIRE_BYTES, 0)).toBe(true);
    expect(b.take(1, 0)).toBe(false);
    // A flood of 16 KiB frames over ten seconds gets the rate, not more.
    let delivered = 0;
    for (let t = 0; t <= 10_000; t += 1) if (b.take(16 * 1024, t)) delivered += 16 * 1024;
    expect(delivered).toBeLessThanOrEqual(10 * LINK_BYTES_PER_SECOND + 16 * 1024);
    expect(delivered).toBeGreaterThan(9 * LINK_BYTES_PER_SECOND);
  });

  it('refills to the burst and no further, and a clock going back spends nothing', () => {
    const b = new ByteBudget(0, 1000, 5000);
    expect(b.take(5000, 0)).toBe(true);
    expect(b.take(1, 100_000)).toBe(true);
    expect(b.take(5000, 100_000)).toBe(false);
    expect(b.take(4999, 50)).toBe(true);
    expect(b.take(1, 50)).toBe(false);
  });
});
