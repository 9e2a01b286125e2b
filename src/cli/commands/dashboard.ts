import { ConfigError } from '../../errors.js';
import { colour, formatTable, formatValue, sparkline } from '../format.js';
import { print, withDatabase, type CliContext } from '../context.js';

/**
 * `bubblewatch dashboard`: analytics.bubble_dashboard as a table — for each indicator and
 * subject the latest value, its change, and how stretched it is against its own history.
 */

export interface DashboardOptions {
  readonly family?: string;
  readonly indicator?: string;
  readonly subject?: string;
  readonly json?: boolean;
}

interface DashboardRow {
  family: string;
  indicator: string;
  subject: string;
  unit: string;
  latest_period: string;
  latest_value: number;
  previous_value: number | null;
  change: number | null;
  percentile: number | null;
  z_score: number | null;
  long_run_mean: number | null;
  history_points: number;
  alert_state: string | null;
}

/** A value in its unit, short enough for a table: $bn for USD, % for ratios and shares. */
export function formatInUnit(value: number | null, unit: string): string {
  if (value === null || value === undefined) return '';
  switch (unit) {
    case 'USD': {
      const sign = value < 0 ? '−' : '';
      const a = Math.abs(value);
      if (a >= 1e12) return `${sign}$${(a / 1e12).toFixed(2)}tn`;
      if (a >= 1e8) return `${sign}$${(a / 1e9).toFixed(1)}bn`;
      if (a >= 1e5) return `${sign}$${(a / 1e6).toFixed(1)}m`;
      return `${sign}$${formatValue(a)}`;
    }
    case 'ratio':
    case 'share':
      return `${(value * 100).toFixed(1)}%`;
    case 'pct':
      return `${value.toFixed(1)}%`;
    case 'pp':
      return `${value.toFixed(1)} pp`;
    case 'multiple':
      return `${value.toFixed(2)}×`;
    case 'count':
      return Number.isInteger(value) ? formatValue(value) : value.toFixed(1);
    default:
      return formatValue(Math.abs(value) >= 100 ? Math.round(value * 10) / 10 : Math.round(value * 1000) / 1000) + (unit && unit !== 'count' ? ` ${unit}` : '');
  }
}

function formatChange(row: DashboardRow): string {
  if (row.change === null) return '';
  const sign = row.change > 0 ? '↑ +' : row.change < 0 ? '↓ −' : '→ ';
  // A change of a ratio reads best in percentage points.
  const fraction = row.unit === 'ratio' || row.unit === 'share';
  return sign + (fraction ? `${(Math.abs(row.change) * 100).toFixed(1)} pp` : formatInUnit(Math.abs(row.change), row.unit));
}

export async function dashboardCommand(ctx: CliContext, options: DashboardOptions): Promise<number> {
  return withDatabase(
    ctx,
    'bubblewatch dashboard',
    async (handle) => {
      const where: string[] = [];
      const params: string[] = [];
      for (const [column, value] of [
        ['family', options.family],
        ['indicator', options.indicator],
        ['subject', options.subject],
      ] as const) {
        if (value !== undefined) {
          params.push(value);
          where.push(`${column} = $${params.length}`);
        }
      }
      const { rows } = await handle.withConnection((conn) =>
        conn.query<DashboardRow>(
          `select family, indicator, subject, unit, latest_period, latest_value, previous_value, change,
                  percentile, z_score, long_run_mean, history_points, alert_state
           from analytics.bubble_dashboard ${where.length > 0 ? `where ${where.join(' and ')}` : ''}
           order by family, indicator, subject`,
          params,
        ),
      );
      if (options.json) {
        print(ctx, JSON.stringify(rows, null, 2));
        return 0;
      }
      // The last 12 values of each indicator and subject, for a sparkline.
      const { rows: recent } = await handle.withConnection((conn) =>
        conn.query<{ indicator: string; subject: string; values: number[] | string }>(
          `select indicator, subject, json_agg(value order by period_end) as values
           from (select indicator, subject, period_end, value,
                        row_number() over (partition by indicator, subject order by period_end desc) as rn
                 from analytics.indicator_values) v
           where rn <= 12 group by indicator, subject`,
        ),
      );
      const trends = new Map(recent.map((r) => [`${r.indicator}\u0000${r.subject}`, (typeof r.values === 'string' ? JSON.parse(r.values) : r.values) as number[]]));
      const tty = (ctx.out as NodeJS.WriteStream).isTTY === true;
      const alertStyle = (r: DashboardRow) => {
        if (!tty || !r.alert_state) return undefined;
        if (r.alert_state.startsWith('firing (critical)')) return colour.red;
        if (r.alert_state.startsWith('firing')) return colour.yellow;
        if (r.alert_state.startsWith('pending')) return colour.cyan;
        return colour.green;
      };
      if (rows.length === 0) {
        if (where.length > 0) throw new ConfigError('no dashboard rows match; try without --family/--indicator/--subject');
        print(ctx, 'the dashboard is empty; load data first: npx bubblewatch run --all');
        return 0;
      }
      print(
        ctx,
        formatTable(rows, [
          { header: 'family', value: (r) => r.family },
          { header: 'indicator', value: (r) => r.indicator, max: 34 },
          { header: 'subject', value: (r) => r.subject, max: 28 },
          { header: 'latest', value: (r) => r.latest_period },
          { header: 'value', value: (r) => formatInUnit(r.latest_value, r.unit), align: 'right' },
          { header: 'change', value: (r) => formatChange(r), align: 'right' },
          { header: 'trend', value: (r) => sparkline(trends.get(`${r.indicator}\u0000${r.subject}`) ?? []) },
          { header: 'pctile', value: (r) => (r.percentile === null ? '' : `${Math.round(r.percentile * 100)}`), align: 'right' },
          { header: 'z', value: (r) => (r.z_score === null ? '' : r.z_score.toFixed(1)), align: 'right' },
          { header: 'mean', value: (r) => formatInUnit(r.long_run_mean, r.unit), align: 'right' },
          { header: 'n', value: (r) => r.history_points, align: 'right' },
          { header: 'alert', value: (r) => r.alert_state ?? '', style: alertStyle },
        ]),
      );
      print(ctx, '\npctile: share of the indicator\'s own history at or below the latest value; z: standard deviations from its mean; trend: the last 12 values.');
      return 0;
    },
    { migrateFirst: true },
  );
}
