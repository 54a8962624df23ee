// Which Chromium the end-to-end suite drives, and how. Shared by playwright.config.ts, run.ts, the
// lab, the bench and the abuse test.
import { existsSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { canInstallWithApt, installWithApt } from './apt.ts';

/** Names a Chromium to use instead of Debian's (any Chromium or Chrome executable). */
export const CHROMIUM_ENV = 'BYZANTINE_LUNCH_CHROMIUM';
/**
 * Debian's chromium-headless-shell package: Chromium's engine (Blink, V8, WebRTC) without the
 * desktop browser around it, as Playwright's own headless Chromium is. On two cores the lunch and
 * rounds specs took 185 s on it against 213 s on the full browser (2026-12-01). The real binary,
 * not the /usr/bin wrapper script, so that Playwright's signals reach the browser itself.
 */
export const DEBIAN_HEADLESS_SHELL = '/usr/lib/chromium/chromium-headless-shell';
/** Debian's full Chromium: used when the headless shell is not installed and cannot be. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** Flags for every Chromium the tests launch. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // This machine's network is closed: background fetches only produce refused connections.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Tabs reach each other over loopback only; Chromium hides loopback candidates without these.
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];

/** Debian's Chromium, the headless shell first; undefined when neither package is installed. */
function debianChromium(): string | undefined {
  return [DEBIAN_HEADLESS_SHELL, DEBIAN_CHROMIUM].find((path) => existsSync(path));
}

/**
 * The Chromium to launch: the environment variable's if set, else Debian's (see debianChromium),
 * else undefined (Playwright's own downloaded browser).
 */
export function chromiumForTests(): string | undefined {
  return process.env[CHROMIUM_ENV] || debianChromium();
}

/**
 * The Chromium a test runner should drive, and how it was found: the environment variable's,
 * else Debian's headless shell, else Debian's full Chromium, else Playwright's own browser, else
 * (as root, with apt) the headless shell installed now. With another Chromium at hand it installs
 * nothing, so that a machine without the package does not run apt on every test run.
 * `fail` ends the run with what to install. `path` undefined means Playwright's default.
 */
export function findChromium(log: (line: string) => void, fail: (message: string) => never, command: string): { path: string | undefined; how: string } {
  const fromEnv = process.env[CHROMIUM_ENV];
  if (fromEnv) {
    if (!existsSync(fromEnv)) fail(`${CHROMIUM_ENV}=${fromEnv}, but there is no such file. Point it at a Chromium or Chrome executable.`);
    return { path: fromEnv, how: `from ${CHROMIUM_ENV}` };
  }
  if (existsSync(DEBIAN_HEADLESS_SHELL)) return { path: DEBIAN_HEADLESS_SHELL, how: "Debian's chromium-headless-shell" };
  if (existsSync(DEBIAN_CHROMIUM)) {
    return { path: DEBIAN_CHROMIUM, how: "Debian's full chromium; apt-get install chromium-headless-shell runs the tabs faster" };
  }
  const own = playwrightsOwn();
  if (own) return { path: undefined, how: `Playwright's own browser (${own})` };
  if (canInstallWithApt()) {
    log('no Chromium found');
    if (installWithApt(['chromium-headless-shell'], log) && existsSync(DEBIAN_HEADLESS_SHELL)) {
      return { path: DEBIAN_HEADLESS_SHELL, how: "Debian's chromium-headless-shell, just installed" };
    }
    fail('installing chromium-headless-shell with apt-get failed (see above).');
  }
  fail(
    `no Chromium found. Install one, then run ${command} again:\n` +
      `  - on Debian or Ubuntu: sudo apt-get install -y chromium-headless-shell (${command} does this when run as root)\n` +
      `  - or Playwright's own browser: npx playwright install chromium\n` +
      `  - or set ${CHROMIUM_ENV}=/path/to/chromium`,
  );
}

function playwrightsOwn(): string | undefined {
  try {
    const path = chromium.executablePath();
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

// ---- Firefox, for the mixed room (e2e/mixed.spec.ts) ----
//
// Playwright drives Firefox over WebDriver BiDi (channel 'moz-firefox'), not with its own patched
// build, so a distribution's Firefox works. That is why @playwright/test is pinned in
// package.json: 1.65 asks Firefox ESR 153 for a BiDi command it does not know
// (`emulation.setMediaFeaturesOverride`) on every new page.

/** Names a Firefox to use instead of Debian's, for machines where it lives elsewhere. */
export const FIREFOX_ENV = 'BYZANTINE_LUNCH_FIREFOX';
/** Where Debian's firefox-esr package puts it: the one run.ts and .ci/run install. */
export const DEBIAN_FIREFOX = '/usr/bin/firefox-esr';
/** Set by run.ts when it found no Firefox and could not install one: why the mixed test skips. */
export const FIREFOX_MISSING_ENV = 'BYZANTINE_LUNCH_FIREFOX_MISSING';

/**
 * Preferences without which Firefox offers no ICE candidate in a namespace that has only
 * loopback: it leaves loopback out, gathers on the default route's address only (there is none)
 * and hides host addresses behind mDNS names nobody here resolves. The media ones let the test's
 * init script hold a microphone stream without a prompt or a device; Firefox gathers host
 * candidates only while the page holds one.
 */
export const FIREFOX_PREFS: Record<string, boolean> = {
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.default_address_only': false,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.navigator.permission.disabled': true,
  'media.navigator.streams.fake': true,
  'media.navigator.permission.fake': true,
};

/** The Firefox to launch: the environment variable's if set, else Debian's ESR, else undefined. */
export function firefoxForTests(): string | undefined {
  const fromEnv = process.env[FIREFOX_ENV];
  if (fromEnv) return fromEnv;
  return existsSync(DEBIAN_FIREFOX) ? DEBIAN_FIREFOX : undefined;
}
