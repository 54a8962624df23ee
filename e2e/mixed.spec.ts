// Coworkers use different browsers: two Chromium tabs and two Firefox tabs share one room. This
// crosses WebRTC between two engines (each its own ICE, DTLS and SCTP stack), and IndexedDB, Web
// Locks and WebCrypto between two implementations, in the one scene the app is for.
import { expect, firefox, test, type Browser, type Page } from '@playwright/test';
import { canInstallWithApt } from './apt.ts';
import { DEBIAN_FIREFOX, FIREFOX_ENV, FIREFOX_MISSING_ENV, FIREFOX_PREFS, firefoxForTests } from './browser.ts';
import { actMaliciously, expectDecision, expectOneRoster, memberItem, myIndex, primaryTab, propose, proposal, vote } from './lunch.ts';
import { expectVerifiedPeers, roomUrl, uniqueRoom } from './tabs.ts';
import { webCryptoVerdicts } from './webcrypto-rule.ts';

const executable = firefoxForTests();

test('a mixed room (two Chromium, two Firefox tabs) plays the scene: same decision, the liar proven faulty', async ({ context, baseURL }) => {
  if (!executable) {
    const why = process.env[FIREFOX_MISSING_ENV] ?? `no Firefox at ${DEBIAN_FIREFOX} and ${FIREFOX_ENV} is not set`;
    // Where it could be installed (root with apt, as in CI) npm run test:e2e does so, and fails
    // if that fails: missing there means the suite was started some other way, not a reason to skip.
    if (!process.env[FIREFOX_MISSING_ENV] && canInstallWithApt()) {
      throw new Error(`Firefox is missing (${why}). Run the suite with npm run test:e2e, which installs it, or apt-get install -y firefox-esr.`);
    }
    console.log(`[e2e] mixed-browser test skipped: ${why}`);
    test.skip(true, `Firefox not available: ${why}`);
    return;
  }

  let browser: Browser | undefined;
  // Firefox takes seconds to start: let it, while the first Chromium tab opens.
  const launching = firefox.launch({ channel: 'moz-firefox', executablePath: executable, firefoxUserPrefs: FIREFOX_PREFS });
  // Its failure is reported where it is awaited, not as an unhandled rejection meanwhile.
  launching.catch(() => undefined);
  try {
    const url = roomUrl(uniqueRoom('mixed'));
    const open = async (where: typeof context): Promise<Page> => {
      const page = await where.newPage();
      await page.goto(url);
      return page;
    };
    const first = await open(context);
    browser = await launching;
    const foxes = await browser.newContext({ baseURL });
    // Firefox gathers host candidates only while the page holds a media stream. Tests grant that
    // here rather than the app asking every coworker for their microphone.
    await foxes.addInitScript(() => {
      void navigator.mediaDevices.getUserMedia({ audio: true }).then((stream) => {
        (globalThis as { heldForIce?: MediaStream }).heldForIce = stream;
      });
    });

    // Alternate the browsers so that neither engine's tabs all meet first.
    const tabs = [first, await open(foxes), await open(context), await open(foxes)];
    const engines = await Promise.all(tabs.map((t) => t.evaluate(() => (/Firefox\//.test(navigator.userAgent) ? 'firefox' : 'chromium'))));
    expect(engines).toEqual(['chromium', 'firefox', 'chromium', 'firefox']);

    // Every tab proves its key to the other three, across engines, and all fix one roster.
    for (const tab of tabs) await expectVerifiedPeers(tab, 3);
    await expectOneRoster(tabs);

    // The liar is a Firefox tab, so its two conflicting signatures are checked by Chromium and by
    // Firefox alike; the other Firefox tab stays honest. It is a backup: a lying primary would
    // add a view change (lunch.spec.ts covers those) and its seconds of timeout to this test.
    const primary = await primaryTab(tabs);
    const liar = tabs[3] === primary ? tabs[1]! : tabs[3]!;
    const honest = tabs.filter((t) => t !== liar);
    const liarIndex = await myIndex(liar);
    await actMaliciously(liar, 'equivocate');
    await propose(honest[0]!, 'Pho Corner', '12:05');
    for (const tab of honest) await vote(tab, 'Pho Corner', 'Join');
    const honestIndexes = await Promise.all(honest.map(myIndex));
    for (const tab of honest) {
      await expectDecision(tab, 'Pho Corner');
      await expect(proposal(tab, 'Pho Corner')).toContainText('3 join');
      await expect(memberItem(tab, liarIndex)).toContainText('proven faulty');
      for (const i of honestIndexes) await expect(memberItem(tab, i)).not.toContainText('proven faulty');
      // Each engine checks both signatures of the proof itself.
      await memberItem(tab, liarIndex).getByRole('button', { name: 'Show proof' }).click();
      const dialog = tab.getByRole('dialog');
      await expect(dialog).toContainText('Both signatures verify');
      await dialog.getByRole('button', { name: 'Close' }).click();
      await expect(dialog).toBeHidden();
    }

    // The app signs and verifies with noble in every engine, so all tabs apply one rule by
    // construction. WebCrypto's Ed25519 differs between engines at the edges; the strict wrapper
    // that would let the app use it must give the rule's verdict over both.
    await test.step('each engine’s WebCrypto, behind the strict wrapper, gives the rule’s verdict on every edge case', async () => {
      const bare: Set<string>[] = [];
      for (const tab of [tabs[0]!, tabs[1]!]) {
        const engine = engines[tabs.indexOf(tab)]!;
        const r = await webCryptoVerdicts(tab);
        console.log(
          `[e2e] ${engine} WebCrypto Ed25519 on ${r.total} edge cases: ${r.bareDisagrees.length} differ from the rule bare, ` +
            `${r.wrappedDisagrees.length} behind the wrapper`,
        );
        expect(r.engineAccepted, `${engine}: its WebCrypto accepted no signature, so it never really ran`).toBeGreaterThanOrEqual(4);
        expect(r.unasked, `${engine}: the wrapper asked what the page never answered`).toBe(0);
        expect(r.wrapperTookEngine, `${engine}: the wrapper never used the engine's answers`).toBeGreaterThanOrEqual(4);
        expect(r.wrappedDisagrees, `${engine}: verdicts that differ from the rule behind the wrapper`).toEqual([]);
        bare.push(new Set(r.bareDisagrees));
      }
      const [a, b] = bare as [Set<string>, Set<string>];
      const split = [...a].filter((x) => !b.has(x)).length + [...b].filter((x) => !a.has(x)).length;
      console.log(`[e2e] bare, the two engines' WebCrypto give different verdicts on ${split} edge cases`);
    });
  } finally {
    // A launch that failed, or one left behind by a failure before it was awaited.
    browser ??= await launching.catch(() => undefined);
    await browser?.close();
  }
});
