// The lab's scenarios: four members on four hosts behind four NATs, talking through coturn.
// Run by `npm run lab` (run.ts), which builds the network first; each member is its own Chromium
// started on its host with `ip netns exec`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from '@playwright/test';
import { DECISION_BOUND_MS, actMaliciously, expectDecision, memberItem, myIndex, primaryTab, propose, proposal, vote } from '../lunch.ts';
import { peerItems } from '../tabs.ts';
import { decideWith, note, report, selectedPaths, tally, test, verified } from './fixtures.ts';
import { setUplink } from './topology.ts';

test('relay only: four members behind four NATs connect through TURN and decide lunch', async ({ lab }) => {
  const { pages, meshMs } = await lab.open('relay', 'relay');
  report('full verified mesh through TURN (relay only)', meshMs);
  const paths = (await Promise.all(pages.map(selectedPaths))).flat();
  note(`paths chosen by ICE: ${tally(paths)}`);
  expect(paths).toHaveLength(12);
  for (const path of paths) expect(path).toMatch(/^relay\/(udp|tcp)→relay$/);
  report('proposal to decision in every tab', await decideWith(pages.slice(0, 3), pages, 'Thai Palace', '12:30'));
});

test('all candidates: the same with STUN and hole punching allowed', async ({ lab }) => {
  const { pages, meshMs } = await lab.open('all', 'all');
  report('full verified mesh, all candidate types', meshMs);
  // Which paths ICE chose: through the NATs (srflx/prflx) where hole punching worked, else TURN.
  note(`paths chosen by ICE: ${tally((await Promise.all(pages.map(selectedPaths))).flat())}`);
  report('proposal to decision in every tab', await decideWith(pages.slice(1), pages, 'Curry House', '12:00'));
});

test("a member's uplink is cut mid-decision: the other three decide; healed, it catches up", async ({ lab }) => {
  const { pages } = await lab.open('relay', 'cut');
  const primary = await primaryTab(pages);
  const cut = pages.find((p) => p !== primary)!;
  const rest = pages.filter((p) => p !== cut);
  const place = 'Dumpling Hall';
  await propose(rest[0]!, place, '12:15');
  for (const page of pages) await expect(proposal(page, place)).toBeVisible();
  await vote(cut, place, 'Decline');
  const cutAt = Date.now();
  setUplink(lab.hostOf(cut), false);
  for (const page of rest) await vote(page, place, 'Join');
  for (const page of rest) await expectDecision(page, place);
  await expect(cut.getByRole('region', { name: 'Decision' })).not.toContainText(`Lunch is decided: ${place}`);
  // The others say so when the connection to the cut member is gone for good.
  for (const page of rest) await expect(verified(page)).toHaveCount(2, { timeout: 60_000 });
  report('cut member seen as disconnected by the other three after', Date.now() - cutAt);
  // Long enough for the signaling server to drop the cut member's socket too (pings every 15 s).
  await new Promise((r) => setTimeout(r, Math.max(0, cutAt + 40_000 - Date.now())));
  const healedAt = Date.now();
  setUplink(lab.hostOf(cut), true);
  await expectDecision(cut, place, 90_000);
  report('healed member shows the decision after', Date.now() - healedAt);
  await expect(verified(cut)).toHaveCount(3, { timeout: 90_000 });
  report('healed member verified with all three again after', Date.now() - healedAt);
});

test("the primary's uplink is cut: view change and decision; healed, it rejoins in the new view", async ({ lab }) => {
  const { pages } = await lab.open('relay', 'primary-cut');
  const primary = await primaryTab(pages);
  const oldPrimary = await myIndex(primary);
  const backups = pages.filter((p) => p !== primary);
  const cutAt = Date.now();
  setUplink(lab.hostOf(primary), false);
  report('view change and decision without the primary', await decideWith(backups, backups, 'Falafel Stand', '12:45'));
  const newPrimary = await myIndex(await primaryTab(backups));
  expect(newPrimary).not.toBe(oldPrimary);
  for (const page of backups) await expect(memberItem(page, newPrimary)).toHaveAttribute('data-status', /primary/);
  expect(Date.now() - cutAt).toBeLessThan(DECISION_BOUND_MS + 30_000);
  const healedAt = Date.now();
  setUplink(lab.hostOf(primary), true);
  await expectDecision(primary, 'Falafel Stand', 90_000);
  await expect(memberItem(primary, newPrimary)).toHaveAttribute('data-status', /primary/, { timeout: 90_000 });
  await expect(memberItem(primary, oldPrimary)).not.toHaveAttribute('data-status', /primary/);
  report('healed old primary in the new view after', Date.now() - healedAt);
  // And the room still decides with all four, the healed member proposing in a new round.
  await expect(verified(primary)).toHaveCount(3, { timeout: 90_000 });
  await primary.getByRole('button', { name: 'Start a new round' }).click();
  for (const page of pages) await expect(page.getByRole('heading', { name: 'Lunch · round 2' })).toBeVisible();
  await decideWith([primary, ...backups.slice(0, 2)], pages, 'Soup Kitchen', '13:15');
});

test('one member equivocates across the NATs: proven faulty in every honest member', async ({ lab }) => {
  const { pages } = await lab.open('relay', 'equivocate');
  const liar = await primaryTab(pages);
  const liarIndex = await myIndex(liar);
  const honest = pages.filter((p) => p !== liar);
  await actMaliciously(liar, 'equivocate');
  await decideWith(honest, honest, 'Noodle Bar', '13:00');
  const honestIndexes = await Promise.all(honest.map(myIndex));
  for (const page of honest) {
    await expect(memberItem(page, liarIndex)).toContainText('proven faulty', { timeout: DECISION_BOUND_MS });
    for (const i of honestIndexes) await expect(memberItem(page, i)).not.toContainText('proven faulty');
  }
});

test('the status says why peers cannot connect: no TURN configured, TURN credentials refused', async ({ lab }) => {
  const none = await lab.open('noTurn', 'no-turn', { count: 2, waitForMesh: false });
  const refused = await lab.open('badSecret', 'bad-secret', { count: 2, waitForMesh: false });
  for (const page of none.pages) {
    await expect(peerItems(page).first()).toContainText('no TURN server configured — peers on different networks need one', { timeout: 60_000 });
  }
  for (const page of refused.pages) {
    await expect(peerItems(page).first()).toContainText('TURN credentials refused', { timeout: 60_000 });
  }
  for (const page of [...none.pages, ...refused.pages]) await expect(verified(page)).toHaveCount(0);
});

test('the TURN server stops: links are reported as they drop, new ones say TURN is unreachable, nothing crashes', async ({ lab }) => {
  const { pages } = await lab.open('relay', 'turn-stop');
  const pid = Number(readFileSync(lab.info.turn.pidFile, 'utf8').trim());
  const stoppedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  try {
    for (const page of pages) await expect(verified(page)).toHaveCount(0, { timeout: 90_000 });
    report('every link reported down after', Date.now() - stoppedAt);
    for (const page of pages) {
      await expect(peerItems(page).filter({ hasText: 'TURN server unreachable' })).toHaveCount(3, { timeout: 90_000 });
    }
    report('every link says "TURN server unreachable" after', Date.now() - stoppedAt);
    for (const page of pages) {
      await expect(page.getByRole('heading', { name: 'Peers' })).toBeVisible();
      await expect(page.getByTestId('mesh-summary')).toContainText('signaling joined');
    }
  } finally {
    // coturn back, as a restart would bring it: the room heals by itself.
    const [cmd, ...args] = ['ip', 'netns', 'exec', lab.info.turn.netns, ...lab.info.turn.cmd];
    spawn(cmd!, args, { stdio: 'ignore', detached: true }).unref();
  }
  const restartedAt = Date.now();
  for (const page of pages) await expect(verified(page)).toHaveCount(3, { timeout: 90_000 });
  report('full mesh again after coturn restarted', Date.now() - restartedAt);
});
