/**
 * Peers for the upgrade tests: an upstream with a WebSocket echo server and a hook for other protocols, a raw-socket
 * client, and the gateway in front.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { routesConfig, scopedGateway, type TestScope } from './gateway-fixtures.js';
import type { StartedGateway } from './start-gateway.js';

/** A node:http upstream on 127.0.0.1 with a WebSocket echo server and an `upgrade` fallback for other protocols. */
export async function upstream(t: TestScope, onOther?: (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void): Promise<{ port: number; server: http.Server; wss: WebSocketServer }> {
  // Plain requests: what arrived (the Upgrade header, the body) comes back in headers.
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-saw-upgrade': String(req.headers.upgrade ?? 'none'), 'x-body': body });
      res.end('plain answer');
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws, req) => {
    ws.send(`hello ${req.headers['x-forwarded-for']} ${req.headers['x-from-processor'] ?? '-'}`);
    ws.on('message', (m, binary) => ws.send(m, { binary }));
  });
  server.on('upgrade', (req, socket: net.Socket, head) => {
    if (req.headers.upgrade === 'websocket' && req.url !== '/refuse') {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    } else if (req.url === '/refuse') {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: 12\r\nwww-authenticate: Bearer\r\n\r\nno token\r\n\r\n');
    } else onOther?.(req, socket, head);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    wss.close();
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, server, wss };
}

export async function gateway(t: TestScope, port: number, extra = ''): Promise<StartedGateway> {
  return scopedGateway(t, routesConfig(`
    - backends:
      - host: 127.0.0.1:{{UP}}
${extra}`), { vars: { UP: port } });
}

/** The access-log line of the request to `path`. */
export async function logLine(gw: StartedGateway, path: string): Promise<Record<string, unknown>> {
  const line = await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes(`"path":"${path}"`), 10_000);
  return JSON.parse(line) as Record<string, unknown>;
}

/** Sends a raw HTTP/1.1 upgrade head (plus `extra` bytes) and resolves with the socket and everything read until `until` matches. */
export async function rawUpgrade(port: number, head: string, extra = ''): Promise<{ socket: net.Socket; read: () => string; waitFor: (re: RegExp) => Promise<string> }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let buf = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  socket.on('end', () => {
    for (const w of waiters.splice(0)) w();
  });
  socket.write(head + extra);
  const waitFor = async (re: RegExp): Promise<string> => {
    while (!re.test(buf)) {
      if (socket.readableEnded || socket.destroyed) throw new Error(`connection ended before ${re}; got ${JSON.stringify(buf)}`);
      await new Promise<void>((r) => waiters.push(r));
    }
    return buf;
  };
  return { socket, read: () => buf, waitFor };
}

/** An upgrade request head for `path` asking for `protocol`. */
export function upgradeHead(path: string, protocol = 'echo/1', extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n${extra}\r\n`;
}
