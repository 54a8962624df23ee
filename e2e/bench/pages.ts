// What the bench asks of one tab, through the `window.__lunchBench` hooks a `&bench=1` link installs.
// Everything that waits on the protocol waits inside the page (polling `executed()` every few
// milliseconds), so Playwright's round trips never enter a measurement: times are the tabs' own
// execution marks on the machine-wide clock (`performance.timeOrigin + performance.now()`).
//
// The functions handed to `page.evaluate` are serialised; they may use only their argument.
import type { BrowserContext, Page } from '@playwright/test';
import type { BenchHooks, ExecutedMark } from '../../src/app/bench-hooks.ts';
import type { ProtocolPanelView } from '../../src/app/room-view.ts';

type BenchWindow = { __lunchBench?: BenchHooks };

export interface Tab {
  page: Page;
  /** This tab's member index in the roster. */
  me: number;
}

/**
 * tsx compiles this file with esbuild's keepNames, which wraps named inner functions in a
 * `__name(...)` helper that does not exist in the page; give the pages a harmless one.
 */
export async function preparePages(context: BrowserContext): Promise<void> {
  await context.addInitScript('globalThis.__name = globalThis.__name || ((f) => f);');
}

export async function openRoom(context: BrowserContext, baseUrl: string, room: string, n: number): Promise<Page[]> {
  const url = `${baseUrl}/?room=${room}${n === 4 ? '' : `&n=${n}`}&bench=1`;
  const pages: Page[] = [];
  for (let i = 0; i < n; i++) {
    const page = await context.newPage();
    await page.goto(url);
    pages.push(page);
  }
  return pages;
}

export async function waitReady(page: Page, timeoutMs: number): Promise<void> {
  await page.waitForFunction(() => (window as unknown as BenchWindow).__lunchBench?.ready() === true, undefined, {
    timeout: timeoutMs,
    polling: 100,
  });
}

export function hookInfo(page: Page): Promise<{ me: number; n: number; primary: number }> {
  return page.evaluate(() => {
    const b = (window as unknown as BenchWindow).__lunchBench!;
    return { me: b.me(), n: b.n(), primary: b.primary() };
  });
}

export function primaryOf(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as BenchWindow).__lunchBench!.primary());
}

export function panel(page: Page): Promise<ProtocolPanelView | null> {
  return page.evaluate(() => (window as unknown as BenchWindow).__lunchBench!.panel());
}

export function decision(page: Page): Promise<string | null> {
  return page.evaluate(() => (window as unknown as BenchWindow).__lunchBench!.decision());
}

export function ping(page: Page, peer: number, count: number): Promise<number[]> {
  return page.evaluate(([p, c]) => (window as unknown as BenchWindow).__lunchBench!.ping(p, c), [peer, count] as const);
}

export function signCost(page: Page, iterations: number): Promise<number> {
  return page.evaluate((i) => (window as unknown as BenchWindow).__lunchBench!.signCost(i), iterations);
}

export function verifyCost(page: Page, iterations: number): Promise<number> {
  return page.evaluate((i) => (window as unknown as BenchWindow).__lunchBench!.verifyCost(i), iterations);
}

export function durableWriteCost(page: Page, iterations: number): Promise<number> {
  return page.evaluate((i) => (window as unknown as BenchWindow).__lunchBench!.durableWriteCost(i), iterations);
}

export function setMalicious(page: Page, enabled: boolean, strategy: 'silent'): Promise<void> {
  return page.evaluate(([e, s]) => (window as unknown as BenchWindow).__lunchBench!.setMalicious(e, s), [enabled, strategy] as const);
}

export interface Issued {
  /** Machine clock in the tab right before `propose`. */
  t0: number;
  /** The highest request counter of this member executed here before; the new request's is higher. */
  after: number;
}

/** Proposes `place` from this tab (member `me`). */
export function issue(page: Page, me: number, place: string): Promise<Issued> {
  return page.evaluate(
    ([m, p]) => {
      const b = (window as unknown as BenchWindow).__lunchBench!;
      const prefix = `${m}:`;
      let after = -1;
      for (const mark of b.executed()) {
        for (const id of mark.requests) if (id.startsWith(prefix)) after = Math.max(after, Number(id.slice(prefix.length)));
      }
      const t0 = performance.timeOrigin + performance.now();
      b.propose(p, '12:30');
      return { t0, after };
    },
    [me, place] as const,
  );
}

/**
 * Waits in the tab for the first execution mark at or after t0 that carries a request of `member`
 * numbered above `after`; null after `timeoutMs`.
 */
export function waitForRequest(page: Page, member: number, issued: Issued, timeoutMs: number): Promise<ExecutedMark | null> {
  return page.evaluate(
    ({ member: m, t0: start, after, timeoutMs: limit }) =>
      new Promise<ExecutedMark | null>((resolve) => {
        const marks = (window as unknown as BenchWindow).__lunchBench!.executed();
        const prefix = `${m}:`;
        const mine = (id: string) => id.startsWith(prefix) && Number(id.slice(prefix.length)) > after;
        let i = marks.length;
        while (i > 0 && marks[i - 1]!.at >= start) i--;
        const deadline = performance.now() + limit;
        const poll = () => {
          for (; i < marks.length; i++) {
            const mark = marks[i]!;
            if (mark.at >= start && mark.requests.some(mine)) {
              resolve({ seq: mark.seq, at: mark.at, requests: [...mark.requests] });
              return;
            }
          }
          if (performance.now() > deadline) resolve(null);
          else setTimeout(poll, 1);
        };
        poll();
      }),
    { member, t0: issued.t0, after: issued.after, timeoutMs },
  );
}

export interface UserLevelMark {
  /** When the proposal executed in this tab. */
  proposalAt: number;
  /** When the vote that decided it (the q-th join) executed in this tab. */
  decidedAt: number;
  decision: string | null;
  /** The proposal's request id, `member:counter`. */
  proposal: string;
}

/**
 * In the tab: wait for `proposer`'s proposal (executed after t0, numbered above `after`) to execute, vote join on it at
 * once, then wait for the q-th vote on it to execute and for the decision to name `place`.
 */
export function joinAndAwaitDecision(
  page: Page, proposer: number, t0: number, after: number, place: string, quorum: number, timeoutMs: number,
): Promise<UserLevelMark | null> {
  return page.evaluate(
    ({ proposer: who, t0: start, after: above, place: where, quorum: q, timeoutMs: limit }) =>
      new Promise<UserLevelMark | null>((resolve) => {
        const b = (window as unknown as BenchWindow).__lunchBench!;
        const marks = b.executed();
        let i = marks.length;
        while (i > 0 && marks[i - 1]!.at >= start) i--;
        const deadline = performance.now() + limit;
        let proposal: string | null = null;
        let proposalAt = 0;
        let decidedAt = 0;
        const votes = new Set<string>();
        const poll = () => {
          for (; i < marks.length; i++) {
            const mark = marks[i]!;
            if (mark.at < start) continue;
            for (const id of mark.requests) {
              if (proposal === null) {
                if (id.startsWith(`${who}:`) && Number(id.slice(`${who}:`.length)) > above) {
                  proposal = id;
                  proposalAt = mark.at;
                  b.vote(who, Number(id.split(':')[1]), 'join');
                }
              } else if (id !== proposal && decidedAt === 0) {
                votes.add(id);
                if (votes.size >= q) decidedAt = mark.at;
              }
            }
          }
          if (decidedAt > 0 && b.decision() === where) {
            resolve({ proposalAt, decidedAt, decision: where, proposal: proposal! });
            return;
          }
          if (performance.now() > deadline) {
            resolve(decidedAt > 0 ? { proposalAt, decidedAt, decision: b.decision(), proposal: proposal! } : null);
            return;
          }
          setTimeout(poll, 1);
        };
        poll();
      }),
    { proposer, t0, after, place, quorum, timeoutMs },
  );
}

export interface LoadResult {
  issued: number;
  executed: number;
  drained: boolean;
}

/**
 * In the tab: from `startAt` until `until` (machine clock), keep exactly one own request
 * outstanding — a `decline` vote on `target`, which changes no decision — issuing the next as soon
 * as the previous one executed here; then wait for the last one to execute.
 */
export function keepOneOutstanding(page: Page, me: number, target: { member: number; counter: number }, startAt: number, until: number): Promise<LoadResult> {
  return page.evaluate(
    ({ me: m, target: t, startAt: from, until: to }) =>
      new Promise<LoadResult>((resolve) => {
        const b = (window as unknown as BenchWindow).__lunchBench!;
        const clock = () => performance.timeOrigin + performance.now();
        const marks = b.executed();
        const prefix = `${m}:`;
        let seen = marks.length;
        let issued = 0;
        let executed = 0;
        const poll = () => {
          for (; seen < marks.length; seen++) {
            for (const id of marks[seen]!.requests) if (id.startsWith(prefix)) executed++;
          }
          const now = clock();
          if (executed >= issued) {
            if (now < to) {
              if (now >= from) {
                b.vote(t.member, t.counter, 'decline');
                issued++;
              }
            } else {
              resolve({ issued, executed, drained: true });
              return;
            }
          } else if (now > to + 30_000) {
            resolve({ issued, executed, drained: false });
            return;
          }
          setTimeout(poll, 1);
        };
        poll();
      }),
    { me, target, startAt, until },
  );
}

/** Execution marks of this tab with `at` in [from, to]. */
export function marksBetween(page: Page, from: number, to: number): Promise<ExecutedMark[]> {
  return page.evaluate(
    ([a, z]) =>
      (window as unknown as BenchWindow).__lunchBench!
        .executed()
        .filter((m) => m.at >= a && m.at <= z)
        .map((m) => ({ seq: m.seq, at: m.at, requests: [...m.requests] })),
    [from, to] as const,
  );
}

/** The highest request counter of `member` this tab executed so far (-1 when none). */
export function lastCounter(page: Page, member: number): Promise<number> {
  return page.evaluate((m) => {
    const prefix = `${m}:`;
    let last = -1;
    for (const mark of (window as unknown as BenchWindow).__lunchBench!.executed()) {
      for (const id of mark.requests) if (id.startsWith(prefix)) last = Math.max(last, Number(id.slice(prefix.length)));
    }
    return last;
  }, member);
}

export function clockOf(page: Page): Promise<number> {
  return page.evaluate(() => performance.timeOrigin + performance.now());
}
