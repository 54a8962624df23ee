import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  test: {
    include: ['src/**/*.test.ts', 'signaling-server/**/*.test.ts', 'e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
    // Vitest's default (cores - 1) runs one file at a time on two cores. The seeded batch spreads
    // its schedules over worker threads of its own for six minutes, and the other files, mostly
    // one thread each, would wait for it while a core idles: so two files at a time, at least.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
