// Many seeded runs across CPU cores: worker threads, each running its share of the seeds with
// the same simulator code. Runs are independent and each is deterministic, so splitting them up
// changes nothing but the wall-clock time.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { runSeed, type RunOptions, type RunResult } from './simulator.ts';

/** What a worker can be sent: run options without callbacks or factories. */
export type Job = Omit<RunOptions, 'honest' | 'restore' | 'live'>;

/** What a worker is given: seeded runs, or Twins subtrees to explore (see `exploreTwins`). */
export type WorkerInput = { jobs: Job[] } | { twins: { firsts: number[]; seed: number } };
export type WorkerMessage = { kind: 'result'; index: number; result: RunResult; code?: number } | { kind: 'covered'; covered: number } | { kind: 'done' };

/**
 * Run every job; `onResult` sees each result as it arrives (in no particular order). Results come
 * back in job order. With one worker (or one job) everything runs on this thread.
 */
export async function runJobs(jobs: Job[], options: { workers?: number; onResult?: (r: RunResult, index: number) => void } = {}): Promise<RunResult[]> {
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), jobs.length));
  const results: RunResult[] = new Array(jobs.length);
  if (workers === 1) {
    jobs.forEach((job, i) => {
      results[i] = runSeed(job);
      options.onResult?.(results[i]!, i);
    });
    return results;
  }
  const shares: { index: number; job: Job }[][] = Array.from({ length: workers }, () => []);
  jobs.forEach((job, index) => shares[index % workers]!.push({ index, job }));
  await Promise.all(
    shares.map(
      (share) =>
        new Promise<void>((resolve, reject) => {
          const worker = startWorker({ jobs: share.map((s) => s.job) });
          worker.on('message', (m: WorkerMessage) => {
            if (m.kind === 'done') return void worker.terminate().then(() => resolve(), reject);
            if (m.kind !== 'result') return;
            const index = share[m.index]!.index;
            results[index] = m.result;
            options.onResult?.(m.result, index);
          });
          worker.on('error', reject);
          worker.on('exit', (code) => {
            if (code !== 0 && code !== 1) reject(new Error(`simulation worker exited with code ${code}`));
          });
        }),
    ),
  );
  return results;
}

/**
 * Explore every Twins schedule (src/sim/twins.ts), the 21 subtrees of view-0 splits spread over
 * the workers; `onResult` sees each run with its schedule's code. Returns how many schedules the
 * runs covered.
 */
export async function exploreTwinsParallel(options: { workers?: number; seed: number; firsts: number[]; onResult?: (r: RunResult, code: number) => void }): Promise<number> {
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), options.firsts.length));
  const shares: number[][] = Array.from({ length: workers }, () => []);
  options.firsts.forEach((first, i) => shares[i % workers]!.push(first));
  let covered = 0;
  await Promise.all(
    shares.map(
      (firsts) =>
        new Promise<void>((resolve, reject) => {
          const worker = startWorker({ twins: { firsts, seed: options.seed } });
          worker.on('message', (m: WorkerMessage) => {
            if (m.kind === 'done') return void worker.terminate().then(() => resolve(), reject);
            if (m.kind === 'covered') covered += m.covered;
            else options.onResult?.(m.result, m.code!);
          });
          worker.on('error', reject);
          worker.on('exit', (code) => {
            if (code !== 0 && code !== 1) reject(new Error(`simulation worker exited with code ${code}`));
          });
        }),
    ),
  );
  return covered;
}

/**
 * A worker thread running worker.ts. Workers do not inherit a TypeScript loader, so the thread
 * first registers tsx (a dependency already), then imports the worker module.
 */
function startWorker(input: WorkerInput): Worker {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = require(pkgPath) as { exports: Record<string, { import: { default: string } }> };
  const api = pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api']!.import.default)).href;
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: input });
}
