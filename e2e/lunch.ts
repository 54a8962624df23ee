// Helpers for the lunch scene: a room of four tabs, who is the primary, proposing and voting.
import { expect, type BrowserContext, type Page } from '@playwright/test';
import { openTabs, roomUrl, uniqueRoom } from './tabs.ts';

/** How long honest tabs may take to agree, view changes included. */
export const DECISION_BOUND_MS = 60_000;

export function members(page: Page) {
  return page.getByRole('list', { name: 'Members' }).getByRole('listitem');
}

/** Opens `size` tabs on a new room and waits until each has fixed the same roster. */
export async function openLunchRoom(context: BrowserContext, label: string, size = 4): Promise<{ tabs: Page[]; url: string }> {
  const url = roomUrl(uniqueRoom(label), size === 4 ? undefined : size);
  const tabs = await openTabs(context, url, size);
  await expectOneRoster(tabs);
  return { tabs, url };
}

/** Waits until every tab has fixed a roster of all of them, and the same one. */
export async function expectOneRoster(tabs: Page[]): Promise<void> {
  const size = tabs.length;
  const prints: string[] = [];
  for (const tab of tabs) {
    await expect(members(tab)).toHaveCount(size, { timeout: 30_000 });
    const fp = tab.getByTestId('roster-fingerprint');
    await expect(fp).toHaveText(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/, { timeout: 30_000 });
    prints.push((await fp.textContent())!);
  }
  expect(new Set(prints).size).toBe(1);
}

/** This tab's own member index, from its Members list. */
export async function myIndex(page: Page): Promise<number> {
  const mine = page.getByRole('list', { name: 'Members' }).locator('li[data-member]').filter({ hasText: 'you' });
  await expect(mine).toHaveCount(1);
  return Number(await mine.getAttribute('data-member'));
}

export async function primaryTab(tabs: Page[]): Promise<Page> {
  for (const tab of tabs) {
    const me = await myIndex(tab);
    const status = await tab.locator(`li[data-member="${me}"]`).getAttribute('data-status');
    if (status?.split(' ').includes('primary')) return tab;
  }
  throw new Error('no tab shows itself as the primary');
}

export function memberItem(page: Page, index: number) {
  return page.getByRole('list', { name: 'Members' }).locator(`li[data-member="${index}"]`);
}

export async function propose(page: Page, place: string, time: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Place' }).fill(place);
  await page.getByLabel('Time', { exact: true }).fill(time);
  await page.getByRole('button', { name: 'Propose' }).click();
}

export function proposal(page: Page, place: string) {
  return page.getByRole('list', { name: 'Proposals' }).getByRole('listitem').filter({ hasText: place }).first();
}

export async function vote(page: Page, place: string, choice: 'Join' | 'Decline'): Promise<void> {
  const item = proposal(page, place);
  await expect(item).toBeVisible({ timeout: DECISION_BOUND_MS });
  await item.getByRole('button', { name: choice, exact: true }).click();
}

export async function expectDecision(page: Page, place: string, timeout = DECISION_BOUND_MS): Promise<void> {
  await expect(page.getByRole('region', { name: 'Decision' })).toContainText(`Lunch is decided: ${place}`, { timeout });
  // Every record this tab signed became durable: a failed write would stop it and say so.
  await expect(page.getByText(/Storage failed/)).toHaveCount(0);
}

export async function actMaliciously(page: Page, strategy: string): Promise<void> {
  await page.getByRole('combobox', { name: 'Strategy' }).selectOption(strategy);
  await page.getByRole('checkbox', { name: 'Act maliciously' }).check();
  await expect(page.getByText(`This tab is the malicious one (strategy: ${strategy})`)).toBeVisible();
}
