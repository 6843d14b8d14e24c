/**
 * HTTP/1.1 upgrades (WebSocket, and a made-up protocol on raw sockets) through the real CLI: the 101 and a tunnel
 * both ways, half-closes, an upstream that refuses or is down, ext_proc on the upgrade's headers, h2c, a client
 * that leaves mid-tunnel, and the access-log line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { routesConfig, scopedGateway } from '../helpers/gateway-fixtures.js';
import { headerValue, reply } from '../helpers/ext-proc-server.js';
import { processing, routeConfig, setupExtProc } from '../helpers/ext-proc-harness.js';
import { gateway, logLine, rawUpgrade, upstream } from '../helpers/upgrade-peers.js';

test('a WebSocket goes through: 101, messages both ways (1 MiB included), close code, x-forwarded-for, logged as 101', { timeout: 30_000 }, async (t) => {
  const up = await upstream(t);
  const gw = await gateway(t, up.port);
  const ws = new WebSocket(`${gw.url().replace('http', 'ws')}/chat`);
  t.after(() => ws.terminate());
  const messages: Array<string | Buffer> = [];
  const big = Buffer.alloc(1024 * 1024, 7);
  ws.on('message', (m: Buffer, binary) => {
    messages.push(binary ? m : m.toString());
    if (messages.length === 1) ws.send('ping');
    else if (messages.length === 2) ws.send(big);
    else if (messages.length === 3) ws.close(4001, 'done here');
  });
  const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
  assert.equal(messages[0], 'hello 127.0.0.1 -');
  assert.equal(messages[1], 'ping');
  assert.ok(Buffer.isBuffer(messages[2]) && big.equals(messages[2]), 'the 1 MiB binary message came back whole');
  assert.equal(code, 4001);
  assert.equal(reason.toString(), 'done here');
  const log = await logLine(gw, '/chat');
  assert.equal(log.status, 101);
  assert.equal(log.errorCode, undefined);
  assert.ok((log.bytesIn as number) > big.length && (log.bytesOut as number) > big.length, `bytes counted both ways: ${JSON.stringify(log)}`);
});

test('an upstream that refuses the upgrade: its answer reaches the client as it is, then the connection closes', { timeout: 30_000 }, async (t) => {
  const up = await upstream(t);
  const gw = await gateway(t, up.port);
  const ws = new WebSocket(`${gw.url().replace('http', 'ws')}/refuse`);
  const [, res] = (await once(ws, 'unexpected-response')) as [http.ClientRequest, http.IncomingMessage];
  assert.equal(res.statusCode, 401);
  assert.equal(res.headers['www-authenticate'], 'Bearer');
  let body = '';
  for await (const c of res) body += String(c);
  assert.equal(body, 'no token\r\n\r\n'.slice(0, 12));
  assert.equal(res.headers.connection, 'close');
  assert.equal((await logLine(gw, '/refuse')).status, 401);
});

test('an upstream that is down: 503 with the reason, not a hang', { timeout: 30_000 }, async (t) => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const gw = await gateway(t, port);
  const c = await rawUpgrade(gw.ports.PORT!, 'GET /down HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  t.after(() => c.socket.destroy());
  const text = await c.waitFor(/\r\n\r\n[\s\S]*refused/);
  assert.match(text, /^HTTP\/1\.1 503 /);
  await once(c.socket, 'end');
  const log = await logLine(gw, '/down');
  assert.equal(log.status, 503);
  assert.equal(log.errorCode, 'upstream_connect');
});

test('a raw protocol: early bytes both ways, half-closes passed on in each direction', { timeout: 30_000 }, async (t) => {
  let upSocket: net.Socket | undefined;
  const upstreamGot: string[] = [];
  const up = await upstream(t, (req, socket, head) => {
    upSocket = socket;
    upstreamGot.push(`head:${head.toString()}`);
    // The 101 and the protocol's first bytes in one write, as a server that does not wait may send them.
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${req.headers.upgrade}\r\nx-proto: yes\r\n\r\nserver-hello;`);
    socket.on('data', (d: Buffer) => upstreamGot.push(d.toString()));
    socket.on('end', () => {
      upstreamGot.push('END');
      // The client closed its side; this side still has something to say, then closes too.
      socket.end('server-bye;');
    });
  });
  const gw = await gateway(t, up.port);
  const c = await rawUpgrade(gw.ports.PORT!, 'GET /raw HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n', 'client-hello;');
  t.after(() => c.socket.destroy());
  const head = await c.waitFor(/server-hello;/);
  assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(head, /\r\nupgrade: echo\/1\r\n/i);
  assert.match(head, /\r\nconnection: upgrade\r\n/i);
  assert.match(head, /\r\nx-proto: yes\r\n/);
  c.socket.write('more;');
  c.socket.end();
  await c.waitFor(/server-bye;/);
  await once(c.socket, 'close');
  assert.ok(upSocket !== undefined);
  assert.equal(upstreamGot.join('').replace(/^head:/, ''), 'client-hello;more;END');
  const log = await logLine(gw, '/raw');
  assert.equal(log.status, 101);
  assert.equal(log.bytesIn, 'client-hello;more;'.length);
  assert.equal(log.bytesOut, 'server-hello;server-bye;'.length);
});

test('a client that leaves mid-tunnel: the upstream connection is closed too, and the line says client_closed', { timeout: 30_000 }, async (t) => {
  let upClosed: Promise<unknown> | undefined;
  const up = await upstream(t, (req, socket) => {
    // The gateway closes its connection (a FIN here); this raw upstream would only 'close' once it ended too.
    upClosed = once(socket, 'end');
    socket.on('error', () => undefined);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${req.headers.upgrade}\r\n\r\nready;`);
  });
  const gw = await gateway(t, up.port);
  const c = await rawUpgrade(gw.ports.PORT!, 'GET /leave HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n');
  await c.waitFor(/ready;/);
  c.socket.resetAndDestroy();
  assert.ok(upClosed !== undefined);
  await upClosed;
  const log = await logLine(gw, '/leave');
  assert.equal(log.status, 101);
  assert.equal(log.errorCode, 'client_closed');
});

test('a route requestTimeout bounds the wait for the 101, not the tunnel', { timeout: 30_000 }, async (t) => {
  const up = await upstream(t, (req, socket) => {
    if (req.url === '/slow') return; // never answers
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${req.headers.upgrade}\r\n\r\n`);
    socket.on('data', (d: Buffer) => socket.write(d));
  });
  const gw = await gateway(t, up.port, '      policies:\n        timeout:\n          requestTimeout: 300ms\n');
  const slow = await rawUpgrade(gw.ports.PORT!, 'GET /slow HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n');
  t.after(() => slow.socket.destroy());
  assert.match(await slow.waitFor(/timeout/), /^HTTP\/1\.1 504 /);
  const c = await rawUpgrade(gw.ports.PORT!, 'GET /long HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n');
  t.after(() => c.socket.destroy());
  await c.waitFor(/^HTTP\/1\.1 101 /);
  // Well past the deadline: the upstream logs nothing, so the tunnel's echo is the proof it is still open.
  await new Promise((r) => setTimeout(r, 700));
  c.socket.write('still-there?');
  await c.waitFor(/still-there\?/);
});

test('ext_proc sees the upgrade request (upgrade header, no body) and its 101, and may refuse or change either', { timeout: 60_000 }, async (t) => {
  const up = await upstream(t);
  const s = await setupExtProc(t, {
    config: (procHost) => routeConfig({ procHost, upPort: up.port, extra: processing({}) }),
    handlers: {
      onRequestHeaders: (msg) => {
        if (headerValue(msg, ':path') === '/deny') return reply.immediate({ status: 403, body: 'no sockets for you' });
        return reply.headers('request', { set: [['x-from-processor', `saw-${headerValue(msg, 'upgrade')}`]] });
      },
      onResponseHeaders: () => reply.headers('response', { set: [['x-checked', 'yes']] }),
    },
  });
  const ws = new WebSocket(`${s.url.replace('http', 'ws')}/ok`);
  t.after(() => ws.terminate());
  // Both listened for at once: the upstream's greeting can come in the same read as the 101.
  const upgraded = once(ws, 'upgrade');
  const greeting = once(ws, 'message');
  const [res] = (await upgraded) as [http.IncomingMessage];
  assert.equal(res.headers['x-checked'], 'yes', 'the processor changed the 101');
  const [first] = (await greeting) as [Buffer];
  assert.equal(first.toString(), 'hello 127.0.0.1 saw-websocket');
  ws.close();
  const req = s.proc.received[0]?.[0];
  assert.equal(req?.requestHeaders?.endOfStream, true, 'an upgrade request has no body');

  const denied = new WebSocket(`${s.url.replace('http', 'ws')}/deny`);
  const [, r] = (await once(denied, 'unexpected-response')) as [http.ClientRequest, http.IncomingMessage];
  assert.equal(r.statusCode, 403);
  let body = '';
  for await (const c of r) body += String(c);
  assert.equal(body, 'no sockets for you');
});

test('SIGTERM: an open tunnel keeps working through the drain, and is closed at its deadline', { timeout: 30_000 }, async (t) => {
  const up = await upstream(t, (req, socket) => {
    socket.on('error', () => undefined);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${req.headers.upgrade}\r\n\r\n`);
    socket.on('data', (d: Buffer) => socket.write(d));
  });
  const gw = await scopedGateway(t, routesConfig(`
    - backends:
      - host: 127.0.0.1:{{UP}}
`), { vars: { UP: up.port }, env: { CONNECTION_TERMINATION_DEADLINE: '1500ms' } });
  const c = await rawUpgrade(gw.ports.PORT!, 'GET /drain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n');
  t.after(() => c.socket.destroy());
  await c.waitFor(/^HTTP\/1\.1 101 /);
  const started = Date.now();
  gw.kill('SIGTERM');
  await gw.waitForLine((l) => l.includes('"msg":"draining"'));
  c.socket.write('during-drain;');
  await c.waitFor(/during-drain;/);
  assert.equal(gw.child.exitCode, null, 'the tunnel did not hold the drain');
  await once(c.socket, 'close');
  assert.equal((await gw.exited).code, 0);
  assert.ok(Date.now() - started >= 1000, 'closed at the deadline, not at once');
});

test('an AI backend tunnels a Realtime-style WebSocket, with its backendAuth key and the path and query kept', { timeout: 30_000 }, async (t) => {
  const up = await upstream(t);
  up.wss.removeAllListeners('connection');
  up.wss.on('connection', (ws, req) => ws.send(`${req.url} ${req.headers.authorization}`));
  const gw = await scopedGateway(t, routesConfig(`
    - backends:
      - ai: {name: openai, provider: {openAI: {}}, hostOverride: "127.0.0.1:{{UP}}"}
      policies:
        backendAuth: {key: sk-realtime-test}
`), { vars: { UP: up.port } });
  const ws = new WebSocket(`${gw.url().replace('http', 'ws')}/v1/realtime?model=gpt-realtime`);
  t.after(() => ws.terminate());
  const [first] = (await once(ws, 'message')) as [Buffer];
  assert.equal(first.toString(), '/v1/realtime?model=gpt-realtime Bearer sk-realtime-test');
  ws.close();
  const log = await logLine(gw, '/v1/realtime?model=gpt-realtime');
  assert.equal(log.status, 101);
  assert.ok(!JSON.stringify(log).includes('sk-realtime-test'), 'the key is never logged');
});
