// `tsx e2e/side-by-side.ts SCRIPT...`: run npm scripts at the same time, each line of their output
// prefixed with the script's name, and fail if any of them fails.
//
// `npm test` uses it for the simulator's planted-bug self-test and the network lab. The self-test
// keeps both cores busy for two to three minutes; the lab spends its three minutes mostly waiting
// on network timeouts (a cut uplink, a stopped TURN server) with about a quarter of a core busy.
// One after the other they cost five to six minutes of a 2-core run, side by side about three.
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
  const child = spawn('npm', ['run', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const prefix = `${script.padEnd(width)} │ `;
  // Whole lines only, so the two scripts' lines never interleave mid-line.
  createInterface({ input: child.stdout! }).on('line', (line) => process.stdout.write(prefix + line + '\n'));
  createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(prefix + line + '\n'));
  return new Promise((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      children.delete(child);
      resolve({ script, code, signal, seconds: (Date.now() - started) / 1000 });
    };
    child.on('error', (e) => {
      process.stderr.write(`${prefix}could not start npm: ${e.message}\n`);
      done(127, null);
    });
    child.on('close', done);
  });
}

// Stopped from outside (Ctrl-C reaches the children through the process group already; a plain
// kill of this process does not): pass it on, so that the lab can take its namespaces down.
for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    for (const child of children) child.kill(signal);
  });
}

const outcomes = await Promise.all(scripts.map(run));
const failed = outcomes.filter((o) => o.code !== 0);
for (const o of outcomes) {
  const how = o.code === 0 ? 'passed' : o.signal ? `was stopped by ${o.signal}` : `FAILED (exit ${o.code})`;
  console.log(`[side by side] ${o.script} ${how} after ${o.seconds.toFixed(0)} s`);
}
process.exit(failed.length === 0 ? 0 : 1);
