import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createTask, type ScheduledTask } from 'node-cron';
import type { ResolvedPipelineConfig } from '../config/load.js';
import type { AppContext } from '../app/context.js';
import type { AnyPipeline } from '../engine/pipeline.js';
import { describeRecovered, recordSkippedRun, recoverStaleRuns, runningRun } from '../engine/run-ledger.js';
import type { RunSummary } from '../engine/run-pipeline.js';
import { runWithRetries } from '../engine/run-with-retries.js';
import { errorMessage } from '../errors.js';
import { nextTick, tickTime, ticksBetween } from './cron.js';

/**
 * The long-running scheduler. node-cron wakes every process at each tick; the database
 * decides which one runs it: each tries to insert (pipeline, tick) into etl.schedule_ticks
 * and only the insert that succeeds runs the pipeline. A tick that finds the pipeline's
 * previous run still going is recorded as skipped. Ticks missed while no scheduler ran are
 * handled by each pipeline's policy: skip them, run once, or run each up to a cap. Alert
 * notifications that are due are delivered after each tick and on a timer between ticks.
 */

/**
 * What the scheduler uses of the AppContext (src/app/context.ts), which it is normally given as
 * it is: the database, logger and shared config, the enabled pipelines with their configuration,
 * the scheduler settings, and what runs use (fetcher, alert evaluation, lock wait). `deliver`
 * delivers the alert notifications that are due: after every tick this process claims, whatever
 * its run found, and every `deliverEveryMs` between ticks, so a notification the webhook failed is
 * retried even when no new data arrives.
 */
export type SchedulerDeps = Pick<AppContext, 'handle' | 'logger' | 'shared' | 'pipelines' | 'settings'> &
  Partial<Pick<AppContext, 'fetch' | 'afterSuccess' | 'lockWaitMs' | 'deliver' | 'deliverEveryMs'>> & {
    /** Called after every run the scheduler makes. */
    readonly onRun?: (summary: RunSummary) => void;
  };

export function schedulerIdentity(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export class Scheduler {
  readonly identity = schedulerIdentity();
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly controller = new AbortController();
  private stopping = false;
  private delivering: Promise<void> | undefined;
  private deliveryTimer: NodeJS.Timeout | undefined;
  private stopped: Promise<void> | undefined;

  constructor(private readonly deps: SchedulerDeps) {}

  private get staleAfterMs(): number {
    return this.deps.settings.stale_after_seconds * 1000;
  }

  /** Mark runs of dead processes interrupted; returns how many. */
  async recover(): Promise<number> {
    const stale = await recoverStaleRuns(this.deps.handle, this.staleAfterMs);
    for (const run of stale) {
      this.deps.logger.warn(
        { pipeline: run.pipeline, run_id: run.run_id, pid: run.pid, host: run.host },
        describeRecovered(run),
      );
    }
    return stale.length;
  }

  /** Apply each pipeline's missed-tick policy. Returns the runs it made. */
  async catchUp(now: Date = new Date()): Promise<RunSummary[]> {
    const summaries: RunSummary[] = [];
    for (const { pipeline, config } of this.deps.pipelines) {
      const { cron, timezone, missed, missed_cap } = config.schedule;
      const last = await this.deps.handle.db
        .selectFrom('etl.schedule_ticks')
        .select((eb) => eb.fn.max('scheduled_for').as('last'))
        .where('pipeline', '=', pipeline.name)
        .executeTakeFirst();
      const lastTick = last?.last ?? null;
      if (lastTick === null) continue; // never scheduled before: nothing was missed
      const ticks = ticksBetween(cron, timezone, lastTick, now, missed === 'all' ? missed_cap : 1_000_000);
      if (ticks.length === 0) continue;
      const chosen = missed === 'skip' ? [] : missed === 'once' ? ticks.slice(-1) : ticks.slice(-missed_cap);
      this.deps.logger.info(
        { pipeline: pipeline.name, missed: ticks.length, policy: missed, running: chosen.length },
        `${pipeline.name}: ${ticks.length}${missed === 'all' && ticks.length >= missed_cap ? '+' : ''} tick(s) missed since ${lastTick.toISOString()}; policy "${missed}" runs ${chosen.length}`,
      );
      for (const tick of chosen) {
        if (this.stopping) break;
        const summary = await this.onTick(pipeline, config, tick, 'catch-up');
        if (summary) summaries.push(summary);
      }
    }
    return summaries;
  }

  /** Start the cron tasks. */
  start(): void {
    for (const { pipeline, config } of this.deps.pipelines) {
      const { cron, timezone } = config.schedule;
      const fire = (date: Date) => {
        const tick = tickTime(date, cron);
        void this.onTick(pipeline, config, tick, 'tick').catch((error: unknown) => {
          this.deps.logger.error({ err: error, pipeline: pipeline.name }, `${pipeline.name}: tick ${tick.toISOString()} failed: ${errorMessage(error)}`);
        });
      };
      const task = createTask(cron, (context) => fire(context.date), {
        timezone,
        name: `bubblewatch:${pipeline.name}`,
        noOverlap: false,
        missedExecutionTolerance: 30_000,
      });
      // A process too busy to wake on time still claims the tick it slept through: whichever
      // process gets to it runs it, so a busy machine delays ticks but does not lose them.
      task.on('execution:missed', (context) => fire(context.date));
      void task.start();
      this.tasks.push(task);
    }
    if (this.deps.deliver && this.deps.deliverEveryMs) {
      this.deliveryTimer = setInterval(() => void this.deliverDue(), this.deps.deliverEveryMs);
      this.deliveryTimer.unref();
    }
  }

  /**
   * Deliver the alert notifications that are due; one pass at a time in this process (a pass
   * still going when the timer fires again is not doubled; other processes are kept off the same
   * notifications by the database).
   */
  deliverDue(): Promise<void> {
    const deliver = this.deps.deliver;
    if (!deliver || this.stopping) return Promise.resolve();
    if (this.delivering) return this.delivering;
    const work = deliver(this.controller.signal)
      .then(() => undefined)
      .catch((error: unknown) => this.deps.logger.error({ err: error }, `alert notifications: delivery failed: ${errorMessage(error)}`))
      .finally(() => {
        this.delivering = undefined;
        this.inflight.delete(work);
      });
    this.delivering = work;
    this.inflight.add(work);
    return work;
  }

  /** The next tick of each scheduled pipeline. */
  nextTicks(): { pipeline: string; next: Date | null; cron: string; timezone: string }[] {
    return this.deps.pipelines.map(({ pipeline, config }) => ({
      pipeline: pipeline.name,
      cron: config.schedule.cron,
      timezone: config.schedule.timezone,
      next: nextTick(config.schedule.cron, config.schedule.timezone),
    }));
  }

  /** Claim a tick in the database and, if this process won it, run the pipeline. */
  onTick(pipeline: AnyPipeline, config: ResolvedPipelineConfig, tick: Date, kind: 'tick' | 'catch-up'): Promise<RunSummary | undefined> {
    if (this.stopping) return Promise.resolve(undefined);
    // Tracked from the first await, so that a shutdown waits for a tick claimed a moment before it.
    const work = this.claimAndRun(pipeline, config, tick, kind);
    this.inflight.add(work);
    return work.finally(() => this.inflight.delete(work));
  }

  private async claimAndRun(pipeline: AnyPipeline, config: ResolvedPipelineConfig, tick: Date, kind: 'tick' | 'catch-up'): Promise<RunSummary | undefined> {
    const { handle, logger } = this.deps;
    const claimed = await handle.db
      .insertInto('etl.schedule_ticks')
      .values({ pipeline: pipeline.name, scheduled_for: tick, claimed_by: this.identity, kind, outcome: null, run_id: null })
      .onConflict((oc) => oc.doNothing())
      .returning('scheduled_for')
      .executeTakeFirst();
    if (!claimed) {
      logger.debug({ pipeline: pipeline.name, tick: tick.toISOString() }, `${pipeline.name}: tick ${tick.toISOString()} claimed by another process`);
      return undefined;
    }
    try {
      return await this.runClaimed(pipeline, config, tick, kind);
    } finally {
      // Whatever the run found (nothing new, a failure), notifications that are due go out.
      await this.deliverDue();
    }
  }

  private async runClaimed(pipeline: AnyPipeline, config: ResolvedPipelineConfig, tick: Date, kind: 'tick' | 'catch-up'): Promise<RunSummary | undefined> {
    const { handle, logger } = this.deps;
    await this.recover();
    const trigger = kind === 'tick' ? 'schedule' : 'catch-up';
    const busyHere = this.running.has(pipeline.name);
    const busy = busyHere ? undefined : await runningRun(handle, pipeline.name, this.staleAfterMs);
    if (busyHere || busy) {
      const reason = `skipped: the previous run${busy ? ` (${busy.run_id})` : ''} of ${pipeline.name} is still going`;
      const runId = await recordSkippedRun(handle, { pipeline: pipeline.name, trigger, scheduledFor: tick, reason });
      await handle.db
        .updateTable('etl.schedule_ticks')
        .set({ outcome: 'skipped', run_id: runId })
        .where('pipeline', '=', pipeline.name)
        .where('scheduled_for', '=', tick)
        .execute();
      logger.warn({ pipeline: pipeline.name, tick: tick.toISOString(), run_id: runId }, `${pipeline.name}: tick ${tick.toISOString()} ${reason}`);
      return undefined;
    }

    const summary = await this.track(pipeline, config, trigger, tick);
    await handle.db
      .updateTable('etl.schedule_ticks')
      .set({ outcome: 'ran', run_id: summary.runId })
      .where('pipeline', '=', pipeline.name)
      .where('scheduled_for', '=', tick)
      .execute();
    return summary;
  }

  /** Run a pipeline now, outside the schedule (the pass `start` makes to bring data current). */
  async runNow(pipeline: AnyPipeline, config: ResolvedPipelineConfig): Promise<RunSummary | undefined> {
    if (this.stopping) return undefined;
    return this.track(pipeline, config, 'manual', undefined);
  }

  private async track(pipeline: AnyPipeline, config: ResolvedPipelineConfig, trigger: 'schedule' | 'catch-up' | 'manual', tick: Date | undefined): Promise<RunSummary> {
    const work = runWithRetries(
      this.deps,
      pipeline,
      config,
      { trigger, ...(tick ? { scheduledFor: tick } : {}), signal: this.controller.signal, heartbeatMs: this.deps.settings.heartbeat_seconds * 1000 },
      { maxAttempts: this.deps.settings.retry.max_attempts, baseMs: this.deps.settings.retry.base_ms, maxMs: this.deps.settings.retry.max_ms },
    );
    this.running.set(pipeline.name, work);
    try {
      const summary = await work;
      this.deps.onRun?.(summary);
      return summary;
    } finally {
      this.running.delete(pipeline.name);
    }
  }

  /**
   * Stop taking ticks, let the current runs finish within `shutdown_timeout_seconds`, then
   * interrupt what is left (it rolls back and is recorded as interrupted). Every caller gets
   * the same promise: `start` calls this from its signal handler and again before closing the
   * database, and that second call must wait for the runs too, or the database is closed
   * under a run that is still going (left "running" in the ledger).
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.stopping = true;
    if (this.deliveryTimer) clearInterval(this.deliveryTimer);
    for (const task of this.tasks) await task.destroy();
    const pending = [...this.running.values(), ...this.inflight];
    if (pending.length === 0) return;
    const timeoutMs = this.deps.settings.shutdown_timeout_seconds * 1000;
    this.deps.logger.info(`waiting up to ${timeoutMs / 1000} s for ${pending.length} run(s) to finish`);
    const settled = Promise.allSettled(pending);
    const timedOut = await Promise.race([settled.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), timeoutMs).unref())]);
    if (timedOut) {
      this.deps.logger.warn('runs still going after the shutdown timeout: interrupting them');
      this.controller.abort(new Error('shutting down'));
      await settled;
    }
  }

  /** Abort runs at once (a second Ctrl-C). */
  interrupt(): void {
    this.stopping = true;
    if (this.deliveryTimer) clearInterval(this.deliveryTimer);
    this.controller.abort(new Error('shutting down'));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }
}
