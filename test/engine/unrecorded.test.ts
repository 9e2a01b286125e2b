import { expect, it, onTestFinished } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { recoverStaleRuns } from '../../src/engine/run-ledger.js';
import { readUnrecorded } from '../../src/engine/unrecorded.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/**
 * A run stopped by a full disk used to be relabelled later "the process stopped without
 * finishing", losing its cause: the database could not take the failure when it happened
 * (issue 14, item 17). Triggers play the full disk: the load and the run's last ledger write
 * fail as PostgreSQL fails when it cannot extend a file.
 */

const pipeline = customSeries as unknown as AnyPipeline;
const DISK_FULL = `could not extend file "base/16384/2619": No space left on device`;

describeEachDatabase('a run whose outcome the database cannot take', (kind) => {
  it('keeps the real cause of a run stopped by a full disk, and records it once the database can write again', async () => {
    const previous = process.env.BUBBLEWATCH_STATE_DIR;
    process.env.BUBBLEWATCH_STATE_DIR = makeInbox();
    onTestFinished(() => {
      if (previous === undefined) delete process.env.BUBBLEWATCH_STATE_DIR;
      else process.env.BUBBLEWATCH_STATE_DIR = previous;
    });
    const db = await useDatabase(kind);
    await db.handle.withConnection((conn) =>
      conn.script(`
        create function pg_temp_disk_full() returns trigger language plpgsql as $$
        begin
          raise exception using errcode = '53100', message = '${DISK_FULL}', hint = 'Check free disk space.';
        end $$;
        create trigger disk_full_on_load before insert on raw.custom_series for each row execute function pg_temp_disk_full();
        create trigger disk_full_on_finish before update on etl.runs for each row when (new.status <> 'running') execute function pg_temp_disk_full();
      `),
    );
    const inbox = makeInbox();
    writeFile(inbox, 'a.csv', 'series,subject,date,value\nopenai_revenue_annualized,OpenAI,2025-06-30,10000000000\n');
    const summary = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(summary.status).toBe('failed');
    expect(summary.error).toContain(DISK_FULL);
    // The database could not take the outcome: the run still reads running, and the cause waits outside it.
    expect(await rows(db.handle, 'select status from etl.runs where run_id = $1', [summary.runId])).toEqual([{ status: 'running' }]);
    expect(readUnrecorded(db.handle.location).get(summary.runId)).toMatchObject({ status: 'failed', error: expect.stringContaining(DISK_FULL) as unknown });

    // Space again: the next process (or tick) that marks abandoned runs records the real cause.
    await db.handle.withConnection((conn) => conn.script('drop trigger disk_full_on_load on raw.custom_series; drop trigger disk_full_on_finish on etl.runs'));
    const recovered = await recoverStaleRuns(db.handle, 120_000);
    expect(recovered.map((r) => [r.run_id, r.status])).toEqual([[summary.runId, 'failed']]);
    const [run] = await rows<{ status: string; error: string; finished_at: Date | null }>(db.handle, 'select status, error, finished_at from etl.runs where run_id = $1', [summary.runId]);
    expect(run!.status).toBe('failed');
    expect(run!.error).toContain(DISK_FULL);
    expect(run!.error).toMatch(/\(recorded late: the database could not take the run's outcome when it ended\)$/);
    expect(run!.finished_at).toBeInstanceOf(Date);
    expect(readUnrecorded(db.handle.location).size).toBe(0);
  });
});
