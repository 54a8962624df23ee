// `npm run test:e2e`: find a Chromium (installing Debian's when we are root and have none), then
// run the Playwright suite inside a fresh network namespace that has only loopback, so no test
// traffic can leave this machine. Where no namespace can be made, say so and run as is.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { canInstallWithApt, installWithApt } from './apt.ts';
import { CHROMIUM_ENV, DEBIAN_CHROMIUM } from './browser.ts';
import { loopbackNamespaceUnavailable, runInLoopbackNamespace } from './loopback.ts';

function log(line: string): void {
  console.log(`[e2e] ${line}`);
}

function run(cmd: string, args: string[], options: SpawnSyncOptions = {}): number {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  return r.error ? 127 : (r.status ?? 1);
}


function findChromium(): { path: string | undefined; how: string } {
  const fromEnv = process.env[CHROMIUM_ENV];
  if (fromEnv) {
    if (!existsSync(fromEnv)) fail(`${CHROMIUM_ENV}=${fromEnv}, but there is no such file. Point it at a Chromium or Chrome executable.`);
    return { path: fromEnv, how: `from ${CHROMIUM_ENV}` };
  }
  if (existsSync(DEBIAN_CHROMIUM)) return { path: DEBIAN_CHROMIUM, how: "Debian's package" };
  const own = safeExecutablePath();
  if (own && existsSync(own)) return { path: undefined, how: `Playwright's own browser (${own})` };
  if (canInstallWithApt()) {
    log('no Chromium found');
    if (!installWithApt(['chromium'], log) || !existsSync(DEBIAN_CHROMIUM)) {
      fail('installing Chromium with apt-get failed (see above).');
    }
    return { path: DEBIAN_CHROMIUM, how: "Debian's package, just installed" };
  }
  fail(
    `no Chromium found. Install one, then run npm test again:\n` +
      `  - on Debian or Ubuntu: sudo apt-get install -y chromium\n` +
      `  - or Playwright's own browser: npx playwright install chromium\n` +
      `  - or set ${CHROMIUM_ENV}=/path/to/chromium`,
  );
}

function safeExecutablePath(): string | undefined {
  try {
    return chromium.executablePath();
  } catch {
    return undefined;
  }
}

function fail(message: string): never {
  console.error(`[e2e] ${message}`);
  process.exit(1);
}

const chosen = findChromium();
const env = { ...process.env };
if (chosen.path) env[CHROMIUM_ENV] = chosen.path;
log(`browser: ${chosen.path ?? 'Playwright default'} (${chosen.how})`);

const playwright = ['npx', 'playwright', 'test', ...process.argv.slice(2)];
const why = loopbackNamespaceUnavailable();
let status: number;
if (why === null) {
  log('running inside a new network namespace that has only loopback');
  const r = runInLoopbackNamespace(playwright, { env });
  status = r.error ? 127 : (r.status ?? 1);
} else {
  log(`running without a private network namespace: ${why}`);
  status = run(playwright[0]!, playwright.slice(1), { env });
}
process.exit(status);
