/**
 * A tiny HTTP/1.1 server for the ops endpoints (admin, stats, readiness). These are low-traffic, so plain
 * node:http with a path table is enough; no routing library, no policies.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddr } from '../config/model.js';

/** Answers one ops request; return false to let the server reply 404. */
export type OpsHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;

/** A running ops server. */
export interface OpsServer {
  /** `host:port` actually bound (port resolved when 0 was asked). */
  readonly address: string;
  close(): Promise<void>;
}

/** Writes a small text or JSON reply. */
export function reply(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Starts an ops server on `addr`; rejects if the address cannot be bound (e.g. in use). */
export async function startOpsServer(name: string, addr: ListenAddr, handler: OpsHandler): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .then((handled) => {
        if (!handled && !res.headersSent) reply(res, 404, `${name}: no such endpoint ${req.url ?? ''}\n`);
      })
      .catch((err: unknown) => {
        if (!res.headersSent) reply(res, 500, `${name}: ${err instanceof Error ? err.message : String(err)}\n`);
        else res.destroy();
      });
  });
  // Scrapers and probes reconnect anyway; short keep-alive lets shutdown finish quickly.
  server.keepAliveTimeout = 2_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    address: `${host}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The path part of a request URL, without the query. */
export function pathOf(req: http.IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
