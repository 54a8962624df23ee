// What a new user meets around the protocol: the waiting screen, a tab the room turned away, a
// proof told in words, and the decided lunch in a calendar (issue 15, items 7 and 8, and "Also").
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { actMaliciously, expectDecision, memberItem, myIndex, openLunchRoom, propose, proposal, vote } from './lunch.ts';
import { roomUrl, uniqueRoom } from './tabs.ts';

test.describe.configure({ timeout: 180_000 });

function invite(page: Page) {
  return page.getByRole('region', { name: 'Invite your coworkers' });
}

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
}

test('the waiting screen shows the link with Copy and a QR code, who is here and who is missing, and the name in the title', async ({ context, baseURL }) => {
  // Per origin this replaces the context's grants: keep the media ones Chromium needs to offer
  // loopback candidates, or the tabs never connect inside the tests' loopback-only namespace.
  await context.grantPermissions(['clipboard-read', 'clipboard-write', 'camera', 'microphone'], { origin: baseURL });
  const url = roomUrl(uniqueRoom('waiting'));
  const first = await context.newPage();
  await first.goto(url);
  const card = invite(first);
  await expect(card.getByRole('textbox', { name: 'Room link' })).toHaveValue(`${baseURL}${url}`);
  await expect(card.getByRole('img', { name: 'QR code of the room link' })).toBeVisible();
  await expect(card.getByTestId('waiting')).toHaveText('1 of 4 here — waiting for 3 more');

  const name = (await first.getByTestId('my-name').textContent())!;
  await expect(first).toHaveTitle(`${name} — Byzantine Lunch`);

  await card.getByRole('button', { name: 'Copy' }).click();
  await expect(card.getByTestId('copy-status')).toContainText('Copied');
  expect(await first.evaluate(() => navigator.clipboard.readText())).toBe(`${baseURL}${url}`);

  const second = await context.newPage();
  await second.goto(url);
  for (const tab of [first, second]) await expect(invite(tab).getByTestId('waiting')).toHaveText('2 of 4 here — waiting for 2 more', { timeout: 30_000 });
  const secondName = (await second.getByTestId('my-name').textContent())!;
  await expect(invite(first).getByRole('list', { name: 'Here so far' })).toContainText(secondName);
  expect(await seriousViolations(first)).toEqual([]);
});

test('without clipboard access, Copy selects the link and says so', async ({ context }) => {
  const page = await context.newPage();
  await page.addInitScript(() => Object.defineProperty(navigator, 'clipboard', { value: undefined }));
  await page.goto(roomUrl(uniqueRoom('noclip')));
  const card = invite(page);
  const field = card.getByRole('textbox', { name: 'Room link' });
  await expect(field).toHaveValue(/room=noclip-/);
  await card.getByRole('button', { name: 'Copy' }).click();
  await expect(card.getByTestId('copy-status')).toContainText('the link is selected');
  await expect(field).toBeFocused();
  const selected = await field.evaluate((el: HTMLInputElement) => el.value.slice(el.selectionStart ?? 0, el.selectionEnd ?? 0));
  expect(selected).toBe(await field.inputValue());
});

test('a bad link offers a new room and claims no identity', async ({ page }) => {
  await page.goto('/?room=not%20a%20room!');
  await expect(page.getByRole('alert')).toContainText('This link does not work');
  await expect(page.getByRole('button', { name: 'Export identity' })).toHaveCount(0);
  await expect(page.getByTestId('my-name')).toHaveCount(0);
  await expect(page).toHaveTitle('Byzantine Lunch');
  await page.getByRole('button', { name: 'Start a new room' }).click();
  await expect(page).toHaveURL(/\?room=[0-9a-f]+$/);
  await expect(invite(page).getByTestId('waiting')).toHaveText('1 of 4 here — waiting for 3 more');
});

test('a decided lunch goes into a calendar, and a fifth tab in the full room is offered a new room instead of an identity', async ({ context }, info) => {
  const { tabs, url } = await openLunchRoom(context, 'calendar');
  // Once all are here the invitation steps aside, but the link is still one click away.
  await expect(invite(tabs[0]!)).toHaveCount(0);
  await tabs[0]!.getByText('Show the link and QR code').click();
  await expect(tabs[0]!.getByRole('img', { name: 'QR code of the room link' })).toBeVisible();

  await propose(tabs[0]!, 'Taco Truck', '12:10');
  for (const tab of tabs.slice(0, 3)) await vote(tab, 'Taco Truck', 'Join');
  await expectDecision(tabs[1]!, 'Taco Truck');
  const [download] = await Promise.all([
    tabs[1]!.waitForEvent('download'),
    tabs[1]!.getByRole('region', { name: 'Decision' }).getByRole('button', { name: 'Add to calendar' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('lunch-taco-truck.ics');
  const file = info.outputPath('lunch.ics');
  await download.saveAs(file);
  const ics = await readFile(file, 'utf8');
  const today = await tabs[1]!.evaluate(() => {
    const d = new Date();
    return `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}`;
  });
  expect(ics).toContain(`DTSTART:${today}T121000`);
  expect(ics).toContain('SUMMARY:Lunch: Taco Truck');
  const going = (await tabs[1]!.getByTestId('going').textContent())!.replace(/^Going: /, '');
  expect(ics.replace(/\r\n /g, '')).toContain(going.replace(/,/g, '\\,'));

  const fifth = await context.newPage();
  await fifth.goto(url);
  await expect(fifth.getByRole('alert')).toContainText('This room is full', { timeout: 30_000 });
  await expect(fifth.getByRole('button', { name: 'Start a new room' })).toBeVisible();
  await expect(fifth.getByRole('button', { name: 'Export identity' })).toHaveCount(0);
  await expect(fifth.getByTestId('my-name')).toHaveCount(0);
  await expect(fifth).toHaveTitle('Byzantine Lunch');
});

test('the proof dialog leads with a sentence naming the liar, then the two messages in words, the check and why', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'plainproof');
  const liar = tabs[2]!;
  const honest = tabs.find((t) => t !== liar)!;
  const liarIndex = await myIndex(liar);
  const liarName = (await liar.getByTestId('my-name').textContent())!;
  await actMaliciously(liar, 'equivocate');
  await propose(honest, 'Sushi Bar', '12:30');
  await expect(proposal(honest, 'Sushi Bar')).toBeVisible({ timeout: 60_000 });
  await expect(memberItem(honest, liarIndex)).toContainText('proven faulty', { timeout: 60_000 });
  await memberItem(honest, liarIndex).getByRole('button', { name: 'Show proof' }).click();
  const dialog = honest.getByRole('dialog');
  const headline = dialog.getByTestId('proof-headline');
  await expect(headline).toHaveText(new RegExp(`^${liarName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b.*signed both\\.$`));
  const first = (await dialog.getByTestId('proof-first-plain').textContent())!;
  const second = (await dialog.getByTestId('proof-second-plain').textContent())!;
  expect(first.length).toBeGreaterThan(0);
  expect(first).not.toBe(second);
  await expect(dialog.getByTestId('proof-verdict')).toContainText('Both signatures verify');
  await expect(dialog.getByTestId('proof-why')).toContainText('anyone can check this proof');
  // The raw JSON is there for those who want it, behind a toggle.
  const raw = dialog.getByTestId('proof-first');
  await expect(raw).toBeHidden();
  await dialog.getByText('Show the signed messages (JSON)').click();
  await expect(raw).toBeVisible();
  await expect(raw).toContainText('"sig"');
  await expect(dialog.getByRole('button', { name: 'Download proof' })).toBeVisible();
});

test('an identity exported with a passphrase is sealed, says what it is, and opens elsewhere only with the passphrase', async ({ browser, context }) => {
  const url = roomUrl(uniqueRoom('sealed'));
  const page = await context.newPage();
  await page.goto(url);
  const fingerprint = await page.getByTestId('my-fingerprint').textContent();
  await expect(page.getByText('anyone who has it can act as you')).toBeVisible();
  const passphrase = page.getByLabel('Passphrase for the file');
  await passphrase.fill('short');
  await page.getByRole('button', { name: 'Export identity' }).click();
  await expect(page.getByRole('alert')).toContainText('at least 12 characters');
  await passphrase.fill('correct horse battery');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export identity' }).click()]);
  const file = (await download.path())!;
  const sealed = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  expect(sealed.sealed).toBeDefined();
  expect(sealed.secretKey).toBeUndefined();

  const other = await browser.newContext({ permissions: ['camera', 'microphone'] });
  try {
    const fresh = await other.newPage();
    await fresh.goto(url);
    await expect(fresh.getByTestId('my-fingerprint')).not.toHaveText(fingerprint!);
    await fresh.getByLabel('Import identity').setInputFiles(file);
    const open = fresh.getByRole('form', { name: 'Open a sealed identity file' });
    await open.getByLabel('Passphrase of the file').fill('wrong horse battery');
    await open.getByRole('button', { name: 'Open' }).click();
    await expect(fresh.getByRole('alert')).toContainText('That passphrase does not open this file');
    await open.getByLabel('Passphrase of the file').fill('correct horse battery');
    await open.getByRole('button', { name: 'Open' }).click();
    await fresh.getByRole('form', { name: 'Confirm the import' }).getByRole('button', { name: /^Take over as / }).click();
    await expect(fresh.getByTestId('my-fingerprint')).toHaveText(fingerprint!, { timeout: 30_000 });
  } finally {
    await other.close();
  }
});
