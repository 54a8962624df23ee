// The lunch rules people meet (issue 15, items 1–4): names agreed by the room and distinct, a new
// round that no single member can force while lunch is undecided, and a decision that is final,
// with the proposer going.
import { expect, test, type Page } from '@playwright/test';
import { DECISION_BOUND_MS, expectDecision, members, myIndex, openLunchRoom, propose, proposal, vote } from './lunch.ts';

test.describe.configure({ timeout: 180_000 });

const SEATS = ['James', 'Bryan', 'Rich', 'Chris'];

function names(tab: Page) {
  return members(tab).locator('.name');
}

function decision(tab: Page) {
  return tab.getByRole('region', { name: 'Decision' });
}

function lunchHeading(tab: Page) {
  return tab.getByRole('heading', { name: /^Lunch · round/ });
}

async function rename(tab: Page, name: string): Promise<void> {
  await tab.getByRole('button', { name: 'Change name' }).click();
  await tab.getByRole('textbox', { name: 'Display name' }).fill(name);
  await tab.getByRole('button', { name: 'Save' }).click();
}

test('four tabs get the four seat names at once, and every tab shows the same ones', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'seat-names');
  for (const tab of tabs) await expect(names(tab)).toHaveText(SEATS);
  const mine = await Promise.all(tabs.map(async (tab) => (await tab.getByTestId('my-name').textContent())!));
  expect(new Set(mine)).toEqual(new Set(SEATS));
  for (const [i, tab] of tabs.entries()) {
    expect(mine[i]).toBe(SEATS[await myIndex(tab)]);
    await expect(tab).toHaveTitle(`${mine[i]} — Byzantine Lunch`);
  }
});

test('a new name travels to every tab, and a name another member holds is refused with the reason', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'rename');
  const [a, b] = tabs as [Page, Page];
  const ai = await myIndex(a);
  const bi = await myIndex(b);
  await rename(a, '  Dana ');
  for (const tab of tabs) await expect(members(tab).nth(ai).locator('.name')).toHaveText('Dana', { timeout: DECISION_BOUND_MS });
  await expect(a.getByTestId('my-name')).toHaveText('Dana');

  // Same name, other case: the room refuses it, says why to the one who asked, and nobody changes.
  await rename(b, 'DANA');
  await expect(b.getByTestId('refused')).toHaveText('The room did not take your last request: the name “DANA” is already taken by Dana.', {
    timeout: DECISION_BOUND_MS,
  });
  const expected = SEATS.map((s, i) => (i === ai ? 'Dana' : s));
  for (const tab of tabs) await expect(names(tab)).toHaveText(expected);
  await expect(b.getByTestId('my-name')).toHaveText(SEATS[bi]!);
  await expect(a.getByTestId('refused')).toHaveCount(0);

  // The agreed names survive a reload (they are in the replicated state), and the refusal, an
  // answer to something asked before the reload, is not repeated.
  await b.reload();
  await expect(b.getByRole('region', { name: 'Transcript' })).toContainText(/Restored from \d+ stored record/, { timeout: 30_000 });
  await expect(names(b)).toHaveText(expected, { timeout: 30_000 });
  await expect(b.getByTestId('my-name')).toHaveText(SEATS[bi]!);
  await expect(b.getByTestId('refused')).toHaveCount(0);
});

test('one member asking for a new round while a proposal is open starts none; 2f + 1 asking does', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'new-round');
  const [a, b, c] = tabs as [Page, Page, Page];
  await propose(a, 'Pizza Place', '12:40');
  await vote(b, 'Pizza Place', 'Join');
  for (const tab of tabs) await expect(proposal(tab, 'Pizza Place')).toContainText('2 join', { timeout: DECISION_BOUND_MS });

  for (const tab of tabs) await expect(decision(tab).getByTestId('round-rule')).toContainText('a new round starts only when 3 of 4 ask');
  await decision(c).getByRole('button', { name: 'Ask for a new round (0 of 3 asked)' }).click();
  await expect(decision(c).getByRole('button', { name: 'You asked for a new round (1 of 3 asked)' })).toBeDisabled({ timeout: DECISION_BOUND_MS });
  const cName = (await c.getByTestId('my-name').textContent())!;
  for (const tab of tabs.filter((t) => t !== c)) {
    await expect(decision(tab).getByRole('button', { name: 'Ask for a new round (1 of 3 asked)' })).toBeEnabled({ timeout: DECISION_BOUND_MS });
    await expect(decision(tab).getByTestId('round-rule')).toContainText(`Asked so far: ${cName}.`);
  }
  // Still the same round, and its proposal is still open.
  for (const tab of tabs) {
    await expect(lunchHeading(tab)).toHaveText('Lunch · round 1');
    await expect(proposal(tab, 'Pizza Place')).toHaveAttribute('data-state', 'open');
  }

  await decision(a).getByRole('button', { name: /^Ask for a new round/ }).click();
  await expect(decision(b).getByRole('button', { name: 'Ask for a new round (2 of 3 asked)' })).toBeVisible({ timeout: DECISION_BOUND_MS });
  await decision(b).getByRole('button', { name: /^Ask for a new round/ }).click();
  for (const tab of tabs) {
    await expect(lunchHeading(tab)).toHaveText('Lunch · round 2', { timeout: DECISION_BOUND_MS });
    await expect(tab.getByRole('list', { name: 'Proposals' })).not.toContainText('Pizza Place');
    await expect(decision(tab).getByRole('button', { name: 'Ask for a new round (0 of 3 asked)' })).toBeVisible();
  }
});

test('the decision is final: the proposer is going, a later Decline changes nothing, and a later proposal is refused before sending', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'final');
  const [proposer, x, y, late] = tabs as [Page, Page, Page, Page];
  const nameOf = async (tab: Page) => (await tab.getByTestId('my-name').textContent())!;
  await propose(proposer, 'Taco Truck', '12:10');
  // The proposer's own join counts: two more decide.
  for (const tab of tabs) await expect(proposal(tab, 'Taco Truck')).toContainText('1 join', { timeout: DECISION_BOUND_MS });
  await vote(late, 'Taco Truck', 'Decline');
  for (const tab of tabs) await expect(proposal(tab, 'Taco Truck')).toContainText('1 decline', { timeout: DECISION_BOUND_MS });
  await vote(x, 'Taco Truck', 'Join');
  await vote(y, 'Taco Truck', 'Join');
  for (const tab of tabs) await expectDecision(tab, 'Taco Truck');

  const going = [proposer, x, y].map((t) => tabs.indexOf(t));
  const indexes = await Promise.all(tabs.map(myIndex));
  const inOrder = [...going].sort((i, j) => indexes[i]! - indexes[j]!);
  const goingText = `Going: ${(await Promise.all(inOrder.map((i) => nameOf(tabs[i]!)))).join(', ')}`;
  const declinedText = `Declined: ${await nameOf(late)}`;
  for (const tab of tabs) {
    await expect(tab.getByTestId('going')).toHaveText(goingText);
    await expect(tab.getByTestId('declined')).toHaveText(declinedText);
    await expect(decision(tab).getByTestId('round-rule')).toHaveText('Lunch is decided — start a new round to pick again.');
  }

  // A going member declines after the decision: refused in its tab, and no card changes.
  await vote(x, 'Taco Truck', 'Decline');
  await expect(x.getByTestId('refused')).toHaveText('Lunch is decided — round 1 is final, so votes no longer change it.');
  // A proposal after the decision is refused before it is sent.
  await propose(late, 'Sushi Bar', '12:30');
  await expect(late.getByRole('alert').filter({ hasText: 'Lunch is decided' })).toHaveText('Lunch is decided — start a new round to propose');
  await expect(late.getByRole('textbox', { name: 'Place' })).toHaveValue('Sushi Bar');
  await expect(late.getByRole('status').filter({ hasText: 'Sending your request' })).toHaveCount(0);
  // Give any request that did leave time to be ordered, then check that nothing moved.
  await late.waitForTimeout(2_000);
  for (const tab of tabs) {
    await expect(tab.getByTestId('going')).toHaveText(goingText);
    await expect(tab.getByTestId('declined')).toHaveText(declinedText);
    await expect(proposal(tab, 'Taco Truck')).toContainText('3 join · 1 decline');
    await expect(tab.getByRole('list', { name: 'Proposals' })).not.toContainText('Sushi Bar');
  }
});
