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
    // One process per worker for all its files, as in test/reliability/vitest.config.ts: PGlite's
    // WebAssembly is compiled once per worker instead of once per file (seconds each on a 2-core
    // machine, for 50-odd files). Tests therefore share no module state they change: no vi.mock
    // (inject a dependency instead), and an environment variable set in a test is restored.
    isolate: false,
    // Liftoff, V8's baseline WebAssembly compiler, alone: the workers and the CLI processes tests
    // start (test/helpers/cli.ts) spend less CPU compiling PGlite than optimised code saves them.
    execArgv: ['--liftoff-only'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
