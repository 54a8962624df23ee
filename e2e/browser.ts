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
