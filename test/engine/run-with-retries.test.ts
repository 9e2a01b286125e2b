import { beforeEach, describe, expect, it } from 'vitest';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { ZERO_COUNTS } from '../../src/engine/run-ledger.js';
import type { RunContext, RunSummary, runPipeline } from '../../src/engine/run-pipeline.js';
import { runWithRetries } from '../../src/engine/run-with-retries.js';
import { memoryLogger } from '../helpers/pipelines.js';

/** runWithRetries against a scripted runPipeline: which outcomes are retried, and how often. */

const script: (() => Promise<RunSummary>)[] = [];
const calls: { attempt?: number; retryOf?: number }[] = [];

/** runPipeline, scripted: records the attempt and returns the next outcome of `script`. */
const scripted: typeof runPipeline = async (_ctx, _p, _c, options) => {
  calls.push({ attempt: options.attempt, ...(options.retryOf !== undefined ? { retryOf: options.retryOf } : {}) });
  const next = script.shift();
  if (!next) throw new Error('no more scripted outcomes');
  return next();
};

function summary(runId: number, status: RunSummary['status'], transient = false): RunSummary {
  return { runId, pipeline: 'custom-series', status, transient, counts: ZERO_COUNTS, files: [], checks: [], durationMs: 1, ...(status === 'failed' ? { error: 'x' } : {}) };
}

function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}

const ctx = { handle: {} as RunContext['handle'], logger: memoryLogger().logger } as RunContext;
const pipeline = { name: 'custom-series' } as AnyPipeline;
const config = {} as ResolvedPipelineConfig;
const policy = { maxAttempts: 3, baseMs: 1, maxMs: 2 };
const noWait = async () => {};

describe('runWithRetries', () => {
  beforeEach(() => {
    script.length = 0;
    calls.length = 0;
  });

  it('does not retry a permanent failure', async () => {
    script.push(async () => summary(1, 'failed', false));
    const result = await runWithRetries(ctx, pipeline, config, { trigger: 'manual' }, policy, noWait, scripted);
    expect(result.runId).toBe(1);
    expect(calls).toHaveLength(1);
  });

  it('retries a transient failure, pointing each attempt at the one before', async () => {
    script.push(async () => summary(1, 'failed', true), async () => summary(2, 'succeeded'));
    const result = await runWithRetries(ctx, pipeline, config, { trigger: 'manual' }, policy, noWait, scripted);
    expect(result.status).toBe('succeeded');
    expect(calls).toEqual([{ attempt: 1 }, { attempt: 2, retryOf: 1 }]);
  });

  it('retries a run that could not start because the database was unreachable, then succeeds', async () => {
    script.push(
      async () => summary(1, 'failed', true),
      async () => {
        throw connectionRefused();
      },
      async () => summary(3, 'succeeded'),
    );
    const result = await runWithRetries(ctx, pipeline, config, { trigger: 'manual' }, policy, noWait, scripted);
    expect(result.runId).toBe(3);
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
  });

  it('gives up after the last attempt, and does not retry an error that is not transient', async () => {
    script.push(...[1, 2, 3].map(() => async () => {
      throw connectionRefused();
    }));
    await expect(runWithRetries(ctx, pipeline, config, { trigger: 'manual' }, policy, noWait, scripted)).rejects.toThrow(/ECONNREFUSED/);
    expect(calls).toHaveLength(3);

    calls.length = 0;
    script.push(async () => {
      throw new Error('a bug');
    });
    await expect(runWithRetries(ctx, pipeline, config, { trigger: 'manual' }, policy, noWait, scripted)).rejects.toThrow('a bug');
    expect(calls).toHaveLength(1);
  });
});
