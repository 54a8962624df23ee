// A simulation worker thread: runs the jobs it was given and reports each result.
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerInput, WorkerMessage } from './parallel.ts';
import { runSeed } from './simulator.ts';

const { jobs } = workerData as WorkerInput;
const port = parentPort;
if (port === null) throw new Error('worker.ts runs only as a worker thread');
jobs.forEach((job, index) => {
  const message: WorkerMessage = { kind: 'result', index, result: runSeed(job) };
  port.postMessage(message);
});
port.postMessage({ kind: 'done' } satisfies WorkerMessage);
