// Small building blocks for the signaling server's budgets: a token bucket driven by an injected
// clock, and the key under which a remote address is accounted. Node only (the browser bundle
// shares src/net/signaling-frames.ts, never this file).
import { isIPv4, isIPv6 } from 'node:net';

/**
 * A token bucket: `rate` tokens per second up to `burst`. Time comes from the caller, so the
 * server's injected clock drives it and a test can freeze or jump it.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly rate: number, private readonly burst: number, at: number) {
    this.tokens = burst;
    this.last = at;
  }

  private refill(at: number): void {
    // A clock that steps backwards must not mint tokens (or take them away).
    const elapsed = Math.max(0, at - this.last);
    this.last = Math.max(this.last, at);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.rate);
  }

  /** Takes `n` tokens if there are that many; a cost above the burst can never be paid. */
  take(at: number, n = 1): boolean {
    this.refill(at);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** True when the bucket is full: everything taken earlier has been earned back. */
  full(at: number): boolean {
    this.refill(at);
    return this.tokens >= this.burst;
  }

  /** Milliseconds until one token is available (0 when one is). */
  msUntilToken(at: number): number {
    this.refill(at);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}

/**
 * The key under which a remote address is counted against per-address limits: an IPv4 address
 * as itself (also when it arrives IPv4-mapped), an IPv6 address by its /64, since one host or
 * one home line commonly holds a whole /64 and could otherwise step around any per-address cap.
 */
export function addressKey(remote: string | undefined): string {
  if (remote === undefined || remote === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (mapped) return mapped[1]!;
  if (isIPv4(remote)) return remote;
  if (!isIPv6(remote)) return 'unknown';
  const zoneless = remote.split('%')[0]!.toLowerCase();
  const [head = '', tail = ''] = zoneless.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === '' ? [] : tail.split(':');
  const missing = 8 - headParts.length - tailParts.length;
  const groups = zoneless.includes('::') ? [...headParts, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailParts] : headParts;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
