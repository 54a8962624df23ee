import { expect, test } from '@playwright/test';
import { openLunchRoom } from './lunch.ts';
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
