import { ConfigError } from '../../errors.js';
import { writeReport } from '../../report/report.js';
import { print, withApp, type CliContext } from '../context.js';

/**
 * `bubblewatch report --out report.html`: the whole argument as one self-contained HTML
 * page — charts as inline SVG, the dashboard, alerts and data freshness — to open in any
 * browser or attach to an email. Nothing in it is fetched from the network.
 */

export interface ReportCommandOptions {
  readonly out: string;
  readonly json?: boolean;
}

export async function reportCommand(ctx: CliContext, options: ReportCommandOptions): Promise<number> {
  if (!options.out || options.out.trim() === '') throw new ConfigError('--out: expected a file name for the report, e.g. --out report.html');
  return withApp(ctx, 'bubblewatch report', async (app) => {
    const written = await writeReport(app.handle, options.out, { status: await app.status() });
    const empty = written.charts.filter((c) => c.empty);
    ctx.logger.info({ path: written.path, bytes: written.bytes, charts: written.charts.length, empty_charts: empty.length }, `report written to ${written.path}`);
    if (options.json) {
      print(ctx, JSON.stringify(written, null, 2));
      return 0;
    }
    print(ctx, `report written to ${written.path} (${Math.round(written.bytes / 1024)} KiB, ${written.charts.length} charts)`);
    if (empty.length > 0) print(ctx, `no data yet for: ${empty.map((c) => c.id).join(', ')}`);
    return 0;
  });
}
