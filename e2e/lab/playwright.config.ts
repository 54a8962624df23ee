import { defineConfig } from '@playwright/test';

// The lab's scenarios; run.ts builds the network and starts the servers before this runs.
export default defineConfig({
  testDir: '.',
  // LAB_MATCH narrows the run to one file while working on the lab.
  testMatch: process.env.LAB_MATCH ?? '*.lab.ts',
  workers: 1,
  fullyParallel: false,
  timeout: 240_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  forbidOnly: !!process.env.CI,
  retries: 0,
  outputDir: '../../test-results/lab',
  use: { trace: 'off' },
});
