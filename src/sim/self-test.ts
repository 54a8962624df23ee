// The simulator's planted-bug self-test: proof that the checker can fail. Each bug is a small
// patch kept in src/sim/planted/, applied to a temporary copy of the source tree; the simulator
// from that copy then runs seeds of the scenarios that should expose the bug until an invariant
// fails. Nothing in the core knows about it: the copy is the only thing that changes.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { InvariantName } from './invariants.ts';
import type { Job, runJobs as RunJobs } from './parallel.ts';
import { runSeed } from './simulator.ts';

/** A planted bug and where the simulator should find it. */
export interface PlantedBug {
  /** The patch's file name in src/sim/planted, without `.patch`. */
  readonly name: string;
  /** Scenarios to cycle through by seed (a comma list, as `--faults` takes). */
  readonly faults: string;
  readonly n?: number;
  /** The invariants that say what this bug breaks; a run failing another one does not count as finding it. */
  readonly expect: readonly InvariantName[];
  /** Its share of the self-test's time (seconds, on a 2-core machine); it must be found within it. */
  readonly seconds: number;
}

/** Every planted bug, the scenarios that find it, and its share of the time (see src/sim/README.md). */
export const PLANTED: readonly PlantedBug[] = [
  { name: 'no-never-look-back', faults: 'holds', expect: ['agreement'], seconds: 150 },
  { name: 'horizon-from-one-member', faults: 'wipe', expect: ['no-equivocation', 'agreement'], seconds: 30 },
  { name: 'commit-quorum-2f', faults: 'forgetful-backup,twins', expect: ['agreement'], seconds: 20 },
  { name: 'prepared-2f-minus-1', faults: 'twins,holds', expect: ['agreement'], seconds: 20 },
  { name: 'execute-on-prepared', faults: 'forgetful-backup,twins', expect: ['agreement'], seconds: 20 },
  { name: 'view-change-without-certificates', faults: 'liar-new-view,crash', expect: ['agreement'], seconds: 40 },
  { name: 'new-view-not-recomputed', faults: 'liar-new-view', expect: ['agreement'], seconds: 60 },
  { name: 'no-counter-check', faults: 'twins,mutate', expect: ['integrity'], seconds: 30 },
  // Its first failing seed is 140: 42–55 s on a quiet 2-core machine, past 60 s under load.
  { name: 'new-view-from-2f', faults: 'rounds,mutate,twins', expect: ['agreement'], seconds: 150 },
  { name: 'checkpoint-stable-from-f-plus-1', faults: 'long,wipe', expect: ['certified'], seconds: 20 },
  { name: 'checkpoint-digest-member-local', faults: 'wipe,long-partition', expect: ['liveness'], seconds: 20 },
  { name: 'execute-out-of-order', faults: 'lossy,partition', expect: ['agreement', 'order'], seconds: 20 },
  { name: 'timer-never-doubles', faults: 'slow-network', expect: ['liveness'], seconds: 60 },
  { name: 'no-advance', faults: 'wipe', expect: ['liveness'], seconds: 30 },
];

/** How one planted bug fared. */
export interface PlantedResult {
  readonly name: string;
  readonly description: string;
  readonly found: boolean;
  /** Seeds run, up to and including the one that found it. */
  readonly seeds: number;
  readonly seconds: number;
  /** The failing run: its scenario, the invariant and the command that replays it (on a patched tree). */
  readonly scenario?: string;
  readonly invariant?: string;
  readonly replay?: string;
  /** Why the patch could not be tried, or why what it found does not count. */
  readonly error?: string;
  /** Runs that failed another invariant than the expected ones on the way (they do not count). */
  readonly otherFailures: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const plantedDir = join(here, 'planted');

/** The first line of a patch says what the planted bug is. */
export function describePatch(name: string): string {
  const text = readFileSync(join(plantedDir, `${name}.patch`), 'utf8');
  return text.split('\n')[0]!.replace(/^Planted bug:\s*/, '');
}

/**
 * Apply one planted bug to a copy of src/ and run its scenarios from seed 1 until an invariant
 * fails, `seeds` run out, or `deadline` (ms since the epoch; default: the bug's share) passes.
 */
export async function hunt(bug: PlantedBug, options: { workers?: number; deadline?: number; seeds?: number } = {}): Promise<PlantedResult> {
  const deadline = options.deadline ?? Date.now() + bug.seconds * 1000;
  const started = performance.now();
  const description = describePatch(bug.name);
  const tree = mkdtempSync(join(tmpdir(), `byzantine-lunch-planted-${bug.name}-`));
  const seconds = () => (performance.now() - started) / 1000;
  try {
    cpSync(join(root, 'src'), join(tree, 'src'), { recursive: true });
    // package.json makes the copy's .ts files ES modules, as in the project.
    for (const file of ['package.json', 'tsconfig.json']) cpSync(join(root, file), join(tree, file));
    // The copy resolves its packages from the project's own node_modules.
    symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'), 'dir');
    const applied = spawnSync('git', ['apply', '--whitespace=nowarn', join(plantedDir, `${bug.name}.patch`)], { cwd: tree, encoding: 'utf8' });
    if (applied.error || applied.status !== 0) {
      const why = applied.error ? `git apply could not run (${applied.error.message})` : `the patch no longer applies: ${applied.stderr.trim()}`;
      return { name: bug.name, description, found: false, seeds: 0, seconds: seconds(), error: why, otherFailures: 0 };
    }
    const { runJobs } = (await import(pathToFileURL(join(tree, 'src/sim/parallel.ts')).href)) as { runJobs: typeof RunJobs };
    const workers = Math.max(1, options.workers ?? availableParallelism());
    const budget = options.seeds ?? Number.MAX_SAFE_INTEGER;
    let seeds = 0;
    let otherFailures = 0;
    for (let next = 1; next <= budget; ) {
      if (Date.now() > deadline) break;
      const jobs: Job[] = [];
      for (let k = 0; k < 3 * workers && next <= budget; k++, next++) jobs.push({ seed: next, n: bug.n ?? 4, faults: bug.faults, crypto: 'insecure' });
      const results = await runJobs(jobs, { workers });
      otherFailures += results.filter((r) => !r.ok && !bug.expect.includes(r.failure!.invariant)).length;
      const failed = results.find((r) => !r.ok && bug.expect.includes(r.failure!.invariant));
      if (failed) {
        const found = {
          name: bug.name, description, found: true, seeds: failed.seed, seconds: seconds(), otherFailures,
          scenario: failed.scenario, invariant: failed.failure!.invariant, replay: failed.failure!.replay,
        };
        // The same run on the real source must be clean, or the bug did not cause the failure.
        const clean = runSeed({ seed: failed.seed, n: bug.n ?? 4, faults: bug.faults, crypto: 'insecure' });
        return clean.ok ? found : { ...found, found: false, error: `seed ${failed.seed} fails without the patch too (${clean.failure!.invariant})` };
      }
      seeds = next - 1;
    }
    return { name: bug.name, description, found: false, seeds, seconds: seconds(), otherFailures };
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

/**
 * Every planted bug (or those named), one after another, each within its share of the time
 * (scaled by `scale`, e.g. 2 on a slower machine).
 */
export async function selfTest(options: { only?: readonly string[]; scale?: number; workers?: number; onResult?: (r: PlantedResult) => void } = {}): Promise<PlantedResult[]> {
  const bugs = options.only ? PLANTED.filter((b) => options.only!.includes(b.name)) : PLANTED;
  const unknown = (options.only ?? []).filter((name) => !PLANTED.some((b) => b.name === name));
  if (unknown.length > 0) throw new Error(`no planted bug named ${unknown.join(', ')}; known: ${PLANTED.map((b) => b.name).join(', ')}`);
  for (const b of bugs) if (!existsSync(join(plantedDir, `${b.name}.patch`))) throw new Error(`src/sim/planted/${b.name}.patch is missing`);
  const results: PlantedResult[] = [];
  for (const bug of bugs) {
    const r = await hunt(bug, { workers: options.workers, deadline: Date.now() + bug.seconds * (options.scale ?? 1) * 1000 });
    results.push(r);
    options.onResult?.(r);
  }
  return results;
}
