// `tsx e2e/side-by-side.ts SCRIPT...`: run npm scripts at the same time, each line of their output
// prefixed with the script's name, and fail if any of them fails.
//
// `npm test` uses it for the simulator's planted-bug self-test and the network lab. The self-test
// keeps both cores busy for two to three minutes; the lab spends its three minutes mostly waiting
// on network timeouts (a cut uplink, a stopped TURN server), busy in bursts (four browsers and
// four servers starting) and about half a core on average. One after the other they took five
// to six minutes of a 2-core run, side by side two and a half to three and a half.
// Only pairs like this belong here: the unit and end-to-end suites keep both cores busy and have
// timing-sensitive tests, so running either of them beside another phase slows both.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** How one script ended: its exit code (null when a signal ended it) and how long it ran. */
interface Outcome {
  script: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
}

const scripts = process.argv.slice(2);
if (scripts.length === 0) {
  console.error('usage: tsx e2e/side-by-side.ts SCRIPT [SCRIPT...]   (npm script names, run at the same time)');
  process.exit(2);
}
const width = Math.max(...scripts.map((s) => s.length));
const children = new Set<ReturnType<typeof spawn>>();

function run(script: string): Promise<Outcome> {
  const started = Date.now();
  // Each script in a process group of its own, so that a signal reaches all of it: npm does not
  // pass SIGTERM on to the script it runs, and the lab must see it to take its namespaces down.
  const child = spawn('npm', ['run', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  const prefix = `${script.padEnd(width)} │ `;
  // Whole lines only, so the two scripts' lines never interleave mid-line.
  createInterface({ input: child.stdout! }).on('line', (line) => process.stdout.write(prefix + line + '\n'));
  createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(prefix + line + '\n'));
  return new Promise((resolve) => {
    let ended = false;
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (ended) return;
      ended = true;
      children.delete(child);
      resolve({ script, code, signal, seconds: (Date.now() - started) / 1000 });
    };
    child.on('error', (e) => {
      process.stderr.write(`${prefix}could not start npm: ${e.message}\n`);
      done(127, null);
    });
    // The script's end is its exit; its last lines follow on 'close', but a process it left
    // behind holding the pipe must not keep the run waiting, so that wait is short.
    child.on('exit', (code, signal) => {
      const timer = setTimeout(() => done(code, signal), 2000);
      child.on('close', () => {
        clearTimeout(timer);
        done(code, signal);
      });
    });
  });
}

// Stopped from outside: the scripts are in process groups of their own, so Ctrl-C does not reach
// them by itself. Pass the signal on to every process of each, then wait for them to finish
// (the lab takes its namespaces down) and fail.
let stoppedBy: NodeJS.Signals | null = null;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    stoppedBy = signal;
    for (const child of children) {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // Already gone.
      }
    }
  });
}

const outcomes = await Promise.all(scripts.map(run));
const failed = outcomes.filter((o) => o.code !== 0);
for (const o of outcomes) {
  const how = o.code === 0 ? 'passed' : o.signal ? `was stopped by ${o.signal}` : `FAILED (exit ${o.code})`;
  console.log(`[side by side] ${o.script} ${how} after ${o.seconds.toFixed(0)} s`);
}
if (stoppedBy) console.log(`[side by side] stopped by ${stoppedBy}`);
process.exit(failed.length === 0 && !stoppedBy ? 0 : 1);
