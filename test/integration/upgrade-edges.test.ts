/**
 * HTTP/1.1 upgrades at their edges, through the real CLI: a processor that refuses the 101 or strips it, an upstream
 * that resets or half-closes while a processor looks at its 101, a refusal that streams while the client leaves,
 * a client that half-closes before the 101, and the requests that are not tunnelled (a body, h2c).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { reply, type Handlers } from '../helpers/ext-proc-server.js';
import { processing, routeConfig, setupExtProc } from '../helpers/ext-proc-harness.js';
import type { TestScope } from '../helpers/gateway-fixtures.js';
import type { StartedGateway } from '../helpers/start-gateway.js';
import { gateway, logLine, rawUpgrade, upstream, upgradeHead } from '../helpers/upgrade-peers.js';

/** A raw TCP upstream on 127.0.0.1: `onHead` gets each connection with the request's path once its head arrived. */
async function rawUpstream(t: TestScope, onHead: (socket: net.Socket, path: string, rest: string) => void): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      onHead(socket, buf.split(' ')[1]!, buf.slice(end + 4));
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return (server.address() as AddressInfo).port;
}

/** A gateway whose route has a failClosed processor with `handlers` on request and response headers. */
async function withProcessor(t: TestScope, upPort: number, handlers: Handlers): Promise<StartedGateway> {
  const s = await setupExtProc(t, {
    handlers,
    config: (procHost) => routeConfig({ procHost, upPort: upPort, extra: processing({}) }),
  });
  return s.gw;
}

/** The processor holds the 101 for `ms` before it answers with `then`. */
const holdResponse = (ms: number, then = reply.headers('response')): Handlers => ({ onResponseHeaders: () => ({ delayMs: ms, then }) });

test('a processor that refuses the 101: the client gets its answer, the switched upstream connection is closed', { timeout: 30_000 }, async (t) => {
  let upEnded: Promise<unknown> | undefined;
  const port = await rawUpstream(t, (socket) => {
    upEnded = once(socket, 'end');
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n');
  });
  const gw = await withProcessor(t, port, { onResponseHeaders: () => reply.immediate({ status: 403, body: 'no tunnels' }) });
  const c = await rawUpgrade(gw.ports.PORT!, upgradeHead('/refused'));
  t.after(() => c.socket.destroy());
  const text = await c.waitFor(/no tunnels/);
  assert.match(text, /^HTTP\/1\.1 403 /);
  assert.match(text, /\r\nconnection: close\r\n/);
  await upEnded;
  assert.equal((await logLine(gw, '/refused')).status, 403);
});

test('an upstream that resets while a processor holds its 101: 502, and the gateway lives on', { timeout: 30_000 }, async (t) => {
  const port = await rawUpstream(t, (socket, path) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n');
    if (path === '/reset') setTimeout(() => socket.resetAndDestroy(), 50);
    else socket.on('data', (d: Buffer) => socket.write(d));
  });
  const gw = await withProcessor(t, port, holdResponse(400));
  const c = await rawUpgrade(gw.ports.PORT!, upgradeHead('/reset'));
  t.after(() => c.socket.destroy());
  assert.match(await c.waitFor(/before it was joined/), /^HTTP\/1\.1 502 /);
  assert.equal((await logLine(gw, '/reset')).errorCode, 'upstream_reset');
  // Still serving (an unhandled reset on the switched connection used to take the process down).
  const next = await rawUpgrade(gw.ports.PORT!, upgradeHead('/next'));
  t.after(() => next.socket.destroy());
  await next.waitFor(/^HTTP\/1\.1 101 /);
  next.socket.write('alive?');
  await next.waitFor(/alive\?/);
});

test('an upstream that half-closes while a processor holds its 101: its bytes and its FIN reach the client', { timeout: 30_000 }, async (t) => {
  const port = await rawUpstream(t, (socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\nhello;');
    // A FIN with no bytes of its own: node's switched socket, left flowing, emitted that end to nobody.
    setTimeout(() => socket.end(), 50);
  });
  const gw = await withProcessor(t, port, holdResponse(400));
  const c = await rawUpgrade(gw.ports.PORT!, upgradeHead('/fin'));
  t.after(() => c.socket.destroy());
  await once(c.socket, 'end');
  assert.match(c.read(), /\r\n\r\nhello;$/);
  c.socket.end();
  const log = await logLine(gw, '/fin');
  assert.equal(log.status, 101);
  assert.equal(log.bytesOut, 'hello;'.length);
});

test('a processor that strips upgrade from the 101 cannot make it a bare 101: the WebSocket still opens', { timeout: 30_000 }, async (t) => {
  const up = await upstream(t);
  const gw = await withProcessor(t, up.port, { onResponseHeaders: () => reply.headers('response', { remove: ['upgrade', 'connection'] }) });
  const ws = new WebSocket(`${gw.url().replace('http', 'ws')}/stripped`);
  t.after(() => ws.terminate());
  const [first] = (await once(ws, 'message')) as [Buffer];
  assert.match(first.toString(), /^hello /);
  ws.close();
});

test('a refusal that streams while the client leaves: the upstream request is cancelled and logged', { timeout: 30_000 }, async (t) => {
  let upClosed: Promise<unknown> | undefined;
  const port = await rawUpstream(t, (socket) => {
    upClosed = once(socket, 'close');
    socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n6\r\nfirst;\r\n');
  });
  const gw = await gateway(t, port);
  const c = await rawUpgrade(gw.ports.PORT!, upgradeHead('/stream', 'websocket'));
  await c.waitFor(/first;/);
  c.socket.end();
  await upClosed;
  const log = await logLine(gw, '/stream');
  assert.equal(log.status, 200);
  assert.equal(log.errorCode, 'client_closed');
});

test('a client that sends its first bytes and a FIN before the 101: the upstream gets both, and its answer comes back', { timeout: 30_000 }, async (t) => {
  let seen = '';
  const port = await rawUpstream(t, (socket, _path, rest) => {
    seen = rest;
    setTimeout(() => socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n'), 200);
    socket.on('data', (d: Buffer) => (seen += d.toString()));
    socket.on('end', () => socket.end(`got:${seen}`));
  });
  const gw = await gateway(t, port);
  const c = await rawUpgrade(gw.ports.PORT!, upgradeHead('/early'), 'first-bytes;');
  t.after(() => c.socket.destroy());
  c.socket.end();
  await once(c.socket, 'end');
  assert.match(c.read(), /^HTTP\/1\.1 101 [\s\S]*\r\n\r\ngot:first-bytes;$/);
  const log = await logLine(gw, '/early');
  assert.equal(log.bytesIn, 'first-bytes;'.length);
});

test('not tunnelled: an upgrade request with a body, and h2c, are served as plain requests on a kept-alive connection', { timeout: 30_000 }, async (t) => {
  const up = await upstream(t);
  const gw = await gateway(t, up.port);
  const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
  const c = await rawUpgrade(gw.ports.PORT!, `GET /h2c HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`);
  t.after(() => c.socket.destroy());
  const first = await c.waitFor(/plain answer/);
  assert.match(first, /^HTTP\/1\.1 200 /);
  assert.match(first, /\r\nx-saw-upgrade: none\r\n/, 'the upstream was not asked to upgrade');
  // The same connection serves the next request: h2c with a body, then a WebSocket handshake with one.
  c.socket.write(`POST /h2c-body HTTP/1.1\r\nHost: x\r\n${h2c}Content-Length: 3\r\n\r\nabc`);
  assert.match(await c.waitFor(/x-body: abc[\s\S]*plain answer/), /x-body: abc\r\n/);
  c.socket.write('POST /ws-body HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nHELLO');
  assert.match(await c.waitFor(/x-body: HELLO[\s\S]*plain answer/), /\r\nx-saw-upgrade: none\r\nx-body: HELLO\r\n/);
  assert.equal((await logLine(gw, '/ws-body')).status, 200);
});
