import { setTimeout as delay } from 'node:timers/promises';
import type { ResolvedPipelineConfig } from '../config/load.js';
import type { AnyPipeline } from './pipeline.js';
import { errorMessage, redactSecrets } from '../errors.js';
import { backoffDelay, isTransient, type BackoffPolicy } from './retry.js';
import { runPipeline, type RunContext, type RunOptions, type RunSummary } from './run-pipeline.js';

/**
 * Run a pipeline, and run it again after a transient failure (connection lost, serialization
 * failure, HTTP 429/5xx) with exponential backoff and jitter, up to the policy's attempts.
 * Each attempt is its own row in etl.runs (attempt 2 points at attempt 1 with retry_of).
 * A permanent failure or an interruption ends it at once.
 */
export async function runWithRetries(
  ctx: RunContext,
  pipeline: AnyPipeline,
  config: ResolvedPipelineConfig,
  options: RunOptions,
  policy: BackoffPolicy,
  sleep: (ms: number, signal?: AbortSignal) => Promise<void> = (ms, signal) => delay(ms, undefined, signal ? { signal } : {}),
  // The run itself; tests script its outcomes here.
  run: typeof runPipeline = runPipeline,
): Promise<RunSummary> {
  let summary: RunSummary | undefined;
  for (let attempt = 1; ; attempt++) {
    let what: string;
    try {
      summary = await run(ctx, pipeline, config, {
        ...options,
        attempt,
        ...(summary ? { retryOf: summary.runId } : {}),
      });
      if (summary.status !== 'failed' || !summary.transient || attempt >= policy.maxAttempts) return summary;
      what = `run ${summary.runId} of ${pipeline.name} failed transiently`;
    } catch (error) {
      // The run could not even be recorded (the database is unreachable): as transient as a
      // run that failed for that reason, and retried the same way.
      if (!isTransient(error) || attempt >= policy.maxAttempts) throw error;
      what = `a run of ${pipeline.name} could not start (${redactSecrets(errorMessage(error))})`;
    }
    const wait = backoffDelay(policy, attempt);
    ctx.logger.warn(
      { pipeline: pipeline.name, ...(summary ? { run_id: summary.runId } : {}), attempt, wait_ms: wait },
      `${what} (attempt ${attempt} of ${policy.maxAttempts}); retrying in ${wait} ms`,
    );
    try {
      await sleep(wait, options.signal);
    } catch (error) {
      if (summary) return summary; // shutdown during the wait
      throw error;
    }
  }
}
