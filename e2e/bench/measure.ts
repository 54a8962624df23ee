// The measurements of `npm run bench`, one room at a time, against a running server.
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { DEFAULT_TIMING } from '../../src/core/replica.ts';
import {
  clockOf, decision, lastCounter, durableWriteCost, hookInfo, issue, joinAndAwaitDecision, keepOneOutstanding, marksBetween,
  openRoom, panel, ping, primaryOf, setMalicious, signCost, verifyCost, waitForRequest, waitReady, type Tab,
} from './pages.ts';
import {
  expectedMessages, floorModel, PHASES, quorumOf, summarize, viewChangeModel,
  type FloorModel, type FloorParts, type PhaseName, type Summary, type ViewChangeModel,
} from './model.ts';

/** The configured request timeout (4000 ms when this was written). */
export const REQUEST_TIMEOUT_MS = DEFAULT_TIMING.requestTimeout;

export interface Plan {
  quick: boolean;
  pings: number;
  costIterations: { sign: number; verify: number; write: number };
  latency: Record<number, number>;
  userRuns: number;
  throughputSeconds: number;
  messageSamples: number;
}

export function planFor(quick: boolean): Plan {
  return quick
    ? { quick, pings: 100, costIterations: { sign: 100, verify: 100, write: 20 }, latency: { 4: 40, 7: 15, 10: 10 }, userRuns: 3, throughputSeconds: 3, messageSamples: 2 }
    : { quick, pings: 200, costIterations: { sign: 300, verify: 300, write: 60 }, latency: { 4: 200, 7: 60, 10: 30 }, userRuns: 10, throughputSeconds: 10, messageSamples: 4 };
}

export interface FloorPartsResult extends FloorParts {
  rtt: Summary & { probes: number };
  /** ms/op of each of the five batches; the floor uses the best. */
  batches: { signMs: number[]; verifyMs: number[]; writeMs: number[] };
}

export interface LatencyResult {
  n: number;
  requests: number;
  /** Max over tabs of (execution mark − t0), ms. */
  summary: Summary;
  /** Time until the request executed in the first tab (the fastest), ms. */
  firstTab: Summary;
  /** Requests per sequence number seen by these (sequential) requests. */
  batchSizes: number[];
  floor: FloorModel;
  ratioP50: number;
  /** Data-channel RTT in this room (idle), for reference. */
  roomRtt: Summary;
  /** p50 of the first and of the last tenth of the requests: how latency moves as the room's history grows. */
  trend: { firstTenthP50: number; lastTenthP50: number };
  samplesMs: number[];
}

export interface MessageSample {
  /** Sum over tabs of panel().lastCounts, divided by 2 (each message is counted by sender and receiver). */
  lastCounts: Record<string, number>;
  /** Sum over tabs of the change in panel().totalCounts across the request, divided by 2. */
  totalDelta: Record<string, number>;
  retransmissions: number;
  /** Protocol messages (4 phases, from the totals) minus the copies sent again: the first sendings. */
  firstTime: number;
  requestsInSeq: number;
}

export interface MessagesResult {
  n: number;
  samples: MessageSample[];
  /** Samples during which no tab retransmitted; the medians and the verdict use only these (all, when there are none). */
  cleanSamples: number;
  /** Per protocol phase: the last-decision panel counts (median over every sample: the panel leaves copies out). */
  measured: Record<PhaseName, number>;
  /** Per protocol phase: counted from the totals (median over samples). */
  measuredFromTotals: Record<PhaseName, number>;
  expected: Record<PhaseName, number>;
  /** Every request showed exactly the protocol's counts in the panel, retransmissions or not. */
  exact: boolean;
  /** Every request without retransmissions sent exactly the protocol's counts (from the totals). */
  exactFromTotals: boolean;
  /** Every request's first sendings (totals minus copies sent again) add up to the protocol's total. */
  firstTimeExact: boolean;
}

export interface UserLevelResult {
  runs: number;
  /** propose → decision shown in every tab, ms. */
  summary: Summary;
  /** propose → proposal executed in every tab, ms. */
  proposalSummary: Summary;
  samplesMs: number[];
}

export interface ThroughputResult {
  /** When in the room's life it ran: `fresh` (one proposal so far) or after the latency runs. */
  label: string;
  /** Proposals the room held when it started (the UI renders each of them). */
  proposalsBefore: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  sequenceNumbers: number;
  seqPerSecond: number;
  batchMean: number;
  batchMax: number;
  batchHistogram: Record<string, number>;
  issued: number[];
  drained: boolean;
  note: string;
}

export interface ViewChangeResult {
  ms: number;
  oldPrimary: number;
  newView: number;
  model: ViewChangeModel;
  ratioIncluded: number;
  excessOverTimeoutMs: number;
  ratioExcluded: number;
}

export interface RoomResult {
  n: number;
  openMs: number;
  latency: LatencyResult;
  messages: MessagesResult;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Log = (line: string) => void;

export class RoomBench {
  tabs: Tab[] = [];
  openMs = 0;

  constructor(
    private readonly context: BrowserContext,
    private readonly baseUrl: string,
    readonly n: number,
    private readonly log: Log,
  ) {}

  async open(): Promise<void> {
    const t = Date.now();
    const room = `bench-${this.n}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    this.log(`${this.n} tabs: opening room ${room}`);
    const pages = await openRoom(this.context, this.baseUrl, room, this.n);
    await Promise.all(pages.map((p) => waitReady(p, 30_000 + 10_000 * this.n)));
    const info = await Promise.all(pages.map((p) => hookInfo(p)));
    this.tabs = pages.map((page, i) => ({ page, me: info[i]!.me }));
    const mes = new Set(this.tabs.map((t) => t.me));
    if (mes.size !== this.n || [...mes].some((m) => m < 0 || m >= this.n)) {
      throw new Error(`the ${this.n} tabs did not take ${this.n} distinct seats: ${[...mes].join(', ')}`);
    }
    this.openMs = Date.now() - t;
    this.log(`${this.n} tabs: ready in ${(this.openMs / 1000).toFixed(1)} s (primary: member ${info[0]!.primary})`);
  }

  async close(): Promise<void> {
    for (const t of this.tabs) await t.page.close().catch(() => undefined);
    this.tabs = [];
  }

  async rtt(probes: number): Promise<Summary & { probes: number }> {
    const a = this.tabs[0]!;
    const peer = (a.me + 1) % this.n;
    await ping(a.page, peer, 10); // warm-up
    const rtts = await ping(a.page, peer, probes);
    return { ...summarize(rtts), probes };
  }

  async floorParts(plan: Plan): Promise<FloorPartsResult> {
    const rtt = await this.rtt(plan.pings);
    this.log(`${this.n} tabs: data-channel RTT p50 ${rtt.p50.toFixed(3)} ms, p99 ${rtt.p99.toFixed(3)} ms (${plan.pings} probes)`);
    const page = this.tabs[0]!.page;
    // A floor wants the cost when nothing competes: the best of five batches (the other tabs and
    // the rest of the machine do run meanwhile); every batch is kept in the result.
    const batches = async (cost: (page: Page, iterations: number) => Promise<number>, iterations: number) => {
      await cost(page, Math.max(5, Math.round(iterations / 10)));
      const each: number[] = [];
      for (let i = 0; i < 5; i++) each.push(await cost(page, Math.max(1, Math.round(iterations / 5))));
      return each;
    };
    const signBatches = await batches(signCost, plan.costIterations.sign);
    const verifyBatches = await batches(verifyCost, plan.costIterations.verify);
    const writeBatches = await batches(durableWriteCost, plan.costIterations.write);
    const signMs = Math.min(...signBatches);
    const verifyMs = Math.min(...verifyBatches);
    const writeMs = Math.min(...writeBatches);
    this.log(`${this.n} tabs: sign ${signMs.toFixed(3)} ms, verify ${verifyMs.toFixed(3)} ms, durable write ${writeMs.toFixed(3)} ms`);
    return { rtt, rttMs: rtt.p50, signMs, verifyMs, writeMs, batches: { signMs: signBatches, verifyMs: verifyBatches, writeMs: writeBatches } };
  }

  /** One request from `issuer`; returns each tab's execution mark (null where it timed out). */
  private async oneRequest(issuer: Tab, place: string, tabs: Tab[] = this.tabs, timeoutMs = 30_000) {
    const issued = await issue(issuer.page, issuer.me, place);
    const marks = await Promise.all(tabs.map((t) => waitForRequest(t.page, issuer.me, issued, timeoutMs)));
    return { t0: issued.t0, marks };
  }

  async latency(count: number, parts: FloorParts, label = 'latency'): Promise<LatencyResult> {
    const roomRtt = await this.rtt(50);
    const samples: number[] = [];
    const first: number[] = [];
    const batchSizes: number[] = [];
    const step = Math.max(1, Math.round(count / 10));
    for (let i = 0; i < count; i++) {
      const issuer = this.tabs[i % this.n]!;
      const { t0, marks } = await this.oneRequest(issuer, `Bench ${this.n}-${i + 1}`);
      this.proposals++;
      if (marks.some((m) => m === null)) throw new Error(`${this.n} tabs: request ${i + 1} did not execute in every tab within 30 s`);
      const ats = marks.map((m) => m!.at);
      samples.push(Math.max(...ats) - t0);
      first.push(Math.min(...ats) - t0);
      batchSizes.push(marks[0]!.requests.length);
      if ((i + 1) % step === 0 || i + 1 === count) this.log(`${this.n} tabs: ${label} ${i + 1}/${count}`);
    }
    const summary = summarize(samples);
    const floor = floorModel(this.n, parts);
    const tenth = Math.max(1, Math.floor(count / 10));
    const trend = { firstTenthP50: summarize(samples.slice(0, tenth)).p50, lastTenthP50: summarize(samples.slice(-tenth)).p50 };
    return {
      n: this.n, requests: count, summary, firstTab: summarize(first), batchSizes, floor,
      ratioP50: summary.p50 / floor.ms, roomRtt, trend, samplesMs: samples.map((x) => Math.round(x * 1000) / 1000),
    };
  }

  async messages(samplesWanted: number): Promise<MessagesResult> {
    const primary = await primaryOf(this.tabs[0]!.page);
    const backups = this.tabs.filter((t) => t.me !== primary);
    const samples: MessageSample[] = [];
    await sleep(500);
    // Up to three times as many requests as wanted, until `samplesWanted` of them went without
    // retransmissions (the replica resends unfinished slots on a fixed one-second beat).
    for (let i = 0; i < 3 * samplesWanted && samples.filter((x) => x.retransmissions === 0).length < samplesWanted; i++) {
      const before = await Promise.all(this.tabs.map((t) => panel(t.page)));
      const issuer = backups[i % backups.length]!;
      const { marks } = await this.oneRequest(issuer, `Count ${this.n}-${i + 1}`);
      this.proposals++;
      if (marks.some((m) => m === null)) throw new Error(`${this.n} tabs: counted request ${i + 1} did not execute everywhere`);
      // Let late prepares and commits arrive before counting.
      await sleep(600);
      const after = await Promise.all(this.tabs.map((t) => panel(t.page)));
      const last: Record<string, number> = {};
      const delta: Record<string, number> = {};
      let retransmissions = 0;
      for (let k = 0; k < this.tabs.length; k++) {
        const a = after[k];
        const b = before[k];
        if (!a || !b) throw new Error('a tab has no protocol panel');
        for (const [type, c] of Object.entries(a.lastCounts)) last[type] = (last[type] ?? 0) + c / 2;
        for (const [type, c] of Object.entries(a.totalCounts)) {
          const d = c - (b.totalCounts[type] ?? 0);
          if (d !== 0) delta[type] = (delta[type] ?? 0) + d / 2;
        }
        retransmissions += a.retransmissions - b.retransmissions;
      }
      const phases = PHASES.reduce((a, p) => a + (delta[p] ?? 0), 0);
      samples.push({ lastCounts: last, totalDelta: delta, retransmissions, firstTime: phases - retransmissions, requestsInSeq: marks[0]!.requests.length });
    }
    const expected = expectedMessages(this.n);
    const median = (xs: number[]) => summarize(xs).p50;
    // The protocol's count is that of the normal case: judge on requests during which no tab
    // retransmitted anything (a retransmission is an extra copy of some message); all are kept.
    const clean = samples.filter((s) => s.retransmissions === 0);
    const judged = clean.length > 0 ? clean : samples;
    const measured = {} as Record<PhaseName, number>;
    const measuredFromTotals = {} as Record<PhaseName, number>;
    for (const p of PHASES) {
      measured[p] = median(samples.map((s) => s.lastCounts[p] ?? 0));
      measuredFromTotals[p] = median(judged.map((s) => s.totalDelta[p] ?? 0));
    }
    // The panel counts first sendings only, so it is judged on every request, copies or not.
    const exact = samples.length > 0 && samples.every((s) => PHASES.every((p) => (s.lastCounts[p] ?? 0) === expected[p]));
    const exactFromTotals = clean.length > 0 && clean.every((s) => PHASES.every((p) => (s.totalDelta[p] ?? 0) === expected[p]));
    this.log(`${this.n} tabs: panel's messages per request ${PHASES.map((p) => `${p} ${measured[p]}`).join(', ')} (expected ${PHASES.map((p) => expected[p]).join('/')}; ${clean.length}/${samples.length} samples without retransmissions)`);
    const expectedTotal = PHASES.reduce((a, p) => a + expected[p], 0);
    const firstTimeExact = samples.every((x) => x.firstTime === expectedTotal);
    return { n: this.n, samples, cleanSamples: clean.length, measured, measuredFromTotals, expected, exact, exactFromTotals, firstTimeExact };
  }

  /** Starts a new round (through the UI, as a user would) when the current one is decided. */
  private async freshRound(): Promise<void> {
    const decided = await Promise.all(this.tabs.map((t) => decision(t.page)));
    if (decided.every((d) => d === null)) return;
    await this.tabs[0]!.page.getByRole('button', { name: 'Start a new round' }).click();
    await Promise.all(
      this.tabs.map((t) =>
        t.page.waitForFunction(
          () => (window as unknown as { __lunchBench: { decision(): string | null } }).__lunchBench.decision() === null,
          undefined,
          { timeout: 30_000, polling: 20 },
        ),
      ),
    );
  }

  async userLevel(runs: number): Promise<UserLevelResult & { lastProposal: { member: number; counter: number } | null }> {
    const q = quorumOf(this.n);
    const samples: number[] = [];
    const proposals: number[] = [];
    let lastProposal: { member: number; counter: number } | null = null;
    for (let r = 0; r < runs; r++) {
      await this.freshRound();
      await sleep(200);
      const issuer = this.tabs[r % this.n]!;
      const place = `Lunch spot ${r + 1}`;
      // The waiters are in place before the proposal leaves, so each tab votes the moment the
      // proposal executes there; they look only at marks after `armed`, which precedes t0.
      const armed = await clockOf(issuer.page);
      const after = await lastCounter(issuer.page, issuer.me);
      const waiting = Promise.all(this.tabs.map((t) => joinAndAwaitDecision(t.page, issuer.me, armed, after, place, q, 30_000)));
      const { t0 } = await issue(issuer.page, issuer.me, place);
      const results = await waiting;
      this.proposals++;
      if (results.some((x) => x === null || x.decision !== place)) {
        throw new Error(`user-level run ${r + 1}: not every tab decided ${place}: ${JSON.stringify(results.map((x) => x?.decision ?? null))}`);
      }
      samples.push(Math.max(...results.map((x) => x!.decidedAt)) - t0);
      proposals.push(Math.max(...results.map((x) => x!.proposalAt)) - t0);
      lastProposal = { member: issuer.me, counter: Number(results[0]!.proposal.split(':')[1]) };
      this.log(`${this.n} tabs: user-level ${r + 1}/${runs}: ${samples.at(-1)!.toFixed(1)} ms`);
    }
    return { runs, summary: summarize(samples), proposalSummary: summarize(proposals), samplesMs: samples, lastProposal };
  }

  /** Proposes one place from the first tab and returns its reference, once every tab executed it. */
  async proposeAndWait(place: string): Promise<{ member: number; counter: number }> {
    const issuer = this.tabs[0]!;
    const { marks } = await this.oneRequest(issuer, place);
    if (marks.some((m) => m === null)) throw new Error(`${this.n} tabs: "${place}" did not execute in every tab`);
    this.proposals++;
    return { member: issuer.me, counter: await lastCounter(issuer.page, issuer.me) };
  }

  /** Proposals this bench made in the room so far. */
  proposals = 0;

  async throughput(label: string, seconds: number, target: { member: number; counter: number }): Promise<ThroughputResult> {
    const now = await clockOf(this.tabs[0]!.page);
    const startAt = now + 300;
    const until = startAt + seconds * 1000;
    this.log(`${this.n} tabs: throughput (${label}, ${this.proposals} proposals in the room) for ${seconds} s, one request outstanding per tab`);
    const loads = await Promise.all(this.tabs.map((t) => keepOneOutstanding(t.page, t.me, target, startAt, until)));
    const marks = await marksBetween(this.tabs[0]!.page, startAt, until);
    const withRequests = marks.filter((m) => m.requests.length > 0);
    const requests = withRequests.reduce((a, m) => a + m.requests.length, 0);
    const histogram: Record<string, number> = {};
    for (const m of withRequests) histogram[m.requests.length] = (histogram[m.requests.length] ?? 0) + 1;
    const result: ThroughputResult = {
      label,
      proposalsBefore: this.proposals,
      seconds,
      requests,
      requestsPerSecond: requests / seconds,
      sequenceNumbers: marks.length,
      seqPerSecond: marks.length / seconds,
      batchMean: withRequests.length ? requests / withRequests.length : 0,
      batchMax: Math.max(0, ...withRequests.map((m) => m.requests.length)),
      batchHistogram: histogram,
      issued: loads.map((l) => l.issued),
      drained: loads.every((l) => l.drained),
      note: 'each request is a decline vote on a decided proposal (it changes no decision and adds no row to the proposal list)',
    };
    this.log(`${this.n} tabs: ${result.requestsPerSecond.toFixed(1)} agreed requests/s, ${result.batchMean.toFixed(2)} requests per sequence number`);
    return result;
  }

  async viewChange(parts: FloorParts): Promise<ViewChangeResult> {
    await sleep(800);
    const oldPrimary = await primaryOf(this.tabs[0]!.page);
    const liar = this.tabs.find((t) => t.me === oldPrimary);
    if (!liar) throw new Error(`no tab holds the primary's seat (member ${oldPrimary})`);
    const honest = this.tabs.filter((t) => t !== liar);
    const issuer = honest[0]!;
    this.log(`${this.n} tabs: view change: primary member ${oldPrimary} falls silent; member ${issuer.me} proposes`);
    await setMalicious(liar.page, true, 'silent');
    const { t0, marks } = await this.oneRequest(issuer, 'After the silence', honest, 60_000);
    this.proposals++;
    if (marks.some((m) => m === null)) throw new Error('the request after the primary fell silent did not execute in every honest tab within 60 s');
    const ms = Math.max(...marks.map((m) => m!.at)) - t0;
    const p = await panel(issuer.page);
    const model = viewChangeModel(this.n, parts, REQUEST_TIMEOUT_MS);
    const excess = ms - REQUEST_TIMEOUT_MS;
    this.log(`${this.n} tabs: view change done in ${ms.toFixed(0)} ms (now view ${p?.view ?? '?'})`);
    return {
      ms, oldPrimary, newView: p?.view ?? -1, model,
      ratioIncluded: ms / model.totalMs, excessOverTimeoutMs: excess, ratioExcluded: excess / model.floorMs,
    };
  }
}

export async function newContext(browser: Browser, baseUrl: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: baseUrl, permissions: ['camera', 'microphone'] });
  return context;
}

