// Core throughput benchmark: n replicas in one process, real Ed25519 signatures, no network or
// disk delays. Every member keeps one request outstanding and one queued (the protocol allows one
// outstanding per member), so requests are issued as fast as they execute. Runs once per crypto
// suite and reports agreed requests per second, CPU per request, and where the time goes.
//
//   npm run bench:core -- [--quick] [--out FILE] [--duration MS] [--suites noble,node]
//                         [--max-in-flight N] [--max-batch N] [--no-micro]
//
// Time is CPU time of this process (process.cpuUsage), not wall time: the machine may be shared,
// and a process that gets half a core should not look twice as slow per request. Throughput is
// reported both per wall second (what this run achieved) and per CPU second (what one core
// sustains: 1000 / CPU ms per request). The replicas' clock is the process CPU clock too, so
// their timers (heartbeats, retransmission, request timeouts) do not fire early when the process
// is descheduled.
//
// Sign and verify are timed directly: the suite is wrapped with CPU-clock timers (about 1 µs per
// reading, calibrated and subtracted; wall-clock timers are useless when the process is being
// descheduled). Encoding time
// (encodeWire, decodeWire, bodyBytes) cannot be wrapped from outside an ES module, so it is
// estimated: the run counts the calls (one encodeWire per send effect, one decodeWire per
// delivery, one bodyBytes per sign, per verify and per signed part checked on receipt) and keeps
// samples of the real messages, and a micro-benchmark of those samples gives the cost per call.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Effect } from '../core/effects.ts';
import type { LunchOp, RequestRef } from '../core/lunch.ts';
import { bodyBytes, decodeWire, encodeWire, signedParts, type Roster, type Signed, type Wire, type WireKind } from '../core/messages.ts';
import { DEFAULT_TIMING, Replica, type Timing } from '../core/replica.ts';
import type { CryptoSuite } from '../core/suite.ts';
import { detectWebCryptoEd25519, webCryptoVerifier } from '../crypto/backends.ts';
import { ed25519Suite, generateKeyPair, randomBytes, sign as nobleSign } from '../crypto/ed25519.ts';
import { nodeSuite } from '../crypto/node-suite.ts';
import { Prng } from '../sim/prng.ts';
import { nextOp } from '../sim/workload.ts';

export type SuiteName = 'noble' | 'node';
export const SUITES: readonly SuiteName[] = ['noble', 'node'];
/** The goal the numbers are reported against (not asserted anywhere). */
export const TARGET_REQUESTS_PER_SECOND = 1000;

export interface CoreBenchOptions {
  /** Measured wall time per suite (default 5000 ms; 1000 with `quick`). */
  durationMs?: number;
  quick?: boolean;
  suites?: readonly SuiteName[];
  /** Members (default 4). */
  n?: number;
  /** Replica timing overrides (e.g. maxInFlight, maxBatch). */
  timing?: Partial<Timing>;
  seed?: number;
  /** Also measure single operations: noble, node:crypto and WebCrypto sign/verify (default true). */
  micro?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface Share {
  count: number;
  /** CPU milliseconds over the measured run. */
  ms: number;
  /** Of the process CPU time of the measured run. */
  share: number;
}

export interface SuiteResult {
  suite: SuiteName;
  suiteName: string;
  n: number;
  timing: Timing;
  wallMs: number;
  cpuMs: number;
  /** Requests every replica executed during the measured window. */
  agreedRequests: number;
  /** Sequence numbers executed (batches) at the slowest replica. */
  batches: number;
  meanBatch: number;
  /** Agreed requests per wall-clock second of this run. */
  requestsPerSecond: number;
  /** Agreed requests per CPU second (1000 / cpuMsPerRequest): throughput on one dedicated core. */
  requestsPerCpuSecond: number;
  cpuMsPerRequest: number;
  /** CPU ms / wall ms during the run: below 1 means the process did not have a core to itself. */
  cpuUtilization: number;
  sign: Share;
  verify: Share;
  /** Estimated (see the file comment): calls counted in the run, cost per call micro-benchmarked. */
  encoding: Share & { encodeWire: Share; decodeWire: Share; bodyBytes: Share };
  /** Everything else: protocol logic, validation of lunch ops, hashing of batches, the driver. */
  otherShare: number;
  perRequest: { signs: number; verifies: number; deliveries: number };
  /** Point-to-point deliveries, by message type. */
  deliveries: Record<string, number>;
  /** Times the reference had to decide after the platform refused (0 for noble). */
  fallbacks: number;
  /** requestsPerSecond / requestsPerCpuSecond against TARGET_REQUESTS_PER_SECOND. */
  metTargetWall: boolean;
  metTargetCpu: boolean;
}

export interface MicroResult {
  /** CPU microseconds per operation (WebCrypto: includes its worker threads). */
  nobleSignUs: number;
  nobleVerifyUs: number;
  nodeSignUs: number;
  nodeVerifyUs: number;
  /** node:crypto verify of an invalid signature: pre-checks pass, OpenSSL refuses, noble decides. */
  nodeVerifyInvalidUs: number;
  webCrypto: null | {
    /** One awaited operation at a time. */
    signSequentialUs: number;
    verifySequentialUs: number;
    /** 64 operations in flight at once (Promise.all), per operation. */
    signConcurrentUs: number;
    verifyConcurrentUs: number;
    /** importKey('pkcs8', seed) — once per key; the verifier caches it. */
    importPkcs8Us: number;
    importRawPublicUs: number;
  };
}

export interface CoreBenchResult {
  date: string;
  node: string;
  openssl: string;
  cpu: string;
  durationMsPerSuite: number;
  targetRequestsPerSecond: number;
  suites: SuiteResult[];
  micro: MicroResult | null;
}

/** Process CPU time (user + system, all threads) in milliseconds. */
export function cpuNowMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** What one timed interval costs in CPU clock readings alone (calibrated, ms). */
function timerOverheadMs(): number {
  // A start and an end reading each contribute about half a reading's cost to an interval.
  const calls = 20_000;
  const start = cpuNowMs();
  for (let i = 0; i < calls; i++) cpuNowMs();
  return (cpuNowMs() - start) / (calls + 1);
}

// ---- the timed suite ----

interface TimedSuite extends CryptoSuite {
  signCount: number;
  signMs: number;
  verifyCount: number;
  verifyMs: number;
  reset(): void;
}

function timed(inner: CryptoSuite): TimedSuite {
  const t: TimedSuite = {
    name: inner.name,
    signCount: 0,
    signMs: 0,
    verifyCount: 0,
    verifyMs: 0,
    sign(secretKey, message) {
      const start = cpuNowMs();
      const sig = inner.sign(secretKey, message);
      t.signMs += cpuNowMs() - start;
      t.signCount++;
      return sig;
    },
    verify(publicKey, message, signature) {
      const start = cpuNowMs();
      const ok = inner.verify(publicKey, message, signature);
      t.verifyMs += cpuNowMs() - start;
      t.verifyCount++;
      return ok;
    },
    reset() {
      t.signCount = t.signMs = t.verifyCount = t.verifyMs = 0;
    },
  };
  return t;
}

function makeSuite(name: SuiteName): { suite: CryptoSuite; fallbacks: () => number } {
  if (name === 'noble') return { suite: ed25519Suite, fallbacks: () => 0 };
  const s = nodeSuite();
  return { suite: s, fallbacks: () => s.stats.fallbacks };
}


// ---- one run ----

interface Sample {
  message: Wire;
  bytes: Uint8Array;
}

const SAMPLES_PER_KIND = 64;

interface Tally {
  sends: Map<WireKind, number>;
  deliveries: Map<WireKind, number>;
  /** Signed parts delivered, by the kind of message carrying them. */
  partsDelivered: Map<WireKind, number>;
  samples: Map<WireKind, Sample[]>;
  sampleCursor: Map<WireKind, number>;
}

function newTally(): Tally {
  return { sends: new Map(), deliveries: new Map(), partsDelivered: new Map(), samples: new Map(), sampleCursor: new Map() };
}

interface InFlight {
  from: number;
  to: number;
  kind: WireKind;
  bytes: Uint8Array;
}

/** A FIFO with O(1) shift. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

interface SuiteRun {
  result: Omit<SuiteResult, 'encoding' | 'otherShare'>;
  tally: Tally;
  signCount: number;
  verifyCount: number;
}

/** One suite: build the cluster, warm up, then drive it for `durationMs` of wall time. Blocks. */
function runSuite(name: SuiteName, n: number, timing: Timing, durationMs: number, seed: number, log: (l: string) => void): SuiteRun {
  const { suite: inner, fallbacks } = makeSuite(name);
  const suite = timed(inner);
  const pairs = Array.from({ length: n }, () => generateKeyPair());
  const roster: Roster = { room: 'bench-room', keys: pairs.map((p) => p.publicKey) };
  const replicas = pairs.map((p, me) => new Replica({ roster, me, secretKey: p.secretKey, suite, timing, now: 0 }));
  const rng = new Prng(seed);
  const known: RequestRef[][] = replicas.map(() => []);
  const executedRequests = new Array<number>(n).fill(0);
  const executedSeqs = new Array<number>(n).fill(0);
  const queue = new Fifo<InFlight>();
  let tally = newTally();

  const opFor = (member: number): LunchOp => nextOp(rng, known[member]!);

  const collect = (from: number, effects: Effect[]): void => {
    for (const effect of effects) {
      if (effect.kind === 'send') {
        if (effect.type === 'garbage') continue;
        const targets = effect.to === 'all' ? n - 1 : 1;
        tally.sends.set(effect.type, (tally.sends.get(effect.type) ?? 0) + 1);
        const parts = signedParts(effect.message).length * targets;
        tally.partsDelivered.set(effect.type, (tally.partsDelivered.get(effect.type) ?? 0) + parts);
        // Keep the most recent samples of each kind, for the encoding micro-benchmark.
        let samples = tally.samples.get(effect.type);
        if (!samples) tally.samples.set(effect.type, (samples = []));
        const cursor = tally.sampleCursor.get(effect.type) ?? 0;
        samples[cursor % SAMPLES_PER_KIND] = { message: effect.message, bytes: effect.bytes };
        tally.sampleCursor.set(effect.type, cursor + 1);
        if (effect.to === 'all') {
          for (let to = 0; to < n; to++) if (to !== from) queue.push({ from, to, kind: effect.type, bytes: effect.bytes });
        } else {
          queue.push({ from, to: effect.to, kind: effect.type, bytes: effect.bytes });
        }
      } else if (effect.kind === 'executed') {
        executedSeqs[from]!++;
        executedRequests[from]! += effect.requests.length;
        for (const ev of effect.events) {
          if (ev.kind === 'proposed') {
            const list = known[from]!;
            list.push(ev.ref);
            if (list.length > 32) list.shift();
          }
        }
        // Each own request executed: the member asks for the next one (it stays one queued).
        let own = 0;
        for (const r of effect.requests) if (r.member === from) own++;
        for (let i = 0; i < own; i++) collect(from, replicas[from]!.request(opFor(from)));
      }
    }
  };

  const cpuStart = cpuNowMs();
  const clock = () => Math.floor(cpuNowMs() - cpuStart);
  // Every member: one request outstanding, one queued.
  for (let m = 0; m < n; m++) {
    collect(m, replicas[m]!.request(opFor(m)));
    collect(m, replicas[m]!.request(opFor(m)));
  }

  const TICK_EVERY_MS = 20;
  /** Deliver and tick for `forMs` of wall time. */
  const drive = (forMs: number): void => {
    const end = performance.now() + forMs;
    let nextTick = 0;
    let idleSince: number | null = null;
    for (;;) {
      if (performance.now() >= end) return;
      const now = clock();
      if (now >= nextTick || queue.size === 0) {
        nextTick = now + TICK_EVERY_MS;
        for (let m = 0; m < n; m++) collect(m, replicas[m]!.tick(now));
        if (queue.size > 0) idleSince = null;
        else if (idleSince === null) idleSince = now;
        else if (now - idleSince > 60_000) throw new Error('the cluster stalled');
      }
      for (let i = 0; i < 256; i++) {
        const msg = queue.shift();
        if (!msg) break;
        tally.deliveries.set(msg.kind, (tally.deliveries.get(msg.kind) ?? 0) + 1);
        collect(msg.to, replicas[msg.to]!.step(msg.from, msg.bytes));
      }
    }
  };

  // Warm-up (JIT, key caches), then the measured window.
  const warmupMs = Math.min(1000, Math.max(200, durationMs / 5));
  drive(warmupMs);
  suite.reset();
  tally = newTally();
  const reqBefore = Math.min(...executedRequests);
  const seqBefore = Math.min(...executedSeqs);
  const fallbacksBefore = fallbacks();
  const cpuBefore = cpuNowMs();
  const wallBefore = performance.now();
  drive(durationMs);
  const wallMs = performance.now() - wallBefore;
  const cpuMs = cpuNowMs() - cpuBefore;
  const agreedRequests = Math.min(...executedRequests) - reqBefore;
  const batches = Math.min(...executedSeqs) - seqBefore;
  const views = replicas.map((r) => r.snapshot().view);
  if (views.some((v) => v !== 0)) log(`  note: view changes happened during the run (views ${views.join(', ')})`);
  const deliveries = Object.fromEntries([...tally.deliveries].sort((a, b) => b[1] - a[1]));
  const totalDeliveries = [...tally.deliveries.values()].reduce((a, b) => a + b, 0);
  const requestsPerSecond = agreedRequests / (wallMs / 1000);
  const requestsPerCpuSecond = agreedRequests / (cpuMs / 1000);
  // Timed calls, less the timer's own cost, as a share of the run's CPU time.
  const overhead = timerOverheadMs();
  const share = (count: number, timedMs: number): Share => {
    const ms = Math.max(0, timedMs - count * overhead);
    return { count, ms, share: cpuMs > 0 ? ms / cpuMs : 0 };
  };
  return {
    result: {
      suite: name,
      suiteName: inner.name,
      n,
      timing,
      wallMs,
      cpuMs,
      agreedRequests,
      batches,
      meanBatch: batches > 0 ? agreedRequests / batches : 0,
      requestsPerSecond,
      requestsPerCpuSecond,
      cpuMsPerRequest: agreedRequests > 0 ? cpuMs / agreedRequests : 0,
      cpuUtilization: wallMs > 0 ? cpuMs / wallMs : 0,
      sign: share(suite.signCount, suite.signMs),
      verify: share(suite.verifyCount, suite.verifyMs),
      perRequest: {
        signs: suite.signCount / Math.max(1, agreedRequests),
        verifies: suite.verifyCount / Math.max(1, agreedRequests),
        deliveries: totalDeliveries / Math.max(1, agreedRequests),
      },
      deliveries,
      fallbacks: fallbacks() - fallbacksBefore,
      metTargetWall: requestsPerSecond >= TARGET_REQUESTS_PER_SECOND,
      metTargetCpu: requestsPerCpuSecond >= TARGET_REQUESTS_PER_SECOND,
    },
    tally,
    signCount: suite.signCount,
    verifyCount: suite.verifyCount,
  };
}

// ---- micro-benchmarks ----

/** Mean CPU milliseconds per call of `fn`, run for about `budgetMs` of CPU after a short warm-up. */
function perCall(fn: (i: number) => void, budgetMs = 40): number {
  for (let i = 0; i < 20; i++) fn(i);
  let calls = 0;
  const start = cpuNowMs();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    for (let j = 0; j < 16; j++) fn(calls++);
    elapsed = cpuNowMs() - start;
  }
  return elapsed / calls;
}

async function perCallAsync(fn: (i: number) => Promise<unknown>, budgetMs = 40): Promise<number> {
  for (let i = 0; i < 10; i++) await fn(i);
  let calls = 0;
  const start = cpuNowMs();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    await fn(calls++);
    elapsed = cpuNowMs() - start;
  }
  return elapsed / calls;
}

/** Encoding cost per call, from the run's own message samples, times the run's call counts. */
function estimateEncoding(tally: Tally, signs: number, verifies: number, cpuMs: number): SuiteResult['encoding'] {
  let encodeMs = 0;
  let decodeMs = 0;
  let encodeCalls = 0;
  let decodeCalls = 0;
  let partsMs = 0;
  let parts = 0;
  for (const [kind, samples] of tally.samples) {
    const list = samples.filter(Boolean);
    if (list.length === 0) continue;
    const sends = tally.sends.get(kind) ?? 0;
    const deliveries = tally.deliveries.get(kind) ?? 0;
    encodeMs += sends * perCall((i) => encodeWire(list[i % list.length]!.message), 15);
    decodeMs += deliveries * perCall((i) => decodeWire(list[i % list.length]!.bytes), 15);
    encodeCalls += sends;
    decodeCalls += deliveries;
    // Every signed part of a delivered message gets bodyBytes once on receipt (the replica's
    // verified-signature cache is keyed by those bytes).
    const bodies = list.flatMap((s) => signedParts(s.message).map((p) => p.body));
    const delivered = tally.partsDelivered.get(kind) ?? 0;
    if (bodies.length > 0 && delivered > 0) {
      partsMs += delivered * perCall((i) => bodyBytes(bodies[i % bodies.length]!), 15);
      parts += delivered;
    }
  }
  // Signing and verifying each encode the body once more; cost as the delivery-weighted mean.
  const meanBody = parts > 0 ? partsMs / parts : 0;
  const bbCalls = parts + signs + verifies;
  const bodyMs = partsMs + (signs + verifies) * meanBody;
  const share = (count: number, ms: number): Share => ({ count, ms, share: cpuMs > 0 ? ms / cpuMs : 0 });
  return {
    ...share(encodeCalls + decodeCalls + bbCalls, encodeMs + decodeMs + bodyMs),
    encodeWire: share(encodeCalls, encodeMs),
    decodeWire: share(decodeCalls, decodeMs),
    bodyBytes: share(bbCalls, bodyMs),
  };
}

async function micro(log: (l: string) => void): Promise<MicroResult> {
  const kp = generateKeyPair();
  const msgs = Array.from({ length: 64 }, (_, i) => randomBytes(120 + i));
  const sigs = msgs.map((m) => nobleSign(m, kp.secretKey));
  const node = nodeSuite();
  const us = (ms: number) => ms * 1000;
  const r: MicroResult = {
    nobleSignUs: us(perCall((i) => ed25519Suite.sign(kp.secretKey, msgs[i % 64]!), 200)),
    nobleVerifyUs: us(perCall((i) => ed25519Suite.verify(kp.publicKey, msgs[i % 64]!, sigs[i % 64]!), 200)),
    nodeSignUs: us(perCall((i) => node.sign(kp.secretKey, msgs[i % 64]!), 200)),
    nodeVerifyUs: us(perCall((i) => node.verify(kp.publicKey, msgs[i % 64]!, sigs[i % 64]!), 200)),
    nodeVerifyInvalidUs: us(perCall((i) => node.verify(kp.publicKey, msgs[(i + 1) % 64]!, sigs[i % 64]!), 200)),
    webCrypto: null,
  };
  if (await detectWebCryptoEd25519()) {
    const web = webCryptoVerifier();
    const subtle = globalThis.crypto.subtle;
    const seed = new Uint8Array(kp.secretKey);
    const pkcs8 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, ...seed]);
    const batch = async (fn: (i: number) => Promise<unknown>): Promise<number> => {
      const rounds = 20;
      await Promise.all(Array.from({ length: 64 }, (_, i) => fn(i)));
      const start = cpuNowMs();
      for (let k = 0; k < rounds; k++) await Promise.all(Array.from({ length: 64 }, (_, i) => fn(i)));
      return (cpuNowMs() - start) / (rounds * 64);
    };
    r.webCrypto = {
      signSequentialUs: us(await perCallAsync((i) => web.signAsync(kp.secretKey, msgs[i % 64]!), 200)),
      verifySequentialUs: us(await perCallAsync((i) => web.verifyAsync(kp.publicKey, msgs[i % 64]!, sigs[i % 64]!), 200)),
      signConcurrentUs: us(await batch((i) => web.signAsync(kp.secretKey, msgs[i % 64]!))),
      verifyConcurrentUs: us(await batch((i) => web.verifyAsync(kp.publicKey, msgs[i % 64]!, sigs[i % 64]!))),
      importPkcs8Us: us(await perCallAsync(() => subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']), 100)),
      importRawPublicUs: us(await perCallAsync(() => subtle.importKey('raw', new Uint8Array(kp.publicKey), { name: 'Ed25519' }, false, ['verify']), 100)),
    };
  } else {
    log('  WebCrypto Ed25519 not available here');
  }
  return r;
}

// ---- the benchmark ----

export async function runCoreBench(options: CoreBenchOptions = {}): Promise<CoreBenchResult> {
  const log = options.log ?? (() => {});
  const durationMs = options.durationMs ?? (options.quick ? 1000 : 5000);
  const n = options.n ?? 4;
  const timing: Timing = { ...DEFAULT_TIMING, ...options.timing };
  const suites: SuiteResult[] = [];
  for (const name of options.suites ?? SUITES) {
    log(`running ${name} for ${durationMs} ms (n = ${n}, maxBatch ${timing.maxBatch}, maxInFlight ${timing.maxInFlight}) ...`);
    const { result, tally, signCount, verifyCount } = runSuite(name, n, timing, durationMs, options.seed ?? 1, log);
    const encoding = estimateEncoding(tally, signCount, verifyCount, result.cpuMs);
    const otherShare = Math.max(0, 1 - result.sign.share - result.verify.share - encoding.share);
    suites.push({ ...result, encoding, otherShare });
  }
  const microResult = options.micro === false ? null : await micro(log);
  return {
    date: new Date().toISOString(),
    node: process.version,
    openssl: process.versions.openssl ?? 'unknown',
    cpu: `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} logical)`,
    durationMsPerSuite: durationMs,
    targetRequestsPerSecond: TARGET_REQUESTS_PER_SECOND,
    suites,
    micro: microResult,
  };
}

// ---- output ----

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const f1 = (x: number) => x.toFixed(1);
const f3 = (x: number) => x.toFixed(3);

export function formatCoreBench(r: CoreBenchResult): string {
  const lines: string[] = [];
  lines.push(`core bench — ${r.node}, OpenSSL ${r.openssl}, ${r.cpu}; ${r.durationMsPerSuite} ms per suite; target ${r.targetRequestsPerSecond} req/s`);
  const header = ['suite', 'req/s wall', 'req/CPU-s', 'target', 'CPU ms/req', 'CPU use', 'batch', 'signs/req', 'verifies/req', 'sign', 'verify', 'encoding*', 'other', 'fallbacks'];
  const rows = r.suites.map((s) => [
    s.suiteName,
    s.requestsPerSecond.toFixed(0),
    s.requestsPerCpuSecond.toFixed(0),
    s.metTargetCpu ? (s.metTargetWall ? 'met' : 'met/CPU') : 'missed',
    f3(s.cpuMsPerRequest),
    pct(s.cpuUtilization),
    f1(s.meanBatch),
    f1(s.perRequest.signs),
    f1(s.perRequest.verifies),
    pct(s.sign.share),
    pct(s.verify.share),
    pct(s.encoding.share),
    pct(s.otherShare),
    String(s.fallbacks),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(fmt(header));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) lines.push(fmt(row));
  lines.push('req/CPU-s = 1000 / CPU ms per request (one dedicated core); CPU use < 100% means the machine was shared');
  lines.push('shares are of process CPU time; * encoding = encodeWire + decodeWire (incl. valibot) + bodyBytes, estimated from call counts × micro-benchmarked cost:');
  for (const s of r.suites) {
    lines.push(
      `  ${s.suiteName}: encodeWire ${pct(s.encoding.encodeWire.share)}, decodeWire ${pct(s.encoding.decodeWire.share)}, bodyBytes ${pct(s.encoding.bodyBytes.share)}; ` +
        `${s.agreedRequests} requests in ${s.batches} batches over ${f1(s.wallMs)} ms wall, ${f1(s.cpuMs)} ms CPU`,
    );
  }
  if (r.micro) {
    const m = r.micro;
    lines.push('single operations (CPU µs):');
    lines.push(`  noble          sign ${f1(m.nobleSignUs)}  verify ${f1(m.nobleVerifyUs)}`);
    lines.push(`  node:crypto    sign ${f1(m.nodeSignUs)}  verify ${f1(m.nodeVerifyUs)}  verify-invalid (OpenSSL no → noble decides) ${f1(m.nodeVerifyInvalidUs)}`);
    if (m.webCrypto) {
      const w = m.webCrypto;
      lines.push(
        `  WebCrypto      sign ${f1(w.signSequentialUs)} (awaited one by one) / ${f1(w.signConcurrentUs)} (64 in flight)  ` +
          `verify ${f1(w.verifySequentialUs)} / ${f1(w.verifyConcurrentUs)}  importKey pkcs8 ${f1(w.importPkcs8Us)}  raw public ${f1(w.importRawPublicUs)}`,
      );
    }
  }
  return lines.join('\n');
}

function parseArgs(argv: string[]): { options: CoreBenchOptions; out: string | null } {
  const options: CoreBenchOptions = { log: (l) => console.error(l) };
  const timing: Partial<Timing> = {};
  let out: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1) throw new Error(`${arg} needs a positive integer`);
      return v;
    };
    switch (arg) {
      case '--quick':
        options.quick = true;
        break;
      case '--out':
        out = value();
        break;
      case '--duration':
        options.durationMs = int();
        break;
      case '--suites': {
        const names = value().split(',');
        for (const s of names) if (!SUITES.includes(s as SuiteName)) throw new Error(`unknown suite ${s} (known: ${SUITES.join(', ')})`);
        options.suites = names as SuiteName[];
        break;
      }
      case '--max-in-flight':
        timing.maxInFlight = int();
        break;
      case '--max-batch':
        timing.maxBatch = int();
        break;
      case '--seed':
        options.seed = int();
        break;
      case '--no-micro':
        options.micro = false;
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  if (Object.keys(timing).length > 0) options.timing = timing;
  return { options, out };
}

async function main(): Promise<void> {
  const { options, out } = parseArgs(process.argv.slice(2));
  const result = await runCoreBench(options);
  console.log(formatCoreBench(result));
  if (out) {
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    console.error(`wrote ${out}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
