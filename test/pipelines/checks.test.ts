import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { secCompanyfacts } from '../../pipelines/sec-companyfacts/pipeline.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/** Data checks after transforms: failing rows kept in etl.check_failures, and row-count guards between runs. */

const custom = customSeries as unknown as AnyPipeline;
const companyfacts = secCompanyfacts as unknown as AnyPipeline;
const GOOGL = join(PACKAGE_ROOT, 'data', 'sample', 'sec', 'companyfacts', 'CIK0001652044.json');

describeEachDatabase('data checks', (kind) => {
  it('keeps every failing row of a warning check for inspection', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    // One series given in two units: the unit check warns and keeps the row.
    writeFile(inbox, 'units.csv', 'series,subject,date,value,unit\nopenai_revenue_annualized,OpenAI,2024-12-31,5500000000,USD\nopenai_revenue_annualized,OpenAI,2025-06-09,10,USD_bn\n');
    const run = await runOnce(db.handle, custom, inboxConfig(custom, inbox));
    expect(run.status).toBe('succeeded');
    const failures = await rows(db.handle, `select check_name, row_no, row_data from etl.check_failures where run_id = $1`, [run.runId]);
    expect(failures).toEqual([
      { check_name: 'custom_series_one_unit_per_series', row_no: 1, row_data: { series: 'openai_revenue_annualized', subject: 'OpenAI', units: ['USD', 'USD_bn'] } },
    ]);
  });

  it('flags a table that shrank by more than its limit since the last run (warn for custom series)', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const sample = readFileSync(join(PACKAGE_ROOT, 'data', 'sample', 'custom-series', 'ai_series.csv'), 'utf8').trim().split('\n');
    writeFile(inbox, 'ai.csv', sample.join('\n') + '\n');
    await runOnce(db.handle, custom, inboxConfig(custom, inbox));
    // The same file, truncated to its first 5 rows, replaces it.
    writeFile(inbox, 'ai.csv', sample.slice(0, 6).join('\n') + '\n');
    const run = await runOnce(db.handle, custom, inboxConfig(custom, inbox));
    expect(run.status).toBe('succeeded');
    const [check] = await rows(db.handle, `select status, severity, failing_rows, sample from etl.check_results where run_id = $1 and check_name = 'row_count_drop:core.custom_series'`, [run.runId]);
    expect(check).toMatchObject({ status: 'failed', severity: 'warn', failing_rows: 1 });
    expect(check!.sample).toEqual([expect.objectContaining({ table: 'core.custom_series', previous_rows: 42, rows: 5 })]);
  });

  it('fails the run and keeps nothing when an error guard trips (a companyfacts file that lost most of its facts)', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copyFileSync(GOOGL, join(inbox, 'CIK0001652044.json'));
    await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox));
    const before = await rows(db.handle, 'select count(*)::int as n from core.company_quarterly');
    const doc = JSON.parse(readFileSync(GOOGL, 'utf8')) as { facts: Record<string, Record<string, unknown>> };
    const usGaap = doc.facts['us-gaap']!;
    for (const tag of Object.keys(usGaap)) if (tag !== 'PaymentsToAcquirePropertyPlantAndEquipment') delete usGaap[tag];
    writeFile(inbox, 'CIK0001652044.json', JSON.stringify(doc));
    const run = await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox));
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/data check failed, nothing from this run was kept: row_count_drop:core\.company_quarterly/);
    expect(await rows(db.handle, 'select count(*)::int as n from core.company_quarterly')).toEqual(before);
    const kept = await rows(db.handle, `select check_name, row_data from etl.check_failures where run_id = $1`, [run.runId]);
    expect(kept).toEqual([{ check_name: 'row_count_drop:core.company_quarterly', row_data: expect.objectContaining({ table: 'core.company_quarterly' }) as unknown }]);
  });
});
