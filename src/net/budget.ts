// How many bytes one peer link may deliver: a token bucket. A verified peer is a member, and a
// member may be the liar; without a budget it could keep a tab busy decoding and checking
// whatever it sends, as fast as the channel carries it. What exceeds the budget is dropped and
// counted before it is even decoded.
import { MAX_WIRE_BYTES } from '../core/limits.ts';

/** Sustained bytes per second one link may deliver: far above what a lunch room ever needs. */
export const LINK_BYTES_PER_SECOND = 1024 * 1024;
/** The burst a link may deliver at once: a few of the largest protocol messages back to back. */
export const LINK_BURST_BYTES = 4 * MAX_WIRE_BYTES;

/** A token bucket of bytes; the clock is passed in, so it is tested without waiting. */
export class ByteBudget {
  private tokens: number;
  private at: number;

  constructor(
    now: number,
    private readonly perSecond = LINK_BYTES_PER_SECOND,
    private readonly burst = LINK_BURST_BYTES,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Spend `bytes` at time `now` (milliseconds); false, spending nothing, when the budget is short. */
  take(bytes: number, now: number): boolean {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
      this.at = now;
    }
    if (bytes > this.tokens) return false;
    this.tokens -= bytes;
    return true;
  }
}
