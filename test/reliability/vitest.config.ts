import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `npm run test:reliability`: only the reliability tests (the bad-input corpus and fault
 * injection), with the usual global setup (build, database templates, PostgreSQL) plus the
 * summary that prints one line computed from every case's and fault's outcome.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts', 'test/reliability/summary.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // One process per worker for all its files: PGlite's WebAssembly is compiled once per
    // worker instead of once per file (about 6 s each on a 2-core machine). The files share no
    // module state (each case opens its own database).
    isolate: false,
    // Liftoff, V8's baseline WebAssembly compiler, alone: the workers and the CLI processes tests
    // start (test/helpers/cli.ts) spend less CPU compiling PGlite than optimised code saves them.
    execArgv: ['--liftoff-only'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
