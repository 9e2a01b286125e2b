#!/usr/bin/env node
// Entry point of the `bubblewatch` command. The TypeScript sources are compiled to dist/
// by `npm ci` (the prepare script) and by `npm start`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('bubblewatch: not built yet; run `npm ci` (or `npm run build`) in the bubblewatch folder first\n');
  process.exit(2);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
// Let stdout drain before exiting; every database handle is closed by now.
process.exitCode = code;
