import { createHash } from 'node:crypto';
import type { PipelineRuntime, SqlConnection } from '../../src/sdk.js';
import type { IndexOptions } from './options.js';

/**
 * Runs first in every run's transaction (the options were validated when the config loaded) and writes
 * the settings the SQL transforms compute with to core.index_settings,
 * core.index_issuer_overrides and core.index_sector_overrides. When they differ from the
 * last run's, every date is recomputed (fullRefresh).
 */
export async function syncIndexSettings(conn: SqlConnection, runtime: PipelineRuntime<IndexOptions>): Promise<{ fullRefresh: boolean }> {
  const o = runtime.options;
  const settings = {
    share_class_caps: o.share_class_caps,
    top_n: o.top_n,
    tech_sectors: o.tech_sectors,
    base_dates: [...new Set(o.base_dates)].sort(),
    rolling_window_days: o.rolling_window_days,
    issuer_ids: Object.entries(o.issuer_ids).sort(([a], [b]) => a.localeCompare(b)),
    sector_map: Object.entries(o.sector_map).sort(([a], [b]) => a.localeCompare(b)),
  };
  const sha = createHash('sha256').update(JSON.stringify(settings)).digest('hex');
  const { rows } = await conn.query<{ config_sha256: string }>('select config_sha256 from core.index_settings');
  if (rows[0]?.config_sha256 === sha) return { fullRefresh: false };

  await conn.query(
    `insert into core.index_settings (settings_id, share_class_caps, top_n, tech_sectors, base_dates, rolling_window_days, config_sha256, updated_at)
     values (true, $1, $2::integer[], $3::text[], $4::date[], $5, $6, now())
     on conflict (settings_id) do update set share_class_caps = excluded.share_class_caps, top_n = excluded.top_n,
       tech_sectors = excluded.tech_sectors, base_dates = excluded.base_dates, rolling_window_days = excluded.rolling_window_days,
       config_sha256 = excluded.config_sha256, updated_at = excluded.updated_at`,
    [settings.share_class_caps, settings.top_n, settings.tech_sectors, settings.base_dates, settings.rolling_window_days, sha],
  );
  await conn.query('delete from core.index_issuer_overrides');
  if (settings.issuer_ids.length > 0) {
    await conn.query(
      `insert into core.index_issuer_overrides (ticker_key, issuer_id)
       select * from unnest($1::text[], $2::text[])`,
      [settings.issuer_ids.map(([t]) => t), settings.issuer_ids.map(([, id]) => id)],
    );
  }
  await conn.query('delete from core.index_sector_overrides');
  if (settings.sector_map.length > 0) {
    await conn.query(
      `insert into core.index_sector_overrides (label_key, label, gics_sector)
       select lower(label), label, sector from unnest($1::text[], $2::text[]) as m(label, sector)
       on conflict (label_key) do update set label = excluded.label, gics_sector = excluded.gics_sector`,
      [settings.sector_map.map(([l]) => l), settings.sector_map.map(([, s]) => s)],
    );
  }
  // The first run has nothing derived yet; later runs recompute what the new settings change.
  return { fullRefresh: rows.length > 0 };
}
