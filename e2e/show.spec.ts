import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import {
  actMaliciously, expectDecision, memberItem, myIndex, openLunchRoom, primaryTab, propose, proposal, vote,
} from './lunch.ts';

test.describe.configure({ timeout: 180_000 });
const run = promisify(execFile);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Transcript lines about what was agreed, the same in every honest tab, and the lines about the
 * proof, which each tab tells in the voice of its own member (the one passing the proof on).
 */
async function agreedLines(page: Page): Promise<{ ordered: string[]; proofs: string[] }> {
  const items = page.getByRole('region', { name: 'Transcript' }).locator('li');
  const rows = await items.evaluateAll((els) => els.map((e) => ({ kind: e.getAttribute('data-kind'), text: e.textContent ?? '' })));
  // The relative time in front of each line differs from tab to tab.
  const text = (t: string) => t.replace(/^\s*\+[\d.]+\s*s\s*/, '').trim();
  return {
    ordered: rows.filter((r) => r.kind === 'request' || r.kind === 'decision').map((r) => text(r.text)),
    proofs: rows.filter((r) => r.kind === 'evidence').map((r) => text(r.text)).sort(),
  };
}

test('an equivocation run: the transcript names the liar and its proof, the same in every honest tab', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'story');
  const liar = await primaryTab(tabs);
  const honest = tabs.filter((t) => t !== liar);
  const liarIndex = await myIndex(liar);
  const liarName = (await memberItem(honest[0]!, liarIndex).locator('.name').textContent())!.trim();
  const honestNames = await Promise.all(honest.map(async (t) => (await memberItem(t, await myIndex(t)).locator('.name').textContent())!.trim()));
  await actMaliciously(liar, 'equivocate');
  await propose(honest[0]!, 'Taco Truck', '12:10');
  for (const tab of honest) await vote(tab, 'Taco Truck', 'Join');
  for (const tab of honest) {
    await expectDecision(tab, 'Taco Truck');
    await expect(memberItem(tab, liarIndex)).toContainText('proven faulty');
  }
  // Give the last lines a moment to arrive everywhere, then compare.
  await expect(async () => {
    const lines = await Promise.all(honest.map(agreedLines));
    for (const [i, l] of lines.entries()) {
      expect(l.ordered).toEqual(lines[0]!.ordered);
      // What the liar did, then this tab's member declaring it with the proof.
      expect(l.proofs.join('\n')).toContain(`${honestNames[i]}: “${liarName} is faulty, and I can prove it`);
      expect(l.proofs.join('\n')).toMatch(new RegExp(`^${escape(liarName)}\\b.*signed both\\.$`, 'm'));
    }
    expect(lines[0]!.ordered.join(' ')).toContain('How about Taco Truck at 12:10?');
    expect(lines[0]!.ordered.at(-1)).toContain('Lunch is decided: Taco Truck at 12:10.');
  }).toPass({ timeout: 20_000 });

  // Who vouched and who confirmed, each in a line of its own; no member ever complains about itself.
  const transcript = honest[0]!.getByRole('region', { name: 'Transcript' });
  await expect(transcript.locator('li[data-kind="vouch"]').first()).toContainText('vouch for it');
  await expect(transcript.locator('li[data-kind="confirm"]').first()).toContainText('stands');
  for (const [i, tab] of honest.entries()) {
    const own = await tab.getByRole('region', { name: 'Transcript' }).locator('li .text').allTextContents();
    for (const line of own.filter((t) => t.startsWith(`${honestNames[i]}:`))) expect(line.slice(honestNames[i]!.length + 1)).not.toContain(honestNames[i]);
  }
  // The protocol's own terms are one click away, and one click back.
  const terms = transcript.getByRole('checkbox', { name: 'Protocol terms' });
  await terms.check();
  await expect(transcript).toContainText('executed request');
  await expect(transcript).toContainText('EVIDENCE against');
  await expect(transcript).not.toContainText('How about Taco Truck');
  await terms.uncheck();
  await expect(transcript).toContainText('How about Taco Truck at 12:10?');

  // The README's screenshot: the scene in the middle, liar proven, diagram visible.
  await honest[0]!.setViewportSize({ width: 1280, height: 1400 });
  // Written to the test output unless asked for (`npm run screenshot`): `npm test` leaves the
  // work tree as it found it.
  const path = process.env.UPDATE_SCREENSHOTS === '1' ? 'e2e/screenshots/scene.png' : test.info().outputPath('scene.png');
  await honest[0]!.screenshot({ path, fullPage: true });
});

test('the diagram draws one arrow per message the protocol panel counts for the last decision', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'diagram');
  const n = tabs.length;
  const proposer = await myIndex(tabs[1]!);
  await propose(tabs[1]!, 'Ramen Spot', '12:20');
  for (const tab of tabs) await expect(proposal(tab, 'Ramen Spot')).toBeVisible();
  const primary = await myIndex(await primaryTab(tabs));
  for (const tab of tabs) {
    const me = await myIndex(tab);
    // Every message of a fault-free decision that this tab sends or receives: the proposer's
    // request, the primary's pre-prepare, each backup's prepare and every member's commit.
    const expected: string[] = [];
    const add = (type: string, from: number) => {
      for (let to = 0; to < n; to++) if (to !== from && (from === me || to === me)) expected.push(`${type} ${from}→${to}`);
    };
    add('request', proposer);
    add('pre-prepare', primary);
    for (let m = 0; m < n; m++) if (m !== primary) add('prepare', m);
    for (let m = 0; m < n; m++) add('commit', m);

    const diagram = tab.getByRole('region', { name: 'Message diagram' });
    const panel = tab.getByRole('region', { name: 'Protocol' });
    // Messages that arrive after this tab executed the decision (the last commit, typically) join
    // its diagram and its counts too: wait until all of them are in, then the two still agree.
    await expect(async () => {
      const arrows = await diagram.locator('.arrow').evaluateAll((els) =>
        els.map((e) => `${e.getAttribute('data-type')} ${e.getAttribute('data-from')}→${e.getAttribute('data-to')}`),
      );
      const total = Number(await panel.locator('[data-kind="all"][data-column="last"]').textContent());
      const commits = Number(await panel.locator('[data-kind="commit"][data-column="last"]').textContent());
      expect(expected.filter((m) => !arrows.includes(m))).toEqual([]);
      expect(new Set(arrows.filter((a) => a.startsWith('commit ')).map((a) => a.split(/[ →]/)[1])).size).toBe(n);
      expect(commits).toBe(arrows.filter((a) => a.startsWith('commit ')).length);
      expect(arrows.length).toBe(total);
      // Exactly the fault-free decision: copies sent again are counted apart, not drawn.
      expect(total).toBe(expected.length);
    }).toPass({ timeout: 10_000 });
  }
});

test('a downloaded proof verifies offline with npm run verify-proof, and a tampered copy does not', async ({ context }, info) => {
  const { tabs } = await openLunchRoom(context, 'proof');
  const liar = tabs[2]!;
  const honest = tabs.find((t) => t !== liar)!;
  const liarIndex = await myIndex(liar);
  await actMaliciously(liar, 'equivocate');
  await propose(honest, 'Curry House', '12:40');
  await expect(memberItem(honest, liarIndex)).toContainText('proven faulty', { timeout: 60_000 });
  await memberItem(honest, liarIndex).getByRole('button', { name: 'Show proof' }).click();
  const [download] = await Promise.all([honest.waitForEvent('download'), honest.getByRole('button', { name: 'Download proof' }).click()]);
  const file = info.outputPath('proof.json');
  await download.saveAs(file);
  const roster = (await honest.getByTestId('roster-fingerprint').textContent())!;

  const good = await run('npx', ['tsx', 'src/tools/verify-proof.ts', file, '--roster', roster]);
  expect(good.stdout).toContain('VALID');

  const text = await readFile(file, 'utf8');
  const tampered = info.outputPath('tampered.json');
  // Flip one hex digit of the first message's signature.
  await writeFile(tampered, text.replace(/("sig":\s*\{\s*"\$bytes":\s*")([0-9a-f])/, (_m, head: string, d: string) => head + (d === '0' ? '1' : '0')));
  expect(await readFile(tampered, 'utf8')).not.toBe(text);
  const bad = await run('npx', ['tsx', 'src/tools/verify-proof.ts', tampered]).then(
    () => null,
    (e: { code: number; stdout: string }) => e,
  );
  expect(bad?.code).toBe(1);
  expect(bad?.stdout).toContain('INVALID');
});

test('accessibility: no serious violations, and the scene can be played with the keyboard alone', async ({ context }) => {
  const { tabs } = await openLunchRoom(context, 'a11y');
  const page = tabs[0]!;
  await page.getByRole('textbox', { name: 'Place' }).focus();
  await page.keyboard.type('Salad Bar');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Time', { exact: true })).toBeFocused();
  await page.keyboard.press('Enter');
  for (const tab of tabs.slice(0, 3)) {
    const join = proposal(tab, 'Salad Bar').getByRole('button', { name: 'Join', exact: true });
    await expect(join).toBeVisible({ timeout: 30_000 });
    await join.focus();
    await tab.keyboard.press('Enter');
  }
  for (const tab of tabs) await expectDecision(tab, 'Salad Bar');
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`).join(' | ')}`)).toEqual([]);
});
