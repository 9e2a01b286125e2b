import { expect, it } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/** FRED GDP (billions of dollars, SAAR), 2023Q3 … 2026Q2, as a custom series: real values with a known history. */
const GDP: [string, number][] = [
  ['2023-07-01', 28064.032], ['2023-10-01', 28464.306], ['2024-01-01', 28793.191], ['2024-04-01', 29232.964],
  ['2024-07-01', 29568.256], ['2024-10-01', 29929.552], ['2025-01-01', 30171.979], ['2025-04-01', 30630.174],
  ['2025-07-01', 31180.493], ['2025-10-01', 31462.523], ['2026-01-01', 31906.274], ['2026-04-01', 32563.03],
];

describeEachDatabase('analytics.bubble_dashboard', (kind) => {
  it('gives each indicator its latest value, change, percentile and z-score against its own history', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const lines = ['series,subject,date,value,unit,source', ...GDP.map(([d, v]) => `gdp_saar_bn,US,${d},${v},USD_bn,FRED GDP`)];
    // A series with too little history gets no statistics.
    lines.push('vc_share_to_ai,global (WIPO),2024-09-30,0.32,share,WIPO', 'vc_share_to_ai,global (WIPO),2025-09-30,0.53,share,WIPO');
    writeFile(inbox, 'gdp.csv', lines.join('\n') + '\n');
    await runOnce(db.handle, customSeries as unknown as AnyPipeline, inboxConfig(customSeries as unknown as AnyPipeline, inbox));

    const values = GDP.map(([, v]) => v);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
    const [gdp] = await rows(db.handle, `select * from analytics.bubble_dashboard where indicator = 'gdp_saar_bn'`);
    expect(gdp).toMatchObject({
      family: 'custom',
      subject: 'US',
      unit: 'USD_bn',
      latest_period: '2026-04-01',
      latest_value: 32563.03,
      previous_period: '2026-01-01',
      previous_value: 31906.274,
      percentile: 1,
      history_points: 12,
      history_start: '2023-07-01',
      alert_state: null,
    });
    expect(gdp!.change as number).toBeCloseTo(656.756, 6);
    expect(gdp!.change_pct as number).toBeCloseTo(32563.03 / 31906.274 - 1, 9);
    expect(gdp!.long_run_mean as number).toBeCloseTo(mean, 6);
    expect(gdp!.z_score as number).toBeCloseTo((32563.03 - mean) / sd, 6);

    const [vc] = await rows(db.handle, `select latest_value, change, percentile, z_score, long_run_mean, history_points from analytics.bubble_dashboard where indicator = 'vc_share_to_ai'`);
    expect(vc).toEqual({ latest_value: 0.53, change: expect.closeTo(0.21, 9) as unknown, percentile: null, z_score: null, long_run_mean: null, history_points: 2 });
  });
});
