import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { evaluateAlerts, type AlertEnvironment } from '../../src/alerts/engine.js';
import { alertsSchema } from '../../src/alerts/rules.js';
import { failingFileCounts } from '../../src/engine/freshness.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/**
 * A partial pipeline shows in alerts too (issue 14, item 8): the built-in indicator
 * source_files_failing counts each pipeline's files that fail alone, and a rule on it fires
 * while a bad file sits in the inbox and resolves once it is fixed or gone.
 */

const pipeline = customSeries as unknown as AnyPipeline;
const RULES = alertsSchema.parse({
  rules: [
    {
      id: 'source_files_failing',
      indicator: 'source_files_failing',
      op: '>',
      threshold: 0,
      severity: 'warning',
      message: '{subject}: {value} source file(s) fail and are held back; see bubblewatch status',
    },
  ],
});

function environment(handle: AlertEnvironment['handle'], day: string): AlertEnvironment {
  return { handle, logger: memoryLogger().logger, config: RULES, failingFiles: () => failingFileCounts(handle, [pipeline]), now: () => new Date(`${day}T12:00:00Z`) };
}

describeEachDatabase('the source_files_failing indicator', (kind) => {
  it('fires while a file fails alone, and resolves when the file is gone', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(inbox, 'good.csv', 'series,subject,date,value\nopenai_revenue_annualized,OpenAI,2025-06-09,10000000000\n');
    writeFile(inbox, 'bad.csv', 'series;subject;date;value\n');
    const run = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(run.status).toBe('partial');

    await evaluateAlerts(environment(db.handle, '2026-12-01'), { runId: run.runId, isBackfill: false });
    expect(await rows(db.handle, `select rule_id, subject, state, value::text as value from etl.alert_state`)).toEqual([
      { rule_id: 'source_files_failing', subject: 'custom-series', state: 'firing', value: '1' },
    ]);

    rmSync(join(inbox, 'bad.csv'));
    const next = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(next.status).toBe('succeeded');
    await evaluateAlerts(environment(db.handle, '2026-12-02'), { runId: next.runId, isBackfill: false });
    expect(await rows(db.handle, `select state from etl.alert_state`)).toEqual([{ state: 'inactive' }]);
  });
});
