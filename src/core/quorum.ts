// Quorum arithmetic for n = 3f + 1, in one place.

/** The sizes that matter in a room of n = 3f + 1 members. */
export interface Quorum {
  readonly n: number;
  /** Most faulty members tolerated. */
  readonly f: number;
  /** 2f + 1: any two quorums share at least one honest member. */
  readonly q: number;
}

/** n, f and 2f + 1 for a room of n members; throws a RangeError unless n = 3f + 1 with f >= 1. */
export function quorumFor(n: number): Quorum {
  if (!Number.isInteger(n) || n < 4 || (n - 1) % 3 !== 0) throw new RangeError(`n must be 3f + 1 with f >= 1, got ${n}`);
  const f = (n - 1) / 3;
  return { n, f, q: 2 * f + 1 };
}

/** The primary of `view`: members take turns, in roster order. */
export function primaryOf(view: number, n: number): number {
  return view % n;
}
