// `npm run test:e2e`: find a Chromium and a Firefox (installing Debian's when we are root and have
// none; the mixed-browser test skips, saying why, where Firefox cannot be had), then
// run the Playwright suite inside a fresh network namespace that has only loopback, so no test
// traffic can leave this machine. Where no namespace can be made, say so and run as is.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { canInstallWithApt, installWithApt } from './apt.ts';
import { CHROMIUM_ENV, DEBIAN_FIREFOX, FIREFOX_ENV, FIREFOX_MISSING_ENV, findChromium } from './browser.ts';
import { loopbackNamespaceUnavailable, runInLoopbackNamespace } from './loopback.ts';

function log(line: string): void {
  console.log(`[e2e] ${line}`);
}

function run(cmd: string, args: string[], options: SpawnSyncOptions = {}): number {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  return r.error ? 127 : (r.status ?? 1);
}


/**
 * Firefox only serves e2e/mixed.spec.ts, so unlike Chromium its absence is not fatal: without
 * root (or apt) that one test skips with `missing` as its reason. Root can install it, so there
 * a failed install stops the run: CI must not pass without the mixed room.
 */
function findFirefox(): { path: string; how: string } | { missing: string } {
  const fromEnv = process.env[FIREFOX_ENV];
  if (fromEnv) {
    if (!existsSync(fromEnv)) fail(`${FIREFOX_ENV}=${fromEnv}, but there is no such file. Point it at a Firefox executable (ESR 153 or later).`);
    return { path: fromEnv, how: `from ${FIREFOX_ENV}` };
  }
  if (existsSync(DEBIAN_FIREFOX)) return { path: DEBIAN_FIREFOX, how: "Debian's package" };
  if (canInstallWithApt()) {
    log('no Firefox found');
    if (!installWithApt(['firefox-esr'], log) || !existsSync(DEBIAN_FIREFOX)) {
      fail('installing Firefox ESR with apt-get failed (see above).');
    }
    return { path: DEBIAN_FIREFOX, how: "Debian's package, just installed" };
  }
  const who = process.getuid?.() === 0 ? 'no apt-get here' : 'not root, so it cannot be installed here';
  return { missing: `no Firefox at ${DEBIAN_FIREFOX} and ${FIREFOX_ENV} is not set (${who}; sudo apt-get install -y firefox-esr)` };
}

function fail(message: string): never {
  console.error(`[e2e] ${message}`);
  process.exit(1);
}

const chosen = findChromium(log, fail, 'npm test');
const env = { ...process.env };
if (chosen.path) env[CHROMIUM_ENV] = chosen.path;
log(`browser: ${chosen.path ?? 'Playwright default'} (${chosen.how})`);
const fox = findFirefox();
if ('path' in fox) {
  env[FIREFOX_ENV] = fox.path;
  log(`second browser, for the mixed room: ${fox.path} (${fox.how})`);
} else {
  env[FIREFOX_MISSING_ENV] = fox.missing;
  log(`the mixed-browser test (e2e/mixed.spec.ts) will be SKIPPED: ${fox.missing}`);
}

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
