// The scene on phones: four 390×844 touch screens, one of them the liar. Lunch comes first on a
// small screen, every control is big enough for a thumb, nothing scrolls sideways at 360 px, and
// the protocol's views are one tap away.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { actMaliciously, expectDecision, memberItem, myIndex, openLunchRoom, primaryTab, propose, proposal } from './lunch.ts';

test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
test.describe.configure({ timeout: 120_000 });

/** The smallest touch target we accept (WCAG 2.5.5 asks 44 CSS px). */
const TAP = 44;

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
}

async function sideways(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

test('on phones: the scene plays with taps, lunch comes first, targets are 44 px, nothing scrolls sideways, the protocol is one tap away', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'phone');
  const liar = await primaryTab(tabs);
  const honest = tabs.filter((t) => t !== liar);
  const liarIndex = await myIndex(liar);
  const [first] = honest;

  // Lunch first: the place field is on the first screen, not under the invitation and the keys.
  const place = first!.getByRole('textbox', { name: 'Place' });
  const box = await place.boundingBox();
  expect(box).not.toBeNull();
  expect(box!.y + box!.height).toBeLessThan(844);

  // The liar is part of the scene: the switch is on the main view.
  await actMaliciously(liar, 'equivocate');
  await propose(first!, 'Taco Truck', '12:10');
  for (const tab of honest) {
    const join = proposal(tab, 'Taco Truck').getByRole('button', { name: 'Join', exact: true });
    await expect(join).toBeVisible({ timeout: 30_000 });
    await join.tap();
  }
  for (const tab of honest) {
    await expectDecision(tab, 'Taco Truck');
    await expect(memberItem(tab, liarIndex)).toContainText('proven faulty', { timeout: 60_000 });
  }

  // Thumb-sized controls on the main view.
  const controls = first!.locator('main button:visible, main select:visible, main input:visible:not([type="checkbox"])');
  const small = await controls.evaluateAll(
    (els, tap) =>
      els
        .map((e) => ({ e, r: e.getBoundingClientRect() }))
        .filter(({ r }) => r.height < tap - 0.5)
        .map(({ e, r }) => `${e.tagName.toLowerCase()} "${(e.textContent || e.getAttribute('aria-label') || '').trim()}" ${r.height.toFixed(0)} px`),
    TAP,
  );
  expect(small).toEqual([]);

  // The protocol's own views are under the hood: closed, and open with one tap.
  const diagram = first!.getByRole('region', { name: 'Message diagram' });
  await expect(diagram).toBeHidden();
  await first!.getByText('Under the hood', { exact: false }).tap();
  await expect(diagram).toBeVisible();
  await expect(first!.getByRole('region', { name: 'Protocol' })).toBeVisible();

  // Nothing scrolls sideways, on this screen or the narrowest phones, hood open.
  expect(await sideways(first!)).toBeLessThanOrEqual(0);
  await first!.setViewportSize({ width: 360, height: 780 });
  expect(await sideways(first!)).toBeLessThanOrEqual(0);

  expect(await seriousViolations(first!)).toEqual([]);
  await first!.emulateMedia({ colorScheme: 'dark' });
  expect(await seriousViolations(first!)).toEqual([]);
  await first!.emulateMedia({ colorScheme: 'light' });

  await first!.setViewportSize({ width: 390, height: 844 });
  await first!.getByText('Under the hood', { exact: false }).tap();
  await first!.evaluate(() => window.scrollTo(0, 0));
  // The README's phone screenshot (`npm run screenshot`); otherwise into the test output, so that
  // `npm test` leaves the work tree as it found it.
  const path = process.env.UPDATE_SCREENSHOTS === '1' ? 'e2e/screenshots/phone.png' : test.info().outputPath('phone.png');
  await first!.screenshot({ path });
});
