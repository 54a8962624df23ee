import { describe, expect, it } from 'vitest';
import { MAX_WIRE_BYTES } from '../core/limits.ts';
import { LINK_BURST_BYTES, LINK_BYTES_PER_SECOND, TokenBucket } from './budget.ts';

describe('a link byte budget', () => {
  it('lets the largest message through in a burst, then holds a flood to the sustained rate', () => {
    const b = new TokenBucket(LINK_BYTES_PER_SECOND, LINK_BURST_BYTES, 0);
    for (let i = 0; i < LINK_BURST_BYTES / MAX_WIRE_BYTES; i++) expect(b.take(0, MAX_WIRE_BYTES)).toBe(true);
    expect(b.take(0, 1)).toBe(false);
    // A flood of 16 KiB frames over ten seconds gets the rate, not more.
    let delivered = 0;
    for (let t = 0; t <= 10_000; t += 1) if (b.take(t, 16 * 1024)) delivered += 16 * 1024;
    expect(delivered).toBeLessThanOrEqual(10 * LINK_BYTES_PER_SECOND + 16 * 1024);
    expect(delivered).toBeGreaterThan(9 * LINK_BYTES_PER_SECOND);
  });

  it('refills to the burst and no further, and a clock going back spends nothing', () => {
    const b = new TokenBucket(1000, 5000, 0);
    expect(b.take(0, 5000)).toBe(true);
    expect(b.take(100_000, 1)).toBe(true);
    expect(b.take(100_000, 5000)).toBe(false);
    expect(b.take(50, 4999)).toBe(true);
    expect(b.take(50, 1)).toBe(false);
  });
});
