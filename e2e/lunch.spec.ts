import { expect, test } from '@playwright/test';
import { STRATEGIES } from '../src/core/adversaries.ts';
import {
  DECISION_BOUND_MS, actMaliciously, expectDecision, memberItem, members, myIndex, openLunchRoom, primaryTab, propose, proposal, vote,
} from './lunch.ts';

test.describe.configure({ timeout: 180_000 });

test('happy path: one proposes, three join, all four show the same decision', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'happy');
  await propose(tabs[0]!, 'Thai Palace', '12:30');
  for (const tab of tabs) await expect(proposal(tab, 'Thai Palace')).toBeVisible();
  for (const tab of tabs.slice(0, 3)) await vote(tab, 'Thai Palace', 'Join');
  for (const tab of tabs) {
    await expectDecision(tab, 'Thai Palace');
    await expect(tab.getByRole('region', { name: 'Decision' })).toContainText('12:30');
  }
  // A decided round is final: a later vote is refused and changes nothing.
  await vote(tabs[3]!, 'Thai Palace', 'Decline');
  await expect(tabs[3]!.getByTestId('refused')).toContainText('round 0 is final');
  for (const tab of tabs) await expect(proposal(tab, 'Thai Palace')).toContainText('0 decline');
  for (const tab of tabs) await expectDecision(tab, 'Thai Palace', 5_000);
  await expect(tabs[0]!.getByRole('region', { name: 'Transcript' })).toContainText('How about Thai Palace at 12:30?');
});

for (const strategy of STRATEGIES) {
  for (const role of ['primary', 'backup'] as const) {
    test(`${strategy} as ${role}: the three honest tabs agree`, async ({ context }) => {
      const { tabs } = await openLunchRoom(context, `${strategy}-${role}`);
      const primary = await primaryTab(tabs);
      const liar = role === 'primary' ? primary : tabs.find((t) => t !== primary)!;
      const honest = tabs.filter((t) => t !== liar);
      const liarIndex = await myIndex(liar);
      await actMaliciously(liar, strategy);

      const place = `Noodle Bar ${strategy}`;
      await propose(honest[0]!, place, '13:00');
      for (const tab of honest) await vote(tab, place, 'Join');
      for (const tab of honest) await expectDecision(tab, place);

      const honestIndexes = await Promise.all(honest.map(myIndex));
      for (const tab of honest) {
        // No honest member is ever marked faulty, whatever the liar says about them.
        for (const i of honestIndexes) await expect(memberItem(tab, i)).not.toContainText('proven faulty');
        if (strategy === 'equivocate') {
          await expect(memberItem(tab, liarIndex)).toContainText('proven faulty', { timeout: DECISION_BOUND_MS });
          // The proof is shown and checked in this tab.
          await memberItem(tab, liarIndex).getByRole('button', { name: 'Show proof' }).click();
          const dialog = tab.getByRole('dialog');
          await expect(dialog).toContainText('Both signatures verify');
          await expect(dialog.locator('pre')).toHaveCount(2);
          await dialog.getByRole('button', { name: 'Close' }).click();
          await expect(dialog).toBeHidden();
        }
        if (strategy === 'silent' && role === 'primary') {
          await expect(memberItem(tab, liarIndex)).not.toHaveAttribute('data-status', /primary/);
        }
      }
      if (strategy === 'false-accuse') {
        await expect(honest[0]!.getByRole('region', { name: 'Transcript' })).toContainText('without proof');
      }
    });
  }
}

test('an honest tab reloaded in the middle of a decision ends with the same decision', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'reload-mid');
  await propose(tabs[0]!, 'Dumpling House', '12:15');
  await vote(tabs[0]!, 'Dumpling House', 'Join');
  await vote(tabs[1]!, 'Dumpling House', 'Join');
  await tabs[2]!.reload();
  await expect(members(tabs[2]!)).toHaveCount(4);
  await vote(tabs[2]!, 'Dumpling House', 'Join');
  for (const tab of tabs) await expectDecision(tab, 'Dumpling House');
});

test('two liars (beyond f): no honest tab crashes, and the liars are exposed', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'two-liars');
  const [a, b, c, d] = tabs as [typeof tabs[0], typeof tabs[0], typeof tabs[0], typeof tabs[0]];
  await actMaliciously(a, 'equivocate');
  await actMaliciously(b, 'equivocate');
  await propose(c, 'Falafel Cart', '12:45');
  await vote(c, 'Falafel Cart', 'Join');
  await vote(d, 'Falafel Cart', 'Join');
  // Guarantees are void: a decision may or may not come. The honest tabs keep working and
  // show at least one liar proven faulty once conflicting messages meet.
  const liars = [await myIndex(a), await myIndex(b)];
  for (const tab of [c, d]) {
    await expect(tab.getByRole('heading', { name: 'Byzantine Lunch' })).toBeVisible();
    await expect(async () => {
      const statuses = await Promise.all(liars.map((i) => memberItem(tab, i).getAttribute('data-status')));
      expect(statuses.some((s) => s?.includes('proven faulty'))).toBe(true);
    }).toPass({ timeout: DECISION_BOUND_MS });
    for (const i of [await myIndex(c), await myIndex(d)]) await expect(memberItem(tab, i)).not.toContainText('proven faulty');
  }
});

test('identity export and import: a tab whose storage was cleared comes back as the same member', async ({ browser, context }) => {
  const { tabs, url } = await openLunchRoom(context, 'export');
  await propose(tabs[0]!, 'Soup Kitchen', '12:00');
  for (const tab of tabs.slice(0, 3)) await vote(tab, 'Soup Kitchen', 'Join');
  for (const tab of tabs) await expectDecision(tab, 'Soup Kitchen');

  const leaving = tabs[3]!;
  const fingerprint = await leaving.getByTestId('my-fingerprint').textContent();
  const roster = await leaving.getByTestId('roster-fingerprint').textContent();
  const [download] = await Promise.all([
    leaving.waitForEvent('download'),
    leaving.getByRole('button', { name: 'Export identity' }).click(),
  ]);
  const file = await download.path();
  expect(download.suggestedFilename()).toMatch(/\.json$/);
  await leaving.close();

  // Another profile: nothing of this member is stored there.
  const fresh = await browser.newContext({ permissions: ['camera', 'microphone'] });
  try {
    const page = await fresh.newPage();
    await page.goto(url);
    // The room is full and this profile is not yet the member: it shows no identity of its own,
    // only the way back in.
    await expect(page.getByRole('alert')).toContainText('This room is full');
    await expect(page.getByTestId('my-fingerprint')).toHaveCount(0);
    await page.getByLabel('Import identity').setInputFiles(file);
    await expect(page.getByTestId('my-fingerprint')).toHaveText(fingerprint!, { timeout: 30_000 });
    await expect(page.getByTestId('roster-fingerprint')).toHaveText(roster!, { timeout: 30_000 });
    await expectDecision(page, 'Soup Kitchen');
    // The others see it as the same member, connected again.
    const index = await myIndex(page);
    for (const tab of tabs.slice(0, 3)) await expect(memberItem(tab, index)).toHaveAttribute('data-status', /(^| )connected/);
  } finally {
    await fresh.close();
  }
});
