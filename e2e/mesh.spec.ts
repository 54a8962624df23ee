import { expect, test } from '@playwright/test';
import { expectVerifiedPeers, myFingerprint, openTabs, peerItems, roomUrl, uniqueRoom } from './tabs.ts';

test('four tabs in one room verify each other with four distinct keys', async ({ context }) => {
  const tabs = await openTabs(context, roomUrl(uniqueRoom('four')), 4);
  const mine = await Promise.all(tabs.map(myFingerprint));
  expect(new Set(mine).size).toBe(4);
  for (const [i, tab] of tabs.entries()) {
    const seen = await expectVerifiedPeers(tab, 3);
    // Each tab sees exactly the other three keys.
    expect(new Set(seen)).toEqual(new Set(mine.filter((_, j) => j !== i)));
  }
  const names = await Promise.all(tabs.map((t) => t.getByTestId('my-name').textContent()));
  expect(new Set(names).size).toBe(4);
});

test('a reloaded tab keeps its key and reconnects to all three', async ({ context }) => {
  const tabs = await openTabs(context, roomUrl(uniqueRoom('reload')), 4);
  for (const tab of tabs) await expectVerifiedPeers(tab, 3);
  const reloaded = tabs[2]!;
  const before = await myFingerprint(reloaded);
  await reloaded.reload();
  expect(await myFingerprint(reloaded)).toBe(before);
  await expectVerifiedPeers(reloaded, 3);
  for (const tab of tabs) {
    await expectVerifiedPeers(tab, 3);
    await expect(peerItems(tab).filter({ hasText: 'disconnected' })).toHaveCount(0);
  }
});

test('a tab in another room sees none of them', async ({ context }) => {
  const tabs = await openTabs(context, roomUrl(uniqueRoom('one')), 3);
  for (const tab of tabs) await expectVerifiedPeers(tab, 2);
  const [other] = await openTabs(context, roomUrl(uniqueRoom('two')), 1);
  await expect(other!.getByTestId('mesh-summary')).toContainText('signaling joined');
  await expect(other!.getByText('Waiting for others to open this link')).toBeVisible();
  await expect(peerItems(other!)).toHaveCount(0);
  for (const tab of tabs) await expectVerifiedPeers(tab, 2);
});

test('a tab beyond the room size is told the room is full', async ({ context }) => {
  const url = roomUrl(uniqueRoom('full'));
  const tabs = await openTabs(context, url, 4);
  for (const tab of tabs) await expectVerifiedPeers(tab, 3);
  const [fifth] = await openTabs(context, url, 1);
  await expect(fifth!.getByRole('alert')).toContainText('This room is full');
  await expect(fifth!.getByRole('alert')).toContainText('4 of 4');
  for (const tab of tabs) await expectVerifiedPeers(tab, 3);
});

test('the room size comes from the link: seven tabs connect all seven', async ({ context }) => {
  test.setTimeout(150_000);
  const tabs = await openTabs(context, roomUrl(uniqueRoom('seven'), 7), 7);
  const mine = await Promise.all(tabs.map(myFingerprint));
  expect(new Set(mine).size).toBe(7);
  for (const tab of tabs) {
    await expect(tab.getByTestId('room')).toBeVisible();
    await expectVerifiedPeers(tab, 6);
  }
});

test('a duplicated tab takes another identity instead of sharing one', async ({ context }) => {
  const url = roomUrl(uniqueRoom('dup'));
  const tabs = await openTabs(context, url, 3);
  for (const tab of tabs) await expectVerifiedPeers(tab, 2);
  // A duplicated tab starts with a copy of its original's sessionStorage.
  const remembered = await tabs[0]!.evaluate(() => sessionStorage.getItem('byzantine-lunch.identity'));
  expect(remembered).toMatch(/^[0-9a-f]{64}$/);
  const dup = await context.newPage();
  await dup.addInitScript((id) => {
    if (!sessionStorage.getItem('byzantine-lunch.identity')) sessionStorage.setItem('byzantine-lunch.identity', id);
  }, remembered!);
  await dup.goto(url);
  const dupFp = await myFingerprint(dup);
  expect(dupFp).not.toBe(await myFingerprint(tabs[0]!));
  for (const tab of [...tabs, dup]) await expectVerifiedPeers(tab, 3);
});

test('a link with a bad room size gets a clear message', async ({ page }) => {
  await page.goto('/?room=abc&n=5');
  await expect(page.getByRole('alert')).toContainText('n must be 4, 7, 10');
});

test('a dropped connection is re-established and verified again', async ({ context }) => {
  // Keep a handle on every RTCPeerConnection the page makes, so the test can cut them.
  await context.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const made: RTCPeerConnection[] = [];
    (window as unknown as { __connections: RTCPeerConnection[] }).__connections = made;
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        made.push(this);
      }
    };
  });
  const tabs = await openTabs(context, roomUrl(uniqueRoom('drop')), 4);
  for (const tab of tabs) await expectVerifiedPeers(tab, 3);
  const cut = await tabs[1]!.evaluate(() => {
    const all = (window as unknown as { __connections: RTCPeerConnection[] }).__connections;
    const open = all.filter((pc) => pc.connectionState === 'connected');
    for (const pc of open) pc.close();
    return open.length;
  });
  expect(cut).toBe(3);
  // Three fresh connections replace the closed ones, and every tab verifies them again.
  await expect
    .poll(() =>
      tabs[1]!.evaluate(
        () => (window as unknown as { __connections: RTCPeerConnection[] }).__connections.filter((pc) => pc.connectionState === 'connected').length,
      ),
    )
    .toBe(3);
  for (const tab of tabs) await expectVerifiedPeers(tab, 3);
});
