// The big seeded batch: over 10,000 simulated schedules of the real replica, for every fault mix
// (crashes, restarts from durable records, wiped records, long partitions, lying responders,
// every adversary strategy), with n = 4 and n = 7, every invariant checked after every step. Runs are spread over worker
// threads (one per core). A failure prints its seed, the command that replays it and the trace.
//
// SIM_SCALE=0.1 npm run test:unit -- src/sim/seeded.test.ts   runs a tenth of it.
import { availableParallelism } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { LIVENESS_BOUND_MS } from './invariants.ts';
import { runJobs, type Job } from './parallel.ts';
import { scenarioNames } from './scenarios.ts';
import { formatFailure, type RunResult } from './simulator.ts';

const SCALE = Number(process.env.SIM_SCALE ?? '1');
const mixes = scenarioNames();
/**
 * Schedules per fault mix and n, 10,084 in all. An n = 7 run costs about four n = 4 runs; a
 * `restart` run about two light ones, and the heavy mixes (30–60 requests with a partition past
 * garbage collection, or a long workload for a wiped member) about five to fourteen: they get
 * fewer seeds, and n = 7 fewer than n = 4, so that the whole batch takes about as long as it did
 * before they existed (the CLI runs any of them at any count). Every other mix gets LIGHT.
 */
const LIGHT: Record<number, number> = { 4: 725, 7: 70 };
const HEAVY: Record<string, Record<number, number>> = {
  restart: { 4: 200, 7: 40 },
  wipe: { 4: 64, 7: 12 },
  'wipe-revote': { 4: 64, 7: 12 },
  'long-partition': { 4: 64, 7: 12 },
  'lying-state': { 4: 64, 7: 12 },
};
const seedsFor = (faults: string, n: number): number => Math.ceil((HEAVY[faults]?.[n] ?? LIGHT[n]!) * SCALE);
/**
 * Real Ed25519 for one seed in this many, per n (the CLI uses one in 20; here fewer, because a
 * real-crypto run costs as much as fifty stand-in runs). Replay commands name the suite used.
 */
const REAL_CRYPTO_EVERY: Record<number, number> = { 4: 200, 7: 70 };

const groups = mixes.flatMap((faults) => [4, 7].map((n) => ({ faults, n })));
const results = new Map<string, RunResult[]>();
const key = (faults: string, n: number) => `${faults}/n=${n}`;

beforeAll(async () => {
  const jobs: Job[] = [];
  for (const { faults, n } of groups) {
    for (let seed = 1; seed <= seedsFor(faults, n); seed++) jobs.push({ seed, n, faults, realCryptoEvery: REAL_CRYPTO_EVERY[n] });
  }
  const started = performance.now();
  const all = await runJobs(jobs, { workers: availableParallelism() });
  for (const r of all) {
    const list = results.get(key(r.scenario, r.n)) ?? [];
    list.push(r);
    results.set(key(r.scenario, r.n), list);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `seeded simulation: ${all.length} schedules (${mixes.length} fault mixes x n = 4, 7) in ${seconds.toFixed(1)} s on ` +
      `${availableParallelism()} thread(s); ${all.filter((r) => r.crypto === 'ed25519').length} with real Ed25519; ` +
      `liveness bound ${LIVENESS_BOUND_MS / 1000} s of virtual time after the network heals`,
  );
}, 900_000);

describe('seeded simulation, every invariant after every step', () => {
  it('covers at least 10,000 schedules across the fault mixes', () => {
    const total = [...results.values()].reduce((sum, list) => sum + list.length, 0);
    if (SCALE >= 1) expect(total).toBeGreaterThanOrEqual(10_000);
    expect(mixes).toEqual(expect.arrayContaining(['none', 'crash', 'partition', 'lossy', 'twins', 'restart', 'wipe', 'wipe-revote', 'long-partition', 'lying-state', 'mixed']));
  });

  it.each(groups)('$faults, n = $n: no violations', ({ faults, n }) => {
    const list = results.get(key(faults, n)) ?? [];
    expect(list).toHaveLength(seedsFor(faults, n));
    const failures = list.filter((r) => !r.ok);
    if (failures.length > 0) {
      const summary = failures.map((r) => `  ${r.failure!.invariant} (seed ${r.seed}): ${r.failure!.replay}`).join('\n');
      expect.fail(`${failures.length} of ${list.length} schedules violated an invariant:\n${summary}\n\nfirst one:\n${formatFailure(failures[0]!.failure!)}`);
    }
    // The schedules did real work.
    expect(list.reduce((sum, r) => sum + r.stats.requests, 0)).toBeGreaterThan(list.length);
  });
});
