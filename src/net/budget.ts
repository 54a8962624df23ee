// Token buckets: how many bytes one peer link may deliver (and, in the signaling server, how many
// joins, requests and relayed bytes one address or sender may spend). A verified peer is a
// member, and a member may be the liar; without a budget it could keep a tab busy decoding and
// checking whatever it sends, as fast as the channel carries it. What exceeds a link's budget is
// dropped and counted before it is even decoded.
import { MAX_WIRE_BYTES } from '../core/limits.ts';

/** Sustained bytes per second one link may deliver: far above what a lunch room ever needs. */
export const LINK_BYTES_PER_SECOND = 1024 * 1024;
/** The burst a link may deliver at once: a few of the largest protocol messages back to back. */
export const LINK_BURST_BYTES = 4 * MAX_WIRE_BYTES;

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
