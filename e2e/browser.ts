// Which Chromium the end-to-end suite drives, and how. Shared by playwright.config.ts and run.ts.
import { existsSync } from 'node:fs';

export const CHROMIUM_ENV = 'BYZANTINE_LUNCH_CHROMIUM';
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

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

/**
 * The Chromium to launch: the environment variable's if set, else Debian's, else undefined
 * (Playwright's own downloaded browser).
 */
export function chromiumForTests(): string | undefined {
  const fromEnv = process.env[CHROMIUM_ENV];
  if (fromEnv) return fromEnv;
  return existsSync(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : undefined;
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
