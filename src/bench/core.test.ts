import { describe, expect, it } from 'vitest';
import { formatCoreBench, runCoreBench } from './core.ts';

describe('core bench', () => {
  it('drives a real-signature cluster and accounts for where the time goes', async () => {
    const result = await runCoreBench({ durationMs: 300, suites: ['node'], micro: false });
    const [s] = result.suites;
    expect(s).toBeDefined();
    expect(s!.agreedRequests).toBeGreaterThan(0);
    expect(s!.cpuMsPerRequest).toBeGreaterThan(0);
    expect(s!.sign.count).toBeGreaterThan(0);
    expect(s!.verify.count).toBeGreaterThan(s!.sign.count);
    for (const share of [s!.sign.share, s!.verify.share, s!.encoding.share, s!.otherShare]) {
      expect(share).toBeGreaterThanOrEqual(0);
      expect(share).toBeLessThanOrEqual(1.5); // estimates, but not wildly off
    }
    expect(s!.fallbacks).toBe(0); // honest members: OpenSSL accepts every signature itself
    expect(formatCoreBench(result)).toContain('ed25519-node');
  }, 60_000);
});
