import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A local webhook receiver (node:http on 127.0.0.1, a free port) that answers each POST from a
 * plan, then with `fallback`. An answer is an HTTP status, or `endless` (200 with a body that does
 * not end), or `endless-500`. Every post is kept with the status it got, so a test can count
 * deliveries exactly.
 */

export type Answer = number | 'endless' | 'endless-500';

export interface Post {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface EndlessBody {
  /** Bytes of the body written before the client closed the connection (or the bound was reached). */
  bytesWritten: number;
  /** The client closed the connection before the body's end. */
  closedByClient: boolean;
  done: Promise<void>;
}

export interface Receiver {
  readonly url: string;
  readonly posts: Post[];
  /** Posts answered with a 2xx: what the receiver really took. */
  delivered(): Record<string, unknown>[];
  /** Answers for the next posts, in order; then `fallback`. */
  plan: Answer[];
  fallback: Answer;
  /** Wait this long before answering (to make two senders overlap). */
  delayMs: number;
  /** Endless bodies served so far. */
  readonly endless: EndlessBody[];
  close(): Promise<void>;
}

/**
 * "Endless" is bounded at 256 MiB so that a client which reads the whole body cannot take the
 * test machine's memory with it; a client that reads with a cap closes the connection long before.
 */
export const ENDLESS_BOUND = 256 * 1024 * 1024;

function stream(res: ServerResponse, status: number): EndlessBody {
  const chunk = Buffer.from('{"ok": true, "filler": "' + 'x'.repeat(16_000) + '"}\n');
  const state: EndlessBody = { bytesWritten: 0, closedByClient: false, done: Promise.resolve() };
  state.done = new Promise<void>((resolve) => {
    res.on('close', () => {
      state.closedByClient = !res.writableFinished;
      resolve();
    });
  });
  res.writeHead(status, { 'content-type': 'application/json' });
  const next = (): void => {
    while (!res.destroyed && state.bytesWritten < ENDLESS_BOUND) {
      state.bytesWritten += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', next);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  next();
  return state;
}

/** `port`: listen there (a receiver coming back at the address it had); a free port by default. */
export async function startReceiver(plan: Answer[] = [], fallback: Answer = 200, port = 0): Promise<Receiver> {
  const sockets = new Set<Socket>();
  const receiver: Omit<Receiver, 'url' | 'close'> = {
    posts: [],
    delivered: () => receiver.posts.filter((p) => p.status >= 200 && p.status < 300).map((p) => p.body),
    plan: [...plan],
    fallback,
    delayMs: 0,
    endless: [],
  };
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString('utf8')));
    req.on('end', () => {
      const answer = receiver.plan.length > 0 ? receiver.plan.shift()! : receiver.fallback;
      const status = answer === 'endless' ? 200 : answer === 'endless-500' ? 500 : answer;
      const body = JSON.parse(text) as Record<string, unknown>;
      setTimeout(() => {
        receiver.posts.push({ status, body });
        if (answer === 'endless' || answer === 'endless-500') receiver.endless.push(stream(res, status));
        else res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `receiver says ${status}`);
      }, receiver.delayMs);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T000/B000/secret-token`;
  return Object.assign(receiver, {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}
