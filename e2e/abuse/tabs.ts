// The peer side of issue 13 (items 1-3) through real tabs: four Chromium tabs in a room, one of
// them a backup set to the `bloat` strategy (maximal requests, batches and view-changes, oversize
// junk), and the time the honest three take to decide, against the same in an all-honest room.
// The liar is a backup, not the primary: a lying primary costs a view change whatever it sends,
// which would measure the timeouts rather than the cost of its bytes.
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { newContext } from '../bench/measure.ts';
import { actMaliciously, DECISION_BOUND_MS, expectDecision, openLunchRoom, primaryTab, propose, vote } from '../lunch.ts';
import type { AttackResult } from './attacks.ts';

/** The strategy under test, as the app's Strategy select will name it. */
export const BLOAT = 'bloat';
/** How much slower than an all-honest room the honest three may be with one bloat liar. */
export const BLOAT_SLOWDOWN_ALLOWED = 3;
/** How long the liar bloats before the honest ones start deciding. */
const HEAD_START_MS = 2_000;

/** From a proposal in `proposer` until every tab in `deciders` shows the decision, ms. */
async function timeDecision(proposer: Page, deciders: Page[], place: string): Promise<number> {
  const started = performance.now();
  await propose(proposer, place, '12:30');
  for (const tab of deciders) await vote(tab, place, 'Join');
  for (const tab of deciders) await expectDecision(tab, place, DECISION_BOUND_MS);
  return performance.now() - started;
}

async function closeAll(pages: Page[]): Promise<void> {
  await Promise.all(pages.map((p) => p.close().catch(() => undefined)));
}

/** Runs the all-honest room, then the room with one bloat liar, and judges the ratio. */
export async function bloatLiar(browser: Browser, base: string, log: (line: string) => void): Promise<AttackResult> {
  const name = `honest tabs decide with one ${BLOAT} liar within ${BLOAT_SLOWDOWN_ALLOWED}× the honest latency`;
  const context: BrowserContext = await newContext(browser, base);
  try {
    const honestRoom = await openLunchRoom(context, 'abuse-honest');
    const honestMs = await timeDecision(honestRoom.tabs[0]!, honestRoom.tabs.slice(0, 3), 'Honest Noodles');
    await closeAll(honestRoom.tabs);
    log(`tabs: all-honest room decided in ${honestMs.toFixed(0)} ms`);

    const { tabs } = await openLunchRoom(context, 'abuse-bloat');
    const primary = await primaryTab(tabs);
    const liar = tabs.find((t) => t !== primary)!;
    const honest = tabs.filter((t) => t !== liar);
    if ((await liar.locator(`select option[value="${BLOAT}"]`).count()) === 0) {
      await closeAll(tabs);
      return {
        summary: `all-honest room: ${honestMs.toFixed(0)} ms to decide; the ${BLOAT} strategy is not in the Strategy select`,
        checks: [{ name, pass: false, detail: 'strategy not available' }],
      };
    }
    await actMaliciously(liar, BLOAT);
    await new Promise((r) => setTimeout(r, HEAD_START_MS));
    let bloatMs: number | undefined;
    let failure = '';
    try {
      bloatMs = await timeDecision(honest[0]!, honest, 'Bloated Noodles');
    } catch (e) {
      const stopped = await Promise.all(honest.map((t) => t.getByText(/Storage failed/).count()));
      failure = stopped.some((n) => n > 0)
        ? `${stopped.filter((n) => n > 0).length} honest tabs stopped ("Storage failed")`
        : `no decision within ${DECISION_BOUND_MS / 1000} s (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`;
    }
    await closeAll(tabs);
    const ratio = bloatMs === undefined ? Number.POSITIVE_INFINITY : bloatMs / honestMs;
    return {
      summary: `all-honest room: ${honestMs.toFixed(0)} ms to decide; with a ${BLOAT} backup: ${bloatMs === undefined ? failure : `${bloatMs.toFixed(0)} ms`}`,
      checks: [{
        name,
        pass: ratio <= BLOAT_SLOWDOWN_ALLOWED,
        detail: bloatMs === undefined ? failure : `${bloatMs.toFixed(0)} ms vs ${honestMs.toFixed(0)} ms = ${ratio.toFixed(2)}× (allowed ${BLOAT_SLOWDOWN_ALLOWED}×)`,
      }],
    };
  } finally {
    await context.close().catch(() => undefined);
  }
}
