import { expect, test, type Page } from '@playwright/test';
import { STRATEGIES, type Strategy } from '../src/core/adversaries.ts';
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
  await expect(tabs[3]!.getByTestId('refused')).toContainText('round 1 is final');
  for (const tab of tabs) await expect(proposal(tab, 'Thai Palace')).toContainText('0 decline');
  for (const tab of tabs) await expectDecision(tab, 'Thai Palace', 5_000);
  await expect(tabs[0]!.getByRole('region', { name: 'Transcript' })).toContainText('How about Thai Palace at 12:30?');
});

/** How long a strategy may take to leave its trace: the rarest (bloat's junk, replay's) come every few seconds. */
const TRACE_MS = 30_000;

async function memberName(page: Page, index: number): Promise<string> {
  return (await memberItem(page, index).locator('.name').textContent())!.trim();
}

/**
 * What an honest tab shows of the liar in its Members list: observed over the liar's own link and
 * marked as not proof, apart from "proven faulty"; and nothing of the kind against honest members.
 */
async function expectTrace(
  tab: Page, strategy: Strategy, role: 'primary' | 'backup', liar: number, liarName: string, honest: number[],
): Promise<void> {
  const item = memberItem(tab, liar);
  const timeout = TRACE_MS;
  switch (strategy) {
    case 'forge':
      await expect(item).toHaveAttribute('data-observed', /sent \d+ messages? with forged signatures/, { timeout });
      break;
    case 'replay':
      await expect(item).toHaveAttribute('data-observed', /sent \d+ garbled messages?/, { timeout });
      await expect(item).toHaveAttribute('data-observed', /resent \d+ old messages? signed by others/, { timeout });
      break;
    case 'bloat':
      await expect(item).toHaveAttribute('data-observed', /sent \d+ oversized messages?/, { timeout });
      break;
    case 'slow':
      // Only a primary has duties to hold back; as a backup the liar behaves.
      if (role === 'primary') await expect(item).toHaveAttribute('data-observed', /kept requests waiting \d+(\.\d)? s/, { timeout });
      break;
    case 'silent':
      await expect(item).toHaveAttribute('data-status', /silent for \d+(\.\d)? s/, { timeout });
      await expect(item).not.toHaveAttribute('data-status', /(^| )connected/);
      if (role === 'primary') await expect(item).toHaveAttribute('data-observed', /replaced as primary: silent for \d+(\.\d)? s/, { timeout });
      break;
    case 'false-accuse':
      await expect(item).toHaveAttribute('data-observed', /accused \w+( and \w+|, \w+)* without proof/, { timeout });
      await expect(async () => {
        const statuses = await Promise.all(honest.map((i) => memberItem(tab, i).getAttribute('data-status')));
        expect(statuses.some((st) => st?.includes(`unproven claim`) && st.includes(`(by ${liarName})`))).toBe(true);
      }).toPass({ timeout });
      break;
    case 'equivocate':
      break; // proven, with the proof shown (above)
  }
  if (strategy !== 'equivocate' && strategy !== 'silent' && !(strategy === 'slow' && role === 'backup')) {
    await expect(item.getByText('Seen from this tab, not proof:')).toBeVisible();
  }
  // Traffic only a liar sends is never held against an honest member.
  for (const i of honest) {
    await expect(memberItem(tab, i)).not.toHaveAttribute('data-observed', /forged|garbled|oversized|resent|accused|breaks? the rules|prove/);
  }
}

for (const strategy of STRATEGIES) {
  for (const role of ['primary', 'backup'] as const) {
    test(`${strategy} as ${role}: the three honest tabs agree`, async ({ context }) => {
      const { tabs } = await openLunchRoom(context, `${strategy}-${role}`);
      const primary = await primaryTab(tabs);
      const liar = role === 'primary' ? primary : tabs.find((t) => t !== primary)!;
      const honest = tabs.filter((t) => t !== liar);
      const liarIndex = await myIndex(liar);
      const liarName = await memberName(honest[0]!, liarIndex);
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
        await expectTrace(tab, strategy, role, liarIndex, liarName, honestIndexes);
      }
      if (strategy === 'false-accuse') {
        await expect(honest[0]!.getByRole('region', { name: 'Transcript' })).toContainText('without proof');
      }
    });
  }
}

test('a stall says who is missing: two of four close, the two left see whom they wait for and why', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'stall');
  const primary = await primaryTab(tabs);
  const other = tabs.find((t) => t !== primary)!;
  const leaving = [primary, other];
  const staying = tabs.filter((t) => !leaving.includes(t));
  const gone = (await Promise.all(leaving.map(myIndex))).sort((a, b) => a - b);
  const goneNames = await Promise.all(gone.map((i) => memberName(staying[0]!, i)));
  const primaryName = await memberName(staying[0]!, await myIndex(primary));
  for (const tab of leaving) await tab.close();

  for (const tab of staying) {
    await expect(tab.getByTestId('stall')).toContainText(`Needs 3 of 4 online — waiting for ${goneNames[0]} or ${goneNames[1]}`, { timeout: 30_000 });
  }
  // A request now cannot be decided: the tab says why, and whom the room is trying to replace.
  await propose(staying[0]!, 'Lonely Diner', '12:00');
  await expect(staying[0]!.getByText('Sending your request…')).toBeVisible();
  await expect(staying[0]!.getByTestId('stall')).toContainText(
    `Replacing ${primaryName} as primary (the member who puts requests in order): nothing heard from ${primaryName} for`, { timeout: 30_000 },
  );
  await expect(staying[0]!.getByTestId('stall')).toContainText('Needs 3 of 4 online');
});

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
    // Import asks before it takes over the seat.
    await page.getByRole('form', { name: 'Confirm the import' }).getByRole('button', { name: /^Take over as / }).click();
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
