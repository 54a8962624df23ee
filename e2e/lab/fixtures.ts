// The lab's Playwright fixture: one Chromium per member host, each started through
// `ip netns exec` by run.ts's wrapper scripts, and helpers shared by the scenarios.
import { chromium, expect, test as base, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { CHROMIUM_FLAGS } from '../browser.ts';
import { expectDecision, members, propose, vote } from '../lunch.ts';
import { uniqueRoom } from '../tabs.ts';
import { readLabInfo, type LabInfo } from './info.ts';
import { setUplink, type MemberNo } from './topology.ts';

// Across hosts Chromium gathers candidates only on a secure origin with media permission; the
// app host's certificate is self-signed, made for this run.
const LAB_FLAGS = [...CHROMIUM_FLAGS, '--ignore-certificate-errors'];

type ServerKind = keyof LabInfo['urls'];

interface Room {
  pages: Page[];
  /** Milliseconds from opening the first tab until every tab had every peer verified. */
  meshMs: number;
}

interface Lab {
  info: LabInfo;
  /** Opens one tab per member host (the first `count`) on a fresh room of the given server. */
  open(kind: ServerKind, label: string, options?: { count?: number; waitForMesh?: boolean; query?: string }): Promise<Room>;
  /** The member number (host lab-mN) a page runs on. */
  hostOf(page: Page): MemberNo;
  /** Uncaught errors in any page so far. */
  pageErrors: string[];
}

export const test = base.extend<{ lab: Lab }, { labInfo: LabInfo; browsers: Browser[] }>({
  labInfo: [async ({}, use) => use(readLabInfo()), { scope: 'worker' }],
  browsers: [async ({ labInfo }, use) => {
    const browsers: Browser[] = [];
    for (const executablePath of labInfo.wrappers) browsers.push(await chromium.launch({ executablePath, args: LAB_FLAGS }));
    await use(browsers);
    await Promise.all(browsers.map((b) => b.close()));
  }, { scope: 'worker' }],
  lab: async ({ browsers, labInfo }, use) => {
    const contexts: BrowserContext[] = [];
    const hosts = new Map<Page, MemberNo>();
    const pageErrors: string[] = [];
    const lab: Lab = {
      info: labInfo,
      pageErrors,
      hostOf: (page) => hosts.get(page)!,
      async open(kind, label, options = {}) {
        const count = options.count ?? 4;
        const url = `${labInfo.urls[kind]}/?room=${uniqueRoom(label)}${options.query ?? ''}`;
        const t0 = Date.now();
        const pages: Page[] = [];
        for (let i = 0; i < count; i++) {
          const context = await browsers[i]!.newContext({ ignoreHTTPSErrors: true, permissions: ['camera', 'microphone'] });
          contexts.push(context);
          // Test-only: keep every RTCPeerConnection the app makes, to read which path ICE chose.
          await context.addInitScript(() => {
            const Native = window.RTCPeerConnection;
            const kept: RTCPeerConnection[] = [];
            (window as unknown as { __labPcs: RTCPeerConnection[] }).__labPcs = kept;
            window.RTCPeerConnection = class extends Native {
              constructor(config?: RTCConfiguration) {
                super(config);
                kept.push(this);
              }
            };
          });
          const page = await context.newPage();
          page.on('pageerror', (e) => pageErrors.push(`m${i + 1}: ${e.message}`));
          hosts.set(page, (i + 1) as MemberNo);
          await page.goto(url);
          pages.push(page);
        }
        if (options.waitForMesh === false) return { pages, meshMs: NaN };
        for (const page of pages) await expect(verified(page)).toHaveCount(count - 1, { timeout: 60_000 });
        const meshMs = Date.now() - t0;
        const prints = new Set<string>();
        for (const page of pages) {
          await expect(members(page)).toHaveCount(count);
          const fp = page.getByTestId('roster-fingerprint');
          await expect(fp).toHaveText(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/);
          prints.add((await fp.textContent())!);
        }
        expect(prints.size).toBe(1);
        return { pages, meshMs };
      },
    };
    await use(lab);
    await Promise.all(contexts.map((c) => c.close()));
    for (const n of [1, 2, 3, 4] as const) setUplink(n, true);
    expect(pageErrors, 'uncaught errors in the pages').toEqual([]);
  },
});

export function verified(page: Page) {
  return page.locator('li[data-peer][data-state="verified"]');
}

export function note(line: string): void {
  console.log(`      ${line}`);
  test.info().annotations.push({ type: 'lab', description: line });
}

export function report(what: string, ms: number): void {
  note(`${what}: ${(ms / 1000).toFixed(2)} s`);
}

/** "relay/udp→relay ×12" */
export function tally(items: string[]): string {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i, (counts.get(i) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none';
}

export async function decideWith(voters: Page[], watchers: Page[], place: string, time: string): Promise<number> {
  const t0 = Date.now();
  await propose(voters[0]!, place, time);
  for (const page of voters) await vote(page, place, 'Join');
  for (const page of watchers) await expectDecision(page, place);
  return Date.now() - t0;
}


/** The candidate types (local→remote) of each connected peer connection in a page, e.g. "relay→srflx". */
export async function selectedPaths(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __labPcs: RTCPeerConnection[] }).__labPcs ?? [];
    const out: string[] = [];
    for (const pc of pcs) {
      if (pc.connectionState !== 'connected') continue;
      const stats = await pc.getStats();
      let pairId: string | undefined;
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      });
      const pair = pairId ? stats.get(pairId) : undefined;
      const local = pair ? stats.get(pair.localCandidateId) : undefined;
      const remote = pair ? stats.get(pair.remoteCandidateId) : undefined;
      out.push(`${local?.candidateType ?? '?'}${local?.relayProtocol ? `/${local.relayProtocol}` : ''}→${remote?.candidateType ?? '?'}`);
    }
    return out.sort();
  });
}
