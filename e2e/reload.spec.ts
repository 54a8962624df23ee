// A tab reloaded at any moment of a room's life takes part again. Each test ends the same way:
// with another tab silent, the room needs the reloaded tab (3 of 4 honest members), so it only
// decides if the reloaded tab votes and vouches again.
import { expect, test, type Page } from '@playwright/test';
import { ROOMS_DB_NAME, WAL_STORE } from '../src/storage/room-store.ts';
import { WAL_VERSION } from '../src/core/wal.ts';
import {
  actMaliciously, expectDecision, members, memberItem, myIndex, openLunchRoom, primaryTab, propose, proposal, vote,
} from './lunch.ts';

test.describe.configure({ timeout: 90_000 });

/** Reloads `tab` and checks that it comes back as the same member, with its records usable. */
async function reloadAndExpectBack(tab: Page, roster: string): Promise<void> {
  const name = await ownName(tab);
  await tab.reload();
  await expect(members(tab)).toHaveCount(4, { timeout: 30_000 });
  await expect(tab.getByTestId('roster-fingerprint')).toHaveText(roster, { timeout: 30_000 });
  expect(await ownName(tab)).toBe(name);
  // The replica restarted from its stored records: a problem with them is shown before this line.
  await expect(tab.getByRole('region', { name: 'Transcript' })).toContainText(/Restored from \d+ stored record/, { timeout: 30_000 });
  // Soft, so that a tab that wrongly thinks its records are gone still shows whether it takes part;
  // short, as the warning would already be on screen with that line.
  await expect.soft(tab.getByText(/records are gone|could not be read|lost its records/)).toHaveCount(0, { timeout: 2_000 });
  await expect.soft(tab.getByRole('alert')).toHaveCount(0, { timeout: 2_000 });
}

async function ownName(tab: Page): Promise<string> {
  return (await memberItem(tab, await myIndex(tab)).locator('.name').textContent())!.trim();
}

function decisionRegion(tab: Page) {
  return tab.getByRole('region', { name: 'Decision' });
}

/**
 * With `silent` already silent: the honest tabs other than `reloaded` join first, which is not
 * enough; then `reloaded` joins, its vote counts, and all three honest tabs decide.
 */
async function decideNeedingReloaded(honest: Page[], reloaded: Page[], place: string): Promise<void> {
  const others = honest.filter((t) => !reloaded.includes(t));
  for (const tab of others) await vote(tab, place, 'Join');
  for (const tab of honest) await expect(proposal(tab, place)).toContainText(`${others.length} join`, { timeout: 30_000 });
  for (const tab of honest) await expect(decisionRegion(tab)).toContainText('No decision yet');
  for (const tab of reloaded) await vote(tab, place, 'Join');
  for (const tab of honest) await expectDecision(tab, place);
  const names = await Promise.all(reloaded.map(ownName));
  for (const tab of honest) {
    await expect(proposal(tab, place)).toContainText('3 join');
    for (const name of names) await expect(tab.getByTestId('going')).toContainText(name);
  }
  for (const tab of reloaded) await expect(proposal(tab, place).getByRole('button', { name: 'Join', exact: true })).toHaveAttribute('aria-pressed', 'true');
}

/** The primary, and the other tabs in a fixed order. */
async function roles(tabs: Page[]): Promise<{ primary: Page; backups: Page[] }> {
  const primary = await primaryTab(tabs);
  return { primary, backups: tabs.filter((t) => t !== primary) };
}

test('reloaded before any proposal (1 s and 4 s after the roster is fixed): both tabs take part again', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'reload-early');
  const roster = (await tabs[0]!.getByTestId('roster-fingerprint').textContent())!;
  const { primary, backups } = await roles(tabs);
  const [early, later, silent] = backups as [Page, Page, Page];
  const fixed = Date.now();
  const at = (ms: number) => later.waitForTimeout(Math.max(0, fixed + ms - Date.now()));

  await at(1_000);
  await reloadAndExpectBack(early, roster);
  await at(4_000);
  await reloadAndExpectBack(later, roster);

  await actMaliciously(silent, 'silent');
  const honest = [primary, early, later];
  await propose(primary, 'Pho Corner', '12:10');
  for (const tab of honest) await expect(proposal(tab, 'Pho Corner')).toBeVisible({ timeout: 30_000 });
  await decideNeedingReloaded(honest, [early, later], 'Pho Corner');
});

test('reloaded after a proposal, before the decision: the tab takes part again', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'reload-open');
  const roster = (await tabs[0]!.getByTestId('roster-fingerprint').textContent())!;
  const { primary, backups } = await roles(tabs);
  const [reloaded, silent, other] = backups as [Page, Page, Page];
  const honest = [primary, reloaded, other];

  await actMaliciously(silent, 'silent');
  // Ordering the proposal already needs `reloaded`: it has records of an open proposal.
  await propose(primary, 'Taco Stand', '12:20');
  for (const tab of honest) await expect(proposal(tab, 'Taco Stand')).toBeVisible({ timeout: 30_000 });

  await reloadAndExpectBack(reloaded, roster);
  await expect(proposal(reloaded, 'Taco Stand')).toBeVisible();
  await decideNeedingReloaded(honest, [reloaded], 'Taco Stand');
});

test('reloaded after a decision: the primary comes back, and the next round decides with it', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'reload-decided');
  const roster = (await tabs[0]!.getByTestId('roster-fingerprint').textContent())!;
  const { primary, backups } = await roles(tabs);
  const [silent, a, b] = backups as [Page, Page, Page];
  const primaryIndex = await myIndex(primary);

  await propose(a, 'Curry Hut', '12:00');
  for (const tab of [primary, a, b]) await vote(tab, 'Curry Hut', 'Join');
  for (const tab of tabs) await expectDecision(tab, 'Curry Hut');

  // The primary is the one member whose restart must not disturb sequence numbering.
  await reloadAndExpectBack(primary, roster);
  await expectDecision(primary, 'Curry Hut', 30_000);

  await actMaliciously(silent, 'silent');
  const honest = [primary, a, b];
  await a.getByRole('button', { name: 'Start a new round' }).click();
  // The new round is ordered (which needs the reloaded primary) once the old decision is gone.
  for (const tab of honest) await expect(decisionRegion(tab)).toContainText('No decision yet', { timeout: 30_000 });
  await propose(b, 'Bagel Bar', '13:15');
  for (const tab of honest) await expect(proposal(tab, 'Bagel Bar')).toBeVisible({ timeout: 30_000 });
  await decideNeedingReloaded(honest, [primary], 'Bagel Bar');
  // No view change was needed: the reloaded primary kept its place.
  for (const tab of honest) await expect(memberItem(tab, primaryIndex)).toHaveAttribute('data-status', /(^| )primary/);
});

/**
 * Rewrites every stored record of the member at `index` as the previous record version would
 * have written it (the version number is all that differs to the app), and returns how many.
 * The member is found by the prepares and commits it signed: the tabs share one database.
 */
async function ageRecords(tab: Page, index: number): Promise<number> {
  return tab.evaluate(
    ({ db: name, store, index, version }) =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction(store, 'readwrite');
          const wal = tx.objectStore(store);
          let rewritten = 0;
          const all = wal.getAll();
          all.onsuccess = () => {
            type Entry = { owner: string; record: { v: number; kind: string; signed?: { body: { from: number } } } };
            const mine = (all.result as Entry[]).find((e) => e.record.kind === 'signed' && e.record.signed!.body.from === index);
            if (!mine) return resolve(0);
            wal.openCursor().onsuccess = (event) => {
              const cursor = (event.target as IDBRequest<IDBCursorWithValue | null>).result;
              if (!cursor) return;
              const entry = cursor.value as Entry;
              if (entry.owner === mine.owner) {
                cursor.update({ ...entry, record: { ...entry.record, v: version } });
                rewritten++;
              }
              cursor.continue();
            };
          };
          tx.oncomplete = () => {
            db.close();
            resolve(rewritten);
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    { db: ROOMS_DB_NAME, store: WAL_STORE, index, version: WAL_VERSION - 1 },
  );
}

test('records saved by an older version of the app: the reloaded tab says so, recovers and takes part again', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'reload-old-version');
  const { primary, backups } = await roles(tabs);
  const [aged, silent, other] = backups as [Page, Page, Page];
  const honest = [primary, aged, other];
  await propose(other, 'Curry Hut', '12:00');
  for (const tab of honest) await vote(tab, 'Curry Hut', 'Join');
  for (const tab of tabs) await expectDecision(tab, 'Curry Hut');

  expect(await ageRecords(aged, await myIndex(aged))).toBeGreaterThan(0);
  await aged.reload();
  await expect(aged.getByText(/records of the room were saved by an older version of Byzantine Lunch and cannot be used/)).toBeVisible({ timeout: 30_000 });
  await expect(aged.getByText(/help of 3 other members that kept their records and run this version/)).toBeVisible();
  await expectDecision(aged, 'Curry Hut', 30_000);
  // The old records were not used: the tab asked the room to agree where it stands.
  const agedName = await ownName(aged);
  await expect(other.getByRole('region', { name: 'Transcript' })).toContainText(`${agedName}: “I lost my records.`, { timeout: 30_000 });

  // The other three kept their records, so it recovers with their help (before the fourth falls
  // silent: an amnesic member and a silent one leave too few whole members) and counts again.
  await expect(aged.getByRole('status').filter({ hasText: 'recovering' })).toHaveCount(0, { timeout: 60_000 });
  await actMaliciously(silent, 'silent');
  await other.getByRole('button', { name: 'Start a new round' }).click();
  for (const tab of honest) await expect(decisionRegion(tab)).toContainText('No decision yet', { timeout: 30_000 });
  await propose(primary, 'Bagel Bar', '13:15');
  for (const tab of honest) await expect(proposal(tab, 'Bagel Bar')).toBeVisible({ timeout: 30_000 });
  await decideNeedingReloaded(honest, [aged], 'Bagel Bar');
});
