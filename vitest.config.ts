import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The bad-input corpus and the fault injection run on their own (npm run test:reliability,
    // a separate CI step, with a summary line): not a second time here.
    exclude: ['test/reliability/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    // Each PGlite instance is a WebAssembly PostgreSQL of ~0.5-1 GB: two workers on two cores.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
