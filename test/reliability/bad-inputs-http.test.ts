import { afterAll, beforeAll } from 'vitest';
import { defineCorpusTests } from './corpus.js';
import { startBadServer, type BadServer } from './http-server.js';

/** HTTP sources against a local server that times out, fails, answers HTML or never stops. */
let server: BadServer | undefined;

beforeAll(async () => {
  server = await startBadServer();
});

afterAll(async () => {
  await server?.close();
});

defineCorpusTests('bad inputs: HTTP sources', (c) => c.http !== undefined, {
  httpBase: () => {
    if (!server) throw new Error('the local HTTP server is not running');
    return server.base;
  },
});
