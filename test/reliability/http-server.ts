import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { BAD_DIR } from './cases.js';

/**
 * A local server that misbehaves on request, one scenario per first path segment:
 * /<scenario>/<file>. The good body is a real companyfacts excerpt (Oracle, from the bundled
 * sample) for .json paths and FRED's GDP for .csv paths.
 *
 *   ok              200 with the body
 *   status-500      500 with an HTML error page, every time
 *   status-404      404
 *   timeout         accepts the request and never answers
 *   html            200 with an HTML page (a gateway's or the SEC's rate-limit page)
 *   stream-forever  200 with a body that never ends
 *   too-large       200 announcing 10 GiB in Content-Length
 *   truncated-body  200 announcing the full length, then the connection drops halfway
 */

export interface BadServer {
  readonly base: string;
  /** Requests seen, by path. */
  readonly requests: string[];
  close(): Promise<void>;
}

const JSON_BODY = readFileSync(join(BAD_DIR, 'sec-companyfacts', 'base.json'));
const CSV_BODY = readFileSync(join(BAD_DIR, 'fred', 'base.csv'));

const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head>' +
  '<body><h1>Your Request Originates from an Undeclared Automated Tool</h1><p>Please declare your traffic.</p></body></html>\n';

function pump(res: ServerResponse, chunk: Buffer, limit: number): void {
  let sent = 0;
  const next = (): void => {
    while (!res.destroyed && sent < limit) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', next);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  next();
}

export async function startBadServer(): Promise<BadServer> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const [, scenario = '', file = ''] = path.split('/');
    const body = file.endsWith('.csv') ? CSV_BODY : JSON_BODY;
    const type = file.endsWith('.csv') ? 'text/csv' : 'application/json';
    switch (scenario) {
      case 'ok':
        res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);
        return;
      case 'status-500':
        res.writeHead(500, { 'content-type': 'text/html' }).end('<html><body><h1>500 Internal Server Error</h1><p>upstream failed</p></body></html>');
        return;
      case 'status-404':
        res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not Found</body></html>');
        return;
      case 'timeout':
        // Never answered; the socket is destroyed when the server closes.
        return;
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_PAGE);
        return;
      case 'stream-forever':
        res.writeHead(200, { 'content-type': type });
        res.write('{"cik": 1341439, "entityName": "Oracle Corporation", "facts": {"us-gaap": {"Filler": {"units": {"USD": [');
        // "Forever" is bounded at 4 GiB so that a client that never stops cannot fill the disk.
        pump(res, Buffer.from('{"end": "2025-05-31", "val": 1}, '.repeat(512)), 4 * 1024 ** 3);
        return;
      case 'too-large':
        res.writeHead(200, { 'content-type': type, 'content-length': String(10 * 1024 ** 3) });
        res.write(body);
        return;
      case 'truncated-body':
        res.writeHead(200, { 'content-type': type, 'content-length': body.length });
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      default:
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`unknown scenario ${scenario}`);
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
