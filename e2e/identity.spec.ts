import { expect, test, type Page } from '@playwright/test';
import { expectDecision, memberItem, myIndex, openLunchRoom, propose, vote } from './lunch.ts';
import { expectVerifiedPeers, myFingerprint, openTabs, peerItems, roomUrl, uniqueRoom } from './tabs.ts';

test('a new name travels to the other tabs', async ({ context }) => {
  // Names are agreed in the lunch state, so they come with seats: a room of four.
  const { tabs } = await openLunchRoom(context, 'name');
  const [a, b] = tabs;
  await a!.getByRole('button', { name: 'Change name' }).click();
  await a!.getByRole('textbox', { name: 'Display name' }).fill('  Dana  ');
  await a!.getByRole('button', { name: 'Save' }).click();
  await expect(a!.getByTestId('my-name')).toHaveText('Dana', { timeout: 30_000 });
  await expect(peerItems(b!)).toContainText(['Dana']);
  // The name is part of the room's agreed state: a reload keeps it.
  await a!.reload();
  await expect(a!.getByTestId('my-name')).toHaveText('Dana', { timeout: 30_000 });
});

test('damaged identity records are reported and never used', async ({ context }) => {
  const url = roomUrl(uniqueRoom('corrupt'));
  const [first] = await openTabs(context, url, 1);
  await myFingerprint(first!);
  await first!.evaluate(
    () =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('byzantine-lunch');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction('identities', 'readwrite');
          tx.objectStore('identities').put({ v: 1, id: 'ab'.repeat(32), secretKey: 'not bytes', publicKey: new Uint8Array(3), name: 'Mallory', createdAt: 0 });
          tx.oncomplete = () => {
            open.result.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
  );
  const [second] = await openTabs(context, url, 1);
  const warning = second!.getByRole('status', { name: 'Damaged identities' });
  await expect(warning).toContainText('One stored identity is damaged');
  await expect(second!.getByTestId('my-name')).not.toHaveText('Mallory');
  await expectVerifiedPeers(second!, 1);
  await warning.getByRole('button', { name: 'Delete it' }).click();
  await expect(warning).toHaveCount(0);
});

test('a browser that refuses IndexedDB gets a clear message, not a blank page', async ({ page }) => {
  await page.addInitScript(() => {
    IDBFactory.prototype.open = function () {
      throw new DOMException('The user denied permission to access the database.', 'SecurityError');
    };
  });
  await page.goto(roomUrl(uniqueRoom('noidb')));
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('This tab cannot keep an identity');
  await expect(alert).toContainText('IndexedDB');
});

test('importing a member asks first and says which tab stops; the imported tab says what it still does while it recovers', async ({ browser, context }) => {
  test.setTimeout(180_000);
  const { tabs, url } = await openLunchRoom(context, 'takeover');
  const [first, second, third, leaving] = tabs as [Page, Page, Page, Page];
  const name = (await leaving.getByTestId('my-name').textContent())!.trim();
  const fingerprint = (await leaving.getByTestId('my-fingerprint').textContent())!.trim();
  const index = await myIndex(leaving);
  const [download] = await Promise.all([leaving.waitForEvent('download'), leaving.getByRole('button', { name: 'Export identity' }).click()]);
  const file = (await download.path())!;

  // A tab connected to that member knows it is open now, and says so; Cancel changes nothing.
  await third.getByLabel('Import identity').setInputFiles(file);
  const asked = third.getByRole('form', { name: 'Confirm the import' });
  await expect(asked).toContainText(`Become ${name} in this tab?`);
  await expect(asked.getByTestId('takeover')).toHaveText(
    `${name} is open in another tab right now. The tab where ${name} is open now will stop taking part; only one tab can be ${name}.`,
  );
  await asked.getByRole('button', { name: 'Cancel' }).click();
  await expect(asked).toHaveCount(0);
  await expect(third.getByTestId('my-name')).not.toHaveText(name);

  // Another browser: the full room turns it away, and it takes the seat back only once asked.
  const other = await browser.newContext({ permissions: ['camera', 'microphone'] });
  try {
    const page = await other.newPage();
    await page.goto(url);
    await expect(page.getByRole('alert')).toContainText('This room is full');
    await page.getByLabel('Import identity').setInputFiles(file);
    const confirm = page.getByRole('form', { name: 'Confirm the import' });
    await expect(confirm.getByTestId('takeover')).toHaveText(
      `If ${name} is open in another tab or browser, that tab will stop taking part; only one tab can be ${name}.`,
    );
    // Nothing is taken before the answer: the member's tab is still in the room.
    await expect(memberItem(first, index)).toHaveAttribute('data-status', /(^| )connected/);
    await expect(leaving.getByRole('alert')).toHaveCount(0);
    await confirm.getByRole('button', { name: `Take over as ${name}` }).click();
    await expect(page.getByTestId('my-fingerprint')).toHaveText(fingerprint, { timeout: 30_000 });
    await expect(leaving.getByRole('alert')).toContainText('This member is open in another tab', { timeout: 30_000 });

    // The imported tab recovers: its vote counts, while it vouches for nothing yet; the status says exactly that.
    const status = page.getByRole('status').filter({ hasText: 'recovering' });
    await expect(status).toContainText('Your proposals and votes still count: the others carry them out');
    await expect(status).toContainText('does not vouch for or confirm anyone\'s messages');
    await propose(first, 'Pho Place', '12:05');
    for (const tab of [first, second, page]) await vote(tab, 'Pho Place', 'Join');
    for (const tab of [first, second, third, page]) await expectDecision(tab, 'Pho Place');
    await expect(first.getByRole('region', { name: 'Decision' })).toContainText(name);
  } finally {
    await other.close();
  }
});
