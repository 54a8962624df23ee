// The fast subset of `npm run abuse`, in `npm test`: the same attacks, shorter, against an
// in-process server on 127.0.0.1, judged only on outcomes that do not depend on how busy the
// machine is (who got in, who was dropped, what came back), never on latency or CPU.
//
// Tests of flaws issue 13 asks to fix are written as they should pass once fixed, and run as
// `test.fails` until then: each proves today that it sees its flaw. When a fix lands, its
// test.fails turns red ("expected to fail"); flip its entry in FIXED to true.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSignalingServer, type SignalingServer } from '../../signaling-server/server.ts';
import {
  badRanges, badSignatures, relayFlood, slowloris, strangerFrames, SQUAT_SOCKETS, type AttackContext, type AttackResult, type Check,
} from './attacks.ts';
import { Bystander, summarizeWindow } from './bystander.ts';
import { connectMany, loopbackAddress, signalingUrl, SignalingClient } from './client.ts';

/** Which fixes of issue 13 have landed; see the file comment. All had by main at e2c4e87. */
const FIXED = {
  /** Item 4: a per-sender relay budget, so a slow reader is not dropped for a room-mate's flood. */
  slowReaderKept: true,
  /** Item 5: caps per source address, so one address cannot fill the server. */
  perAddressCaps: true,
  /** Item 7: Range headers answered correctly (or ignored), and never left open. */
  rangeCorrect: true,
  rangeCloses: true,
  /** Item 7: a cap on concurrent HTTP connections per address (at most SLOWLORIS_ALLOWANCE). */
  slowlorisCapped: true,
  /** Item 8: a wrong-size first join does not lock out a room name. */
  wrongSizeJoin: true,
  /** Item 8: error texts never echo input unbounded. */
  errorTextBounded: true,
  /** Item 8: error texts to strangers do not say how many are in a room. */
  occupancyHidden: true,
};

const fixedOr = (fixed: boolean) => (fixed ? test : test.fails);
const PAGE = '<!doctype html><title>abuse</title>' + 'x'.repeat(4_000);

let server: SignalingServer;
let staticDir: string;
let base: string;
let url: string;
let bystander: Bystander;
let internalErrors: unknown[] = [];

beforeAll(async () => {
  staticDir = mkdtempSync(join(tmpdir(), 'abuse-test-'));
  writeFileSync(join(staticDir, 'index.html'), PAGE);
  server = createSignalingServer({ staticDir, onInternalError: (e) => internalErrors.push(e) });
  const { port } = await server.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${port}`;
  url = signalingUrl(base);
  // Generous: the subset judges losses, and a loaded machine must not turn a slow echo into one.
  bystander = new Bystander({ url, lostAfterMs: 10_000, joinEveryMs: 250 });
  await bystander.start();
});

afterAll(async () => {
  bystander?.stop();
  await server?.close();
  rmSync(staticDir, { recursive: true, force: true });
});

let nextAddress = 2;
async function context(durationMs: number): Promise<AttackContext> {
  return { base, url, durationMs, address: await loopbackAddress(nextAddress++), honestAddress: '127.0.0.1', log: () => {} };
}

function check(result: AttackResult, name: string): Check {
  const found = result.checks.find((c) => c.name.startsWith(name));
  if (found === undefined) throw new Error(`no check named "${name}…" in ${JSON.stringify(result.checks)}`);
  return found;
}

/** Asserts a check passed, with its numbers in the failure message. */
function expectPass(result: AttackResult, name: string): void {
  const c = check(result, name);
  expect(c.pass, `${c.name}: ${c.detail}`).toBe(true);
}

/** The bystanders lost nothing since the last call (relays are given all the time they need). */
async function expectBystandersUnharmed(): Promise<void> {
  const w = summarizeWindow(await bystander.settle());
  expect(w.lost, `bystanders lost ${w.lostDetail}`).toBe(0);
  expect(w.relays).toBeGreaterThan(0);
}

describe('what holds today', () => {
  test('the bystanders join and relay on a calm server', async () => {
    await bystander.settle();
    await new Promise((r) => setTimeout(r, 1_000));
    await expectBystandersUnharmed();
  });

  test('bad-signature joins are refused one by one, and the bystanders lose nothing', async () => {
    await bystander.settle();
    const result = await badSignatures.run(await context(1_500));
    expect(result.summary).toMatch(/answers: (?!none)/);
    await expectBystandersUnharmed();
  });

  test('a stranger\'s junk gets an error per frame, and nothing throws inside the server', async () => {
    internalErrors = [];
    const result = await strangerFrames.run(await context(0));
    expect(result.summary).toMatch(/6 errors for 6 junk frames/);
    expect(internalErrors).toEqual([]);
  });

  test('the server recovers once a squatter leaves', async () => {
    const address = await loopbackAddress(nextAddress++);
    const { clients } = await connectMany(url, SQUAT_SOCKETS, { localAddress: address, parallel: 100 });
    for (const c of clients) c.close();
    const deadline = Date.now() + 10_000;
    let joined = false;
    while (!joined && Date.now() < deadline) {
      const t = await bystander.probeJoin();
      joined = typeof t === 'number';
      if (!joined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(joined).toBe(true);
  }, 60_000);
});

describe('what issue 13 fixes (test.fails until FIXED says otherwise)', () => {
  fixedOr(FIXED.slowReaderKept)('item 4: a member reading at 8 Mbit/s is not dropped for a room-mate\'s flood', async () => {
    const result = await relayFlood.run(await context(8_000));
    expectPass(result, 'a slow member is not dropped');
  }, 30_000);

  fixedOr(FIXED.perAddressCaps)(`item 5: with ${SQUAT_SOCKETS} sockets open from one address, a newcomer from another joins`, async () => {
    const address = await loopbackAddress(nextAddress++);
    const { clients } = await connectMany(url, SQUAT_SOCKETS, { localAddress: address, parallel: 100 });
    try {
      const newcomer = await SignalingClient.connect(url, { localAddress: '127.0.0.1' });
      const r = await newcomer.join(`newcomer-${Date.now()}`);
      newcomer.close();
      expect(r, `the newcomer got ${JSON.stringify(r)} while ${clients.length} sockets from ${address} were open`).toMatchObject({ ok: true });
    } finally {
      for (const c of clients) c.close();
    }
  }, 60_000);

  describe('item 7: Range headers', () => {
    let result: AttackResult;
    beforeAll(async () => {
      result = await badRanges.run(await context(2_000));
    }, 30_000);
    fixedOr(FIXED.rangeCorrect)('bytes=0-0, bytes=-500 and bytes=5-1 get correct answers', () => expectPass(result, 'Range headers get correct answers'));
    fixedOr(FIXED.rangeCloses)('requests with bytes=5-1, 500 at once, are never left open', () => expectPass(result, 'a bad Range never leaves'));
  });

  fixedOr(FIXED.slowlorisCapped)('item 7: one address cannot hold 1,100 half-sent or silent connections', async () => {
    const result = await slowloris.run(await context(3_000));
    expectPass(result, 'one address holds at most');
  }, 30_000);

  describe('item 8: a stranger\'s frames', () => {
    let result: AttackResult;
    beforeAll(async () => {
      result = await strangerFrames.run(await context(0));
    }, 30_000);
    fixedOr(FIXED.wrongSizeJoin)('a wrong-size first join does not lock the room out', () => expectPass(result, 'a stranger\'s wrong-size join'));
    fixedOr(FIXED.errorTextBounded)('error texts stay short whatever was sent', () => expectPass(result, 'error texts stay under'));
    fixedOr(FIXED.occupancyHidden)('a stranger does not learn how many are in a room', () => expectPass(result, 'a stranger does not learn'));
  });
});
