import { expect, type BrowserContext, type Page } from '@playwright/test';

export function roomUrl(room: string, size?: number): string {
  return size ? `/?room=${room}&n=${size}` : `/?room=${room}`;
}

export function uniqueRoom(label: string): string {
  return `${label}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export async function openTabs(context: BrowserContext, url: string, count: number): Promise<Page[]> {
  const pages: Page[] = [];
  for (let i = 0; i < count; i++) {
    const page = await context.newPage();
    await page.goto(url);
    pages.push(page);
  }
  return pages;
}

export function peerItems(page: Page) {
  return page.getByRole('list', { name: 'Peers' }).locator('li[data-peer]');
}

export async function myFingerprint(page: Page): Promise<string> {
  const fp = page.getByTestId('my-fingerprint');
  await expect(fp).toHaveText(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/);
  return (await fp.textContent())!;
}

/** Waits until the tab shows exactly `count` peers, all verified, and returns their fingerprints. */
export async function expectVerifiedPeers(page: Page, count: number): Promise<string[]> {
  const items = peerItems(page);
  await expect(items).toHaveCount(count);
  await expect(page.locator('li[data-peer][data-state="verified"]')).toHaveCount(count);
  return items.evaluateAll((els) => els.map((e) => e.getAttribute('data-fingerprint')!));
}
