import { defineConfig } from '@playwright/test';
import { CHROMIUM_FLAGS, chromiumForTests } from './e2e/browser.ts';

// The app is served exactly as `npm start` serves it (build, then one server for app + signaling).
// A port of its own keeps the suite clear of an `npm start` the developer may have running.
const port = Number(process.env.E2E_PORT ?? 8797);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: 'e2e',
  // Only the browser specs: e2e/**/*.test.ts files are vitest's (e2e/abuse's fast subset).
  testMatch: '**/*.spec.ts',
  // Four to ten tabs per test on a two-core machine: one test at a time.
  workers: 1,
  fullyParallel: false,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  reporter: [['list']],
  forbidOnly: !!process.env.CI,
  retries: 0,
  use: {
    baseURL,
    launchOptions: { executablePath: chromiumForTests(), args: CHROMIUM_FLAGS },
    // Chromium gathers ICE candidates on loopback only with media permission.
    permissions: ['camera', 'microphone'],
    trace: 'retain-on-failure',
  },
  webServer: {
    command: 'npm start',
    env: { PORT: String(port), HOST: '127.0.0.1' },
    url: `${baseURL}/`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'pipe',
  },
});
