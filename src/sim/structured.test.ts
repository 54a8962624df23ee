// The structured schedules really do what they say: round faults hold and drop, the hold and
// Twins enumerations cover their space once, the mutating liar tells its lies, and the planted-bug
// self-test finds a bug through the same machinery `npm run sim -- --self-test` uses.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MUTATIONS } from './adversaries.ts';
import { Prng } from './prng.ts';
import { holdPattern, scenarioByName } from './scenarios.ts';
import { hunt, PLANTED } from './self-test.ts';
import { addStats, emptyStats, runSeed, type RunOptions, type RunStats } from './simulator.ts';
import { TWINS_CODES, TWIN_MEMBER_OF, TWIN_SPLITS, exploreTwins, isCanonical, twinsSchedule, twinsScheduleCount } from './twins.ts';

function batch(faults: string, seeds: number[], options: Partial<RunOptions> = {}): RunStats {
  const total = emptyStats();
  for (const seed of seeds) {
    const r = runSeed({ seed, faults, crypto: 'insecure', ...options });
    if (!r.ok) throw new Error(`${faults} seed ${seed}: ${r.failure!.invariant}: ${r.failure!.details}\n${r.failure!.replay}`);
    addStats(total, r.stats);
  }
  return total;
}
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('round faults', () => {
  it('holds messages back in the hold schedules (late, not lost), and every run still converges', () => {
    const total = batch('holds', range(0, 12));
    expect(total.roundFaults.held).toBeGreaterThan(100);
    expect(total.roundFaults.dropped).toBe(0);
    expect(total.viewChanges).toBeGreaterThanOrEqual(12);
  });

  it('drops messages across the Twins splits', () => {
    const total = batch('twins-enum', range(0, 12));
    expect(total.roundFaults.dropped).toBeGreaterThan(0);
    expect(total.evidence).toBeGreaterThan(0);
  });

  it('round partitions act on the views they name, and the runs converge', () => {
    const total = batch('rounds', range(0, 12));
    expect(total.roundFaults.held).toBeGreaterThan(0);
  });
});

describe('the hold enumeration (n = 4)', () => {
  it('covers every combination once, the most adversarial first', () => {
    const rng = new Prng(1);
    const seen = new Set<string>();
    for (let turn = 0; turn < 640; turn++) seen.add(JSON.stringify(holdPattern(4, turn, rng)));
    expect(seen.size).toBe(640);
    expect(holdPattern(4, 0, rng)).toEqual({ viewChangeLate: [0, 1, 2, 3], newViewLate: [0, 2, 3], cutOff: 0 });
    // The review's schedule is among the first few dozen.
    const review = JSON.stringify({ viewChangeLate: [0, 1, 2, 3], newViewLate: [0, 3], cutOff: 2 });
    const at = range(0, 640).find((t) => JSON.stringify(holdPattern(4, t, rng)) === review);
    expect(at).toBeLessThan(40);
  });
});

describe('the Twins enumeration (n = 4)', () => {
  it('keeps the 20 splits in which a group can form a quorum, plus one that stands for the rest', () => {
    expect(TWIN_SPLITS).toHaveLength(21);
    for (const [i, split] of TWIN_SPLITS.entries()) {
      expect(split.length).toBeLessThanOrEqual(3);
      expect(split.flat().sort()).toEqual([0, 1, 2, 3, 4]);
      const quorate = split.some((g) => new Set(g.map((x) => TWIN_MEMBER_OF[x])).size >= 3);
      expect(quorate).toBe(i < 20);
    }
  });

  it('enumerates every sequence of splits for four views, once up to the twins mirror', () => {
    expect(TWINS_CODES).toBe(21 ** 4);
    expect(twinsScheduleCount()).toBe(98_441);
    const seen = new Set<string>();
    for (let code = 0; code < TWINS_CODES; code += 97) seen.add(JSON.stringify(twinsSchedule(code)));
    expect(seen.size).toBe(Math.ceil(TWINS_CODES / 97));
    expect(twinsSchedule(0)).toHaveLength(4);
  });

  it('explores a subtree: a run stands for the schedules that differ only in views it never reached', () => {
    const ran: number[] = [];
    // Pretend every run reaches view 1 only: each run stands for 21 * 21 codes.
    const { runs, covered } = exploreTwins(3, (code) => {
      ran.push(code);
      return 1;
    });
    expect(runs).toBe(ran.length);
    expect(new Set(ran.map((c) => Math.floor(c / 21 ** 2))).size).toBe(ran.length);
    expect(covered).toBeGreaterThan(runs * 100);
    expect(ran.every(isCanonical)).toBe(true);
  });
});

describe('the mutating liar', () => {
  it('tells its lies over a batch of runs, gets caught, and never gets an honest member convicted', () => {
    const total = emptyStats();
    for (const seed of range(0, 30)) {
      const sim = runSeed({ seed, faults: 'mutate', crypto: 'insecure' });
      expect(sim.ok, sim.failure?.replay).toBe(true);
      addStats(total, sim.stats);
    }
    expect(total.evidence).toBeGreaterThan(0);
    // What the liar's lies look like at the honest members.
    const drops = Object.keys(total.drops);
    expect(drops).toEqual(expect.arrayContaining(['header-mismatch']));
    expect(MUTATIONS.length).toBeGreaterThanOrEqual(8);
  });

  it('a lying new primary sends NEW-VIEWs that every honest member recomputes and refuses', () => {
    const total = batch('liar-new-view', range(0, 20));
    expect(total.drops['new-view-mismatch'] ?? 0).toBeGreaterThan(0);
  });
});

describe('a network slower than the first timeout', () => {
  it('lets every request through once the timers have doubled', () => {
    const total = batch('slow-network', range(0, 4));
    expect(total.viewChanges).toBeGreaterThan(4);
    expect(total.requests).toBeGreaterThan(4);
  });
});

describe('the planted-bug self-test', () => {
  it('lists every patch in src/sim/planted, and each names a scenario that exists', () => {
    const patches = readdirSync(new URL('./planted', import.meta.url)).filter((f) => f.endsWith('.patch')).map((f) => f.replace(/\.patch$/, '')).sort();
    expect(PLANTED.map((b) => b.name).sort()).toEqual(patches);
    expect(PLANTED.length).toBeGreaterThanOrEqual(13);
    for (const b of PLANTED) for (const f of b.faults.split(',')) expect(scenarioByName(f), `${b.name}: ${f}`).toBeDefined();
  });

  it('finds a planted bug on a patched copy of the source, and the source itself is untouched', async () => {
    const r = await hunt(PLANTED.find((b) => b.name === 'execute-out-of-order')!, { workers: 1, seeds: 20 });
    expect(r.error).toBeUndefined();
    expect(r.found).toBe(true);
    expect(r.invariant).toBe('agreement');
    // The same seeds on the real source are fine.
    batch('lossy,partition', range(1, r.seeds));
  }, 120_000);
});
