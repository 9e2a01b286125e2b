import type { AnyPipeline } from '../src/engine/pipeline.js';
import { customSeries } from './custom-series/pipeline.js';

/** Every pipeline bubblewatch can run, in the order `run --all` runs them. */
export const PIPELINES: readonly AnyPipeline[] = [customSeries as unknown as AnyPipeline];
