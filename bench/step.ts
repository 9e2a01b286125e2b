import { readFileSync, writeFileSync } from 'node:fs';
import { RssSampler } from './rss.js';
import { runStep, type StepSpec } from './steps.js';

/**
 * One measured step in a process of its own: `node dist/bench/step.js <spec.json> <result.json>`.
 * Started by bench/run.ts; writes { ok, result | error } to the result file.
 */
const [specFile, resultFile] = process.argv.slice(2);
if (!specFile || !resultFile) {
  process.stderr.write('usage: node dist/bench/step.js <spec.json> <result.json>\n');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specFile, 'utf8')) as StepSpec;
const rss = RssSampler.start(50);
try {
  const result = await runStep(spec, rss);
  writeFileSync(resultFile, JSON.stringify({ ok: true, result }));
  await rss.stop();
  process.exit(0);
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  writeFileSync(resultFile, JSON.stringify({ ok: false, error: e.message, stack: e.stack }));
  process.stderr.write(`[bench] step ${spec.step} failed: ${e.stack ?? e.message}\n`);
  await rss.stop();
  process.exit(1);
}
