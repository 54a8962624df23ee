// A simulation worker thread: runs the jobs it was given (or explores Twins subtrees) and reports
// each result.
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerInput, WorkerMessage } from './parallel.ts';
import { runSeed } from './simulator.ts';
import { exploreTwins } from './twins.ts';

const input = workerData as WorkerInput;
const port = parentPort;
if (port === null) throw new Error('worker.ts runs only as a worker thread');
if ('jobs' in input) {
  input.jobs.forEach((job, index) => {
    const message: WorkerMessage = { kind: 'result', index, result: runSeed(job) };
    port.postMessage(message);
  });
} else {
  for (const first of input.twins.firsts) {
    const { covered } = exploreTwins(first, (code) => {
      const result = runSeed({ seed: input.twins.seed, turn: code, n: 4, faults: 'twins-enum', crypto: 'insecure' });
      port.postMessage({ kind: 'result', index: 0, result, code } satisfies WorkerMessage);
      return result.stats.highestRoundView;
    });
    port.postMessage({ kind: 'covered', covered } satisfies WorkerMessage);
  }
}
port.postMessage({ kind: 'done' } satisfies WorkerMessage);
