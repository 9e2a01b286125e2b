import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import { recoverStaleRuns } from '../../src/engine/run-ledger.js';
import { useDatabase } from '../helpers/databases.js';
import { rows } from '../helpers/pipelines.js';

/**
 * On the embedded database the folder lock makes the opener the only process, so a run left
 * "running" is from a process that died — also when that process had our PID and host name
 * (PID 1 of a container restarted after an unclean stop). Runs this process started are not.
 */
it('marks interrupted a run left running by an earlier process with our PID and host, and leaves our own running run alone', async () => {
  const db = await useDatabase('pglite');
  await db.handle.withConnection((conn) =>
    conn.query(
      `insert into etl.runs (pipeline, trigger, status, started_at, heartbeat_at, host, pid) values
         ('custom-series', 'schedule', 'running', now() - interval '1 hour', now() - interval '59 minutes', $1, $2),
         ('fred', 'manual', 'running', now(), now(), $1, $2)`,
      [hostname(), process.pid],
    ),
  );
  const recovered = await recoverStaleRuns(db.handle, 60_000);
  expect(recovered.map((r) => r.pipeline)).toEqual(['custom-series']);
  expect(await rows(db.handle, 'select pipeline, status from etl.runs order by run_id')).toEqual([
    { pipeline: 'custom-series', status: 'interrupted' },
    { pipeline: 'fred', status: 'running' },
  ]);
});
