// npm run sim -- --seeds 100000 --n 4 --faults all
// npm run sim -- --seed 1234 --n 4 --faults crash        (replay one seed, with its trace)
//
// Runs seeded schedules one after another, prints progress every few seconds, totals at the end,
// and on a violation the seed, the command that replays it and the trace tail (exit code 1).
import { availableParallelism } from 'node:os';
import { ACCOUNTABILITY_GRACE_MS, LIVENESS_BOUND_MS } from './invariants.ts';
import { exploreTwinsParallel, runJobs, type Job } from './parallel.ts';
import { scenarioByName, scenarioNames } from './scenarios.ts';
import { selfTest } from './self-test.ts';
import { TWIN_SPLITS, describeTwinsSchedule, twinsSchedule, twinsScheduleCount } from './twins.ts';
import {
  DEFAULT_MAX_STEPS, REAL_CRYPTO_EVERY, addStats, emptyStats, formatFailure, runSeed, usesRealCrypto,
  type CryptoChoice, type RunResult, type RunStats, type SendGate,
} from './simulator.ts';

interface Args {
  seeds: number;
  start: number;
  seed: number | null;
  n: number[];
  faults: string;
  steps: number;
  crypto: CryptoChoice;
  keepGoing: boolean;
  verbose: boolean;
  trace: number;
  jobs: number;
  sendGate: SendGate;
  /** Planted bugs to hunt (empty: every one); null when not a self-test. */
  selfTest: string[] | null;
  timeScale: number;
  jobsGiven: boolean;
  /** View-0 splits whose Twins subtrees to explore; 0 when not exploring. */
  twins: number;
  turn: number | undefined;
}

const USAGE = `usage: npm run sim -- [options]
  --seeds K        run K seeded schedules (default 1000), seeds start..start+K-1
  --start S        first seed (default 0)
  --seed S         run only seed S and print its trace (a replay)
  --turn T         with --seed: the scenario's turn (which case an enumerated scenario runs)
  --n N            members: 4, 7 or 10, or a list like 4,7 (default 4)
  --faults F       ${['all', ...scenarioNames()].join(' | ')}, or a comma list (default all)
  --steps M        events allowed per schedule before it counts as a livelock (default ${DEFAULT_MAX_STEPS})
  --crypto C       auto (real Ed25519 for one seed in ${REAL_CRYPTO_EVERY}) | insecure | ed25519 (default auto)
  --trace T        trace lines kept for a failure report (default 200)
  --jobs J         worker threads (default 1; try ${availableParallelism()})
  --send-gate G    earlier-writes (a send waits for every write its node started before it; default)
                   | same-list (only a send after a persist in the same effect list waits)
  --twins T        explore the enumerated Twins schedules (n = 4; src/sim/twins.ts): 'all', or those
                   whose view-0 split is one of the first T of 21; one seed (--seed, default 1),
                   the fast stand-in for signatures
  --self-test [B]  apply each planted bug (src/sim/planted/*.patch, or the comma list B) to a
                   copy of the source and run its scenarios until an invariant fails
  --time-scale X   the self-test gives each bug X times its share of time (default 1)
  --verbose        with --seed: print every event as it happens
  --keep-going     do not stop at the first violation`;

function parseArgs(argv: string[]): Args {
  const args: Args = { seeds: 1000, start: 0, seed: null, n: [4], faults: 'all', steps: DEFAULT_MAX_STEPS, crypto: 'auto', keepGoing: false, verbose: false, trace: 200, jobs: 1, sendGate: 'earlier-writes', selfTest: null, timeScale: 1, jobsGiven: false, twins: 0, turn: undefined };
  const int = (flag: string, v: string | undefined): number => {
    const x = Number(v);
    if (v === undefined || !Number.isSafeInteger(x) || x < 0) fail(`${flag} needs a non-negative integer, got ${v ?? 'nothing'}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    switch (flag) {
      case '--seeds': args.seeds = int(flag, value); i++; break;
      case '--start': args.start = int(flag, value); i++; break;
      case '--seed': args.seed = int(flag, value); i++; break;
      case '--steps': args.steps = int(flag, value); i++; break;
      case '--trace': args.trace = int(flag, value); i++; break;
      case '--jobs': args.jobs = Math.max(1, int(flag, value)); args.jobsGiven = true; i++; break;
      case '--n':
        args.n = (value ?? '').split(',').map((s) => int(flag, s));
        for (const n of args.n) if (n < 4 || (n - 1) % 3 !== 0) fail(`--n must be 3f + 1 (4, 7, 10, …), got ${n}`);
        i++;
        break;
      case '--faults':
        args.faults = value ?? fail('--faults needs a name');
        for (const name of args.faults === 'all' ? [] : args.faults.split(',')) {
          if (!scenarioByName(name.trim())) fail(`unknown fault scenario "${name}"; known: all, ${scenarioNames().join(', ')}`);
        }
        i++;
        break;
      case '--crypto':
        if (value !== 'auto' && value !== 'insecure' && value !== 'ed25519') fail('--crypto is auto, insecure or ed25519');
        args.crypto = value;
        i++;
        break;
      case '--send-gate':
        if (value !== 'earlier-writes' && value !== 'same-list') fail('--send-gate is earlier-writes or same-list');
        args.sendGate = value;
        i++;
        break;
      case '--turn': args.turn = int(flag, value); i++; break;
      case '--self-test':
        if (value !== undefined && !value.startsWith('--')) {
          args.selfTest = value.split(',').map((x) => x.trim()).filter(Boolean);
          i++;
        } else args.selfTest = [];
        break;
      case '--twins':
        args.twins = value === 'all' ? TWIN_SPLITS.length : Math.min(TWIN_SPLITS.length, Math.max(1, int(flag, value)));
        i++;
        break;
      case '--time-scale': {
        const x = Number(value);
        if (!(x > 0)) fail(`--time-scale needs a positive number, got ${value ?? 'nothing'}`);
        args.timeScale = x;
        i++;
        break;
      }
      case '--verbose': args.verbose = true; break;
      case '--keep-going': args.keepGoing = true; break;
      case '--help': case '-h': console.log(USAGE); process.exit(0); break;
      default: fail(`unknown option ${flag}`);
    }
  }
  return args;
}

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function printTotals(t: RunStats, wallMs: number): void {
  const sorted = (r: Record<string, number>) =>
    Object.entries(r).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const perRun = (x: number) => (t.runs ? (x / t.runs).toFixed(1) : '0');
  console.log(`\ntotals over ${t.runs} schedule(s), ${(wallMs / 1000).toFixed(1)} s wall clock (${(t.runs / (wallMs / 1000)).toFixed(0)}/s):`);
  console.log(`  virtual time      ${(t.virtualMs / 1000).toFixed(1)} s (${perRun(t.virtualMs / 1000)} s per run), ${t.steps} steps`);
  console.log(`  decisions         ${t.batches} sequence numbers executed, ${t.requests} requests, ${t.lunchDecisions} lunch decisions`);
  console.log(`  messages          ${sorted(t.messages)}`);
  console.log(`  view changes      ${t.viewChanges} (highest view entered per run, summed)`);
  console.log(`  state transfers   ${t.stateTransfers}${t.longPartitionsPastGC ? ` (${t.longPartitionsPastGC} long partition(s) outlasted garbage collection)` : ''}`);
  console.log(`  crashes/restarts  ${t.crashes} crash(es), ${t.restarts} restart(s) from ${t.restoredRecords} durable record(s), ${t.wipes} wiped (amnesia ended in ${t.amnesiaEnded}); ` +
    `${t.crashesBetweenPersistAndSend} crash(es) between a persist and its send, losing ${t.lostWrites} record(s) not yet durable and ${t.lostSends} send(s) waiting for them`);
  const kept = Object.entries(t.maxKeptBy).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`  memory            at most ${t.maxKept} entries kept by one replica at once (sum of snapshot().sizes; per kind at most: ${kept || 'n/a'})`);
  console.log(`  evidence          ${t.evidence} evidence effects at honest replicas, ${t.provenMembers} members proven (summed per run), ${t.claims} claims`);
  console.log(`  drops by reason   ${sorted(t.drops)}`);
  if (t.selfAddressed > 0) console.log(`  self-addressed    ${t.selfAddressed} message(s) an honest replica sent to itself`);
  const net = t.network;
  console.log(`  network           ${net.sent} sent, ${net.delivered} delivered, ${net.lost} lost, ${net.duplicated} duplicated, ${net.blockedByPartition} blocked by partitions, ${net.toCrashed} to crashed nodes`);
  console.log(`  real Ed25519      ${t.realCryptoRuns} run(s)`);
}

async function runSelfTest(args: Args): Promise<never> {
  const jobs = args.jobsGiven ? args.jobs : availableParallelism();
  console.log(`planted-bug self-test: each patch in src/sim/planted applied to a copy of the source, its scenarios run from seed 1 ` +
    `until an invariant fails, within its share of time${args.timeScale === 1 ? '' : ` (x${args.timeScale})`}; ${jobs} thread(s)`);
  const results = await selfTest({
    only: args.selfTest!.length > 0 ? args.selfTest! : undefined,
    scale: args.timeScale,
    workers: jobs,
    onResult: (r) => {
      const how = r.error ?? (r.found ? `found by ${r.scenario} (${r.invariant}) at seed ${r.seeds}` : `NOT FOUND in ${r.seeds} seed(s)`) +
        (r.otherFailures > 0 ? ` (${r.otherFailures} run(s) failed another invariant on the way)` : '');
      console.log(`  ${r.found ? 'ok  ' : 'FAIL'} ${r.name.padEnd(34)} ${how}, ${r.seconds.toFixed(1)} s`);
    },
  });
  const missed = results.filter((r) => !r.found);
  const total = results.reduce((t, r) => t + r.seconds, 0);
  console.log(`\n${results.length - missed.length} of ${results.length} planted bugs found in ${total.toFixed(1)} s` +
    (missed.length > 0 ? `; not found: ${missed.map((r) => r.name).join(', ')}` : ''));
  process.exit(missed.length > 0 ? 1 : 0);
}

async function runTwins(args: Args): Promise<never> {
  const seed = args.seed ?? 1;
  const firsts = [...Array(args.twins).keys()];
  const jobs = args.jobsGiven ? args.jobs : availableParallelism();
  console.log(`Twins, enumerated (n = 4): ${twinsScheduleCount()} schedules up to mirror images, those whose view-0 split is ` +
    `one of ${firsts.length} of ${TWIN_SPLITS.length}; seed ${seed}, ${jobs} thread(s). A run stands for every schedule that ` +
    `differs from it only in views none of its messages belonged to.`);
  const total = emptyStats();
  const failures: { r: RunResult; code: number }[] = [];
  const started = performance.now();
  let last = started;
  const covered = await exploreTwinsParallel({
    workers: jobs, seed, firsts,
    onResult: (r, code) => {
      addStats(total, r.stats);
      if (!r.ok) {
        failures.push({ r, code });
        console.log(`\nschedule ${code}: ${describeTwinsSchedule(twinsSchedule(code))}`);
        report(r);
      }
      const now = performance.now();
      if (now - last > 5000) {
        last = now;
        console.log(`  ${total.runs} runs, ${failures.length} violation(s), ${((now - started) / 1000).toFixed(0)} s`);
      }
    },
  });
  printTotals(total, performance.now() - started);
  console.log(`  coverage          ${total.runs} runs stood for ${covered} schedules`);
  if (failures.length > 0) {
    console.log(`\n${failures.length} violation(s):`);
    for (const f of failures) console.log(`  ${f.r.failure!.invariant}: ${f.r.failure!.replay} --crypto insecure`);
    process.exit(1);
  }
  console.log(`\nno violations in ${total.runs} Twins runs (${covered} schedules)`);
  process.exit(0);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.selfTest !== null) await runSelfTest(args);
  if (args.twins > 0) await runTwins(args);
  console.log(`liveness bound: every correct member's request executes at every correct node within ${LIVENESS_BOUND_MS / 1000} s of virtual time ` +
    `after the network heals; proofs must reach every correct node within ${ACCOUNTABILITY_GRACE_MS / 1000} s after that`);

  if (args.seed !== null) {
    const n = args.n[0]!;
    console.log(`replaying seed ${args.seed}, n ${n}, faults ${args.faults}, ` +
      `${usesRealCrypto(args.seed, args.crypto) ? 'real Ed25519 signatures' : 'the fast stand-in for signatures (real Ed25519 runs for seeds divisible by ' + REAL_CRYPTO_EVERY + ')'}`);
    const started = performance.now();
    const result = runSeed({
      seed: args.seed, n, faults: args.faults, maxSteps: args.steps, crypto: args.crypto, traceSize: args.trace, sendGate: args.sendGate, turn: args.turn,
      live: args.verbose ? (line) => console.log(line) : undefined,
    });
    report(result);
    if (result.ok && !args.verbose) {
      console.log(`\nscenario ${result.scenario}: ok. Run with --verbose for every event.`);
    }
    printTotals(result.stats, performance.now() - started);
    process.exit(result.ok ? 0 : 1);
  }

  console.log(`running ${args.seeds} seed(s) from ${args.start} for n = ${args.n.join(', ')}, faults ${args.faults}, on ${args.jobs} thread(s); ` +
    `real Ed25519 signatures for seeds divisible by ${REAL_CRYPTO_EVERY}${args.crypto === 'auto' ? '' : ` (overridden: ${args.crypto})`}, the fast stand-in otherwise`);
  const total = emptyStats();
  const byScenario = new Map<string, number>();
  const failures: RunResult[] = [];
  const started = performance.now();
  let lastProgress = started;
  let done = 0;
  const all = args.seeds * args.n.length;
  const progress = () => {
    const now = performance.now();
    if (now - lastProgress < 3000) return;
    lastProgress = now;
    const rate = done / ((now - started) / 1000);
    console.log(`  ${done}/${all} schedules, ${rate.toFixed(0)}/s, ${failures.length} violation(s), ETA ${((all - done) / rate).toFixed(0)} s`);
  };
  const take = (result: RunResult) => {
    done++;
    addStats(total, result.stats);
    byScenario.set(result.scenario, (byScenario.get(result.scenario) ?? 0) + 1);
    if (!result.ok) {
      failures.push(result);
      report(result);
    }
    progress();
  };
  // In chunks, so that a violation stops the run soon even when the seeds are spread over threads.
  const chunk = args.jobs === 1 ? 1 : 200 * args.jobs;
  for (let i = 0; i < args.seeds && (args.keepGoing || failures.length === 0); i += chunk) {
    const jobs: Job[] = [];
    for (let k = i; k < Math.min(args.seeds, i + chunk); k++) {
      for (const n of args.n) jobs.push({ seed: args.start + k, n, faults: args.faults, maxSteps: args.steps, crypto: args.crypto, traceSize: args.trace, sendGate: args.sendGate });
    }
    if (args.jobs === 1) {
      for (const job of jobs) {
        take(runSeed(job));
        if (!args.keepGoing && failures.length > 0) break;
      }
    } else {
      await runJobs(jobs, { workers: args.jobs, onResult: take });
    }
  }
  printTotals(total, performance.now() - started);
  console.log(`  by scenario       ${[...byScenario].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (failures.length > 0) {
    console.log(`\n${failures.length} violation(s):`);
    for (const f of failures) console.log(`  ${f.failure!.invariant}: ${f.failure!.replay}`);
    process.exit(1);
  }
  console.log(`\nno violations in ${done} schedule(s)`);
}

function report(result: RunResult): void {
  if (result.ok || !result.failure) return;
  console.log(`\n${formatFailure(result.failure)}`);
}

await main();
