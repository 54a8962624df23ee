// `npm run bench` (`-- --quick` for a short run): measures Byzantine Lunch in real Chromium tabs —
// the floor parts (data-channel RTT, signing, verifying, durable writes), agreement latency with
// 4, 7 and 10 tabs against a modelled floor, the user-level time to a decision, throughput, a view
// change, and messages per agreed request — then the core alone in Node, and reports targets.
//
// Like `npm run test:e2e` it finds a Chromium and, as root, re-runs itself inside a fresh network
// namespace that has only loopback, so no traffic can leave the machine. Inside, it builds and
// serves the app exactly as `npm start` does. Results: a table on stdout, and a JSON file and an
// SVG chart in e2e/bench/results/ (latest.json and latest.svg are the last full run).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from '@playwright/test';
import { CHROMIUM_ENV, CHROMIUM_FLAGS, findChromium } from '../browser.ts';
import { runLoopbackOnlyIfPossible } from '../loopback.ts';
import { floorModel, PHASES, type FloorModel } from './model.ts';
import { newContext, planFor, RoomBench, type RoomResult } from './measure.ts';
import { preparePages } from './pages.ts';
import { renderSvg, renderText, targetsOf, type BenchResult, type CoreSection, type Machine } from './report.ts';
import { build, serve, type Served } from './server.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const RESULTS = join(HERE, 'results');
const PORT = 8798;
const INNER_ENV = 'BYZANTINE_LUNCH_BENCH_INNER';
const NETNS_ENV = 'BYZANTINE_LUNCH_BENCH_NETNS';

function log(line: string): void {
  console.log(`[bench] ${line}`);
}

function fail(message: string): never {
  console.error(`[bench] ${message}`);
  process.exit(1);
}

/** The outer run: pick the browser, then run the bench itself, in a namespace when we can. */
function outer(args: string[]): never {
  const chosen = findChromium(log, fail, 'npm run bench');
  log(`browser: ${chosen.path ?? 'Playwright default'} (${chosen.how})`);
  const env: NodeJS.ProcessEnv = { ...process.env, [INNER_ENV]: '1' };
  if (chosen.path) env[CHROMIUM_ENV] = chosen.path;
  const self = ['npx', 'tsx', join('e2e', 'bench', 'run.ts'), ...args];
  process.exit(runLoopbackOnlyIfPossible(self, { cwd: ROOT, env, describeIn: NETNS_ENV, log }));
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Runs src/bench/core.ts's runCoreBench when that file exists (imported only then). */
async function coreBench(quick: boolean): Promise<CoreSection> {
  const file = join(ROOT, 'src', 'bench', 'core.ts');
  const none = { available: false, requestsPerSecond: null, suites: [], result: null };
  if (!existsSync(file)) {
    log('core bench not available (src/bench/core.ts does not exist)');
    return none;
  }
  try {
    const mod = (await import(pathToFileURL(file).href)) as {
      runCoreBench?: (o: { quick?: boolean; log?: (line: string) => void }) => Promise<unknown>;
      formatCoreBench?: (r: unknown) => string;
    };
    if (typeof mod.runCoreBench !== 'function') {
      log('core bench not available (src/bench/core.ts exports no runCoreBench)');
      return { ...none, error: 'no runCoreBench export' };
    }
    log('core alone: runCoreBench');
    const result = await mod.runCoreBench({ quick, log: (line) => log(`core: ${line}`) });
    if (typeof mod.formatCoreBench === 'function') console.log(mod.formatCoreBench(result));
    const suites = suiteRates(result);
    const best = suites.length ? Math.max(...suites.map((x) => x.requestsPerSecond)) : findRate(result);
    return { available: true, requestsPerSecond: best, suites, result };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log(`core bench failed: ${message}`);
    return { ...none, error: message };
  }
}

/** `{ suites: [{ suite, requestsPerSecond }] }`, as src/bench/core.ts reports it. */
function suiteRates(result: unknown): { suite: string; requestsPerSecond: number }[] {
  const suites = (result as { suites?: unknown } | null)?.suites;
  if (!Array.isArray(suites)) return [];
  return suites.flatMap((s: unknown) => {
    const x = s as { suite?: unknown; suiteName?: unknown; requestsPerSecond?: unknown };
    return typeof x.requestsPerSecond === 'number' && Number.isFinite(x.requestsPerSecond)
      ? [{ suite: String(x.suiteName ?? x.suite ?? '?'), requestsPerSecond: x.requestsPerSecond }]
      : [];
  });
}

/**
 * Otherwise: the first finite number under a key that reads like an achieved rate (targets and
 * goals are skipped).
 */
function findRate(value: unknown, depth = 0): number | null {
  if (value === null || typeof value !== 'object' || depth > 4) return null;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  const rateKey = /^(requests|agreed|ops)PerSecond$|^(rps|throughput)$/i;
  const hit = entries.find(([k, v]) => rateKey.test(k) && typeof v === 'number' && Number.isFinite(v));
  if (hit) return hit[1] as number;
  for (const [k, v] of entries) {
    if (/target|goal/i.test(k)) continue;
    const found = findRate(v, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

const HELP = `npx tsx e2e/bench/run.ts [--quick] [--messages N[,N…] [--samples K]]

  (no option)    the full bench: floor parts, latency at 4, 7 and 10 tabs, the user-level time,
                 throughput, a view change, messages per request, and the core alone
  --quick        the same with fewer samples
  --messages 4,7 only the messages per request, in a fresh room of each size: K counted requests
                 (default 4) after two warm-up requests; prints each request's panel counts
                 (lastCounts summed over tabs ÷ 2) against the protocol's, and writes
                 e2e/bench/results/messages-<date>.json
  --help         this text
`;

/** The value after `--name` (or in `--name=value`), or null. */
function option(args: string[], name: string): string | null {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return null;
  const a = args[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : (args[i + 1] ?? '');
}

/** `--messages`: only the message counts, so that they can be checked without a 3-minute run. */
async function messagesOnly(sizes: number[], samples: number): Promise<void> {
  log(`messages only, n = ${sizes.join(', ')}, ${samples} counted requests each; ${process.env[NETNS_ENV] ?? 'network namespace unknown'}`);
  build(ROOT);
  let served: Served | null = null;
  let browser: Browser | null = null;
  try {
    served = await serve(ROOT, PORT);
    browser = await chromium.launch({ executablePath: process.env[CHROMIUM_ENV] || undefined, args: CHROMIUM_FLAGS });
    const context = await newContext(browser, served.baseUrl);
    await preparePages(context);
    const results = [];
    for (const n of sizes) {
      const room = new RoomBench(context, served.baseUrl, n, log);
      await room.open();
      for (let i = 0; i < 2; i++) await room.proposeAndWait(`Warm-up ${n}-${i + 1}`);
      const m = await room.messages(samples);
      const expected = PHASES.reduce((a, p) => a + m.expected[p], 0);
      for (const [i, s] of m.samples.entries()) {
        const shown = PHASES.reduce((a, p) => a + (s.lastCounts[p] ?? 0), 0);
        log(`n=${n} request ${i + 1}: panel ${shown} (${PHASES.map((p) => `${p} ${s.lastCounts[p] ?? 0}`).join(', ')}), first sendings ${s.firstTime}, protocol ${expected}, copies sent again ${s.retransmissions}`);
      }
      log(`n=${n}: panel exact in every request: ${m.exact ? 'yes' : 'no'}`);
      results.push({ n, openMs: room.openMs, messages: m });
      await room.close();
    }
    await context.close();
    mkdirSync(RESULTS, { recursive: true });
    const file = `messages-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(join(RESULTS, file), `${JSON.stringify({ loadAverage: os.loadavg(), results }, null, 2)}\n`);
    log(`wrote e2e/bench/results/${file}`);
  } finally {
    if (browser) await browser.close().catch(() => undefined);
    served?.stop();
  }
}

async function inner(args: string[]): Promise<void> {
  const sizes = option(args, 'messages');
  if (sizes !== null) {
    const ns = sizes.split(',').map(Number);
    if (ns.length === 0 || ns.some((n) => n !== 4 && n !== 7 && n !== 10)) fail(`--messages takes sizes among 4, 7 and 10, not "${sizes}"`);
    const samples = Number(option(args, 'samples') ?? 4);
    if (!Number.isInteger(samples) || samples < 1) fail('--samples takes a positive whole number');
    return messagesOnly(ns, samples);
  }
  const quick = args.includes('--quick');
  const plan = planFor(quick);
  const started = Date.now();
  const watchdog = setTimeout(() => fail('the bench took more than 20 minutes; giving up'), 20 * 60_000);
  watchdog.unref();
  log(`${quick ? 'quick' : 'full'} run; ${process.env[NETNS_ENV] ?? 'network namespace unknown'}`);

  log('building the app: npx vite build');
  build(ROOT);
  log(`starting the server: PORT=${PORT} HOST=127.0.0.1 npx tsx signaling-server/main.ts`);
  let served: Served | null = null;
  let browser: Browser | null = null;
  try {
    served = await serve(ROOT, PORT);
    log(`server ready at ${served.baseUrl}`);
    const executablePath = process.env[CHROMIUM_ENV] || undefined;
    browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
    const machine: Machine = {
      cpuModel: cpuModel(),
      cores: os.cpus().length,
      memoryGiB: os.totalmem() / 2 ** 30,
      kernel: os.release(),
      node: process.version,
      chromium: browser.version(),
      chromiumPath: executablePath ?? chromium.executablePath(),
      playwright: packageVersion('@playwright/test'),
      networkNamespace: process.env[NETNS_ENV] ?? 'unknown',
      date: new Date().toISOString(),
      loadAverageAtStart: os.loadavg()[0]!,
      loadAverageAtEnd: Number.NaN,
    };
    if (machine.loadAverageAtStart > machine.cores) {
      log(`note: the machine is busy (1-minute load ${machine.loadAverageAtStart.toFixed(1)} on ${machine.cores} cores); the figures will be slower than it can do`);
    }
    log(`Chromium ${machine.chromium} on ${machine.cpuModel}, ${machine.cores} cores`);
    const context = await newContext(browser, served.baseUrl);
    await preparePages(context);

    // ---- four tabs: floor parts, latency, messages, user level, throughput, view change ----
    const four = new RoomBench(context, served.baseUrl, 4, log);
    await four.open();
    const floorParts = await four.floorParts(plan);
    const floor: Record<number, FloorModel> = {};
    for (const n of [4, 7, 10]) floor[n] = floorModel(n, floorParts);
    log(`modelled floor: ${floor[4]!.formula}`);
    const rooms: RoomResult[] = [];
    // Throughput first while the room is fresh, and again after the latency runs below: the
    // difference shows what the room's growing history costs.
    const target = await four.proposeAndWait('Throughput target');
    const throughputFresh = await four.throughput('fresh room', plan.throughputSeconds, target);
    const latency4 = await four.latency(plan.latency[4]!, floorParts);
    log(`4 tabs: latency p50 ${latency4.summary.p50.toFixed(2)} ms, p99 ${latency4.summary.p99.toFixed(2)} ms (${latency4.ratioP50.toFixed(2)}× floor)`);
    const messages4 = await four.messages(plan.messageSamples);
    rooms.push({ n: 4, openMs: four.openMs, latency: latency4, messages: messages4 });
    const user = await four.userLevel(plan.userRuns);
    if (!user.lastProposal) throw new Error('no proposal to aim the throughput votes at');
    const throughputLater = await four.throughput('after the latency runs', plan.throughputSeconds, user.lastProposal);
    const viewChange = await four.viewChange(floorParts);
    await four.close();

    // ---- scaling: 7 and 10 tabs ----
    for (const n of [7, 10]) {
      const room = new RoomBench(context, served.baseUrl, n, log);
      await room.open();
      const latency = await room.latency(plan.latency[n]!, floorParts);
      log(`${n} tabs: latency p50 ${latency.summary.p50.toFixed(2)} ms, p99 ${latency.summary.p99.toFixed(2)} ms (${latency.ratioP50.toFixed(2)}× floor)`);
      const messages = await room.messages(plan.messageSamples);
      rooms.push({ n, openMs: room.openMs, latency, messages });
      await room.close();
    }
    await context.close();
    await browser.close();
    browser = null;
    served.stop();
    served = null;

    // ---- the core alone ----
    const core = await coreBench(quick);

    machine.loadAverageAtEnd = os.loadavg()[0]!;
    const partial = {
      kind: 'byzantine-lunch-bench' as const,
      version: 1 as const,
      quick,
      machine,
      durationSeconds: (Date.now() - started) / 1000,
      floorParts,
      floor,
      rooms,
      userLevel: { runs: user.runs, summary: user.summary, proposalSummary: user.proposalSummary, samplesMs: user.samplesMs },
      throughput: [throughputFresh, throughputLater],
      viewChange,
      core,
    };
    const result: BenchResult = { ...partial, targets: targetsOf(partial) };
    console.log(renderText(result));

    mkdirSync(RESULTS, { recursive: true });
    const stamp = machine.date.replace(/[:.]/g, '-');
    const base = `bench-${stamp}${quick ? '-quick' : ''}`;
    const json = `${JSON.stringify(result, null, 2)}\n`;
    const svg = renderSvg(result);
    writeFileSync(join(RESULTS, `${base}.json`), json);
    writeFileSync(join(RESULTS, `${base}.svg`), svg);
    const latest = quick ? 'latest-quick' : 'latest';
    writeFileSync(join(RESULTS, `${latest}.json`), json);
    writeFileSync(join(RESULTS, `${latest}.svg`), svg);
    log(`wrote e2e/bench/results/${base}.json and .svg, and ${latest}.json and ${latest}.svg`);
  } finally {
    if (browser) await browser.close().catch(() => undefined);
    served?.stop();
  }
}

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(HELP);
  process.exit(0);
}
if (process.env[INNER_ENV] === '1') {
  inner(args).then(
    () => process.exit(0),
    (e: unknown) => fail(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
  );
} else {
  outer(args);
}
