// The numbers side of `npm run bench`: percentiles, the modelled floor of one agreed request, the
// protocol's message count, and the targets. Pure functions, no I/O.

import { NORMAL_CASE_KINDS, type NormalCaseKind } from '../../src/core/messages.ts';

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** What one agreed request costs at the least on this machine, measured part by part. */
export interface FloorParts {
  /** Median data-channel round trip between two tabs, ms. */
  rttMs: number;
  /** One Ed25519 signature (noble, in a tab), ms. */
  signMs: number;
  /** One strict Ed25519 verification (noble, in a tab), ms. */
  verifyMs: number;
  /** One strict-durability IndexedDB write transaction, ms. */
  writeMs: number;
}

export interface FloorModel {
  n: number;
  f: number;
  hops: number;
  signs: number;
  verifies: number;
  writes: number;
  /** Each term of the sum, ms. */
  terms: { hops: number; signs: number; verifies: number; writes: number };
  ms: number;
  formula: string;
}

export const faultsOf = (n: number): number => Math.floor((n - 1) / 3);
export const quorumOf = (n: number): number => 2 * faultsOf(n) + 1;

const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

/**
 * The critical path of one request issued by a backup: request hop to the primary, then the
 * pre-prepare, prepare and commit hops (4 one-way hops); 4 sequential signatures (request,
 * pre-prepare, prepare, commit); the verifications one replica makes on that path, one phase after
 * another on one core (request 1, pre-prepare 1 + its request 1, 2f prepares, 2f + 1 commits); and
 * about 3 durable writes in sequence (request, prepare, commit; the primary's pre-prepare write
 * overlaps the backups' request writes).
 */
export function floorModel(n: number, parts: FloorParts): FloorModel {
  const f = faultsOf(n);
  const hops = 4;
  const signs = 4;
  const verifies = 1 + 2 + 2 * f + (2 * f + 1);
  const writes = 3;
  const terms = {
    hops: hops * (parts.rttMs / 2),
    signs: signs * parts.signMs,
    verifies: verifies * parts.verifyMs,
    writes: writes * parts.writeMs,
  };
  const ms = terms.hops + terms.signs + terms.verifies + terms.writes;
  const formula =
    `floor(n=${n}, f=${f}) = ${hops} hops × RTT/2 ${fmt(parts.rttMs / 2, 3)}` +
    ` + ${signs} signs × ${fmt(parts.signMs, 3)}` +
    ` + ${verifies} verifies × ${fmt(parts.verifyMs, 3)}` +
    ` + ${writes} writes × ${fmt(parts.writeMs, 3)}` +
    ` = ${fmt(terms.hops)} + ${fmt(terms.signs)} + ${fmt(terms.verifies)} + ${fmt(terms.writes)} = ${fmt(ms)} ms`;
  return { n, f, hops, signs, verifies, writes, terms, ms, formula };
}

export interface ViewChangeModel {
  timeoutMs: number;
  /** VIEW-CHANGE hop + NEW-VIEW hop + the request's normal case + q verifies + 2 signs, ms. */
  floorMs: number;
  /** timeout + floor. */
  totalMs: number;
  formula: string;
}

export function viewChangeModel(n: number, parts: FloorParts, requestTimeoutMs: number): ViewChangeModel {
  const normal = floorModel(n, parts);
  const q = quorumOf(n);
  const hops = 2 * (parts.rttMs / 2);
  const floorMs = hops + normal.ms + q * parts.verifyMs + 2 * parts.signMs;
  const formula =
    `vc floor(n=${n}) = 2 hops × ${fmt(parts.rttMs / 2, 3)} + normal floor ${fmt(normal.ms)} + ${q} verifies × ${fmt(parts.verifyMs, 3)}` +
    ` + 2 signs × ${fmt(parts.signMs, 3)} = ${fmt(floorMs)} ms; with the request timeout: ${requestTimeoutMs} + ${fmt(floorMs)} = ${fmt(requestTimeoutMs + floorMs)} ms`;
  return { timeoutMs: requestTimeoutMs, floorMs, totalMs: requestTimeoutMs + floorMs, formula };
}

/** The normal case's message kinds, in order: one column each in the report. */
export const PHASES = NORMAL_CASE_KINDS;
/** One of the normal case's message kinds. */
export type PhaseName = NormalCaseKind;

/** Messages one unbatched request costs in the normal case, by type. */
export function expectedMessages(n: number): Record<PhaseName, number> {
  return { request: n - 1, 'pre-prepare': n - 1, prepare: (n - 1) * (n - 1), commit: n * (n - 1) };
}

export interface Target {
  name: string;
  pass: boolean;
  /** measured / allowed (≤ 1 passes), or measured / required for lower bounds (≥ 1 passes). */
  ratio: number;
  detail: string;
}
