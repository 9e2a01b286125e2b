import { pino } from 'pino';
import { REGISTRY } from '../../pipelines/registry.js';
import type { CliContext } from '../../src/cli/context.js';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../helpers/pipelines.js';

/** A CLI context over the bundled config, pointed at a test database by `env`, printing into `output()`. */
export function testContext(env: Readonly<Record<string, string>>): CliContext & { output(): string } {
  const config = loadConfig({ registry: REGISTRY, env: { ...env } });
  let text = '';
  const out = {
    write(chunk: string | Uint8Array) {
      text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { config, logger: memoryLogger().logger, registry: REGISTRY.pipelines, out, output: () => text };
}

export const silentLogger = pino({ level: 'silent' });
