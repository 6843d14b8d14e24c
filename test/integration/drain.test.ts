/**
 * Graceful shutdown of the real CLI: on SIGTERM readiness fails, new connections are refused, in-flight
 * requests complete, and the process exits 0; the drain is bounded; a second signal exits at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { gatedUpstream, routesConfig, scopedGateway, type TestScope } from '../helpers/gateway-fixtures.js';
import { h2Request } from '../helpers/http-clients.js';
import type { StartedGateway } from '../helpers/start-gateway.js';
import type { Upstream } from '../helpers/upstream.js';

const CONFIG = routesConfig(`
    - backends:
      - host: 127.0.0.1:{{UP}}
`);

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

function startWith(t: TestScope, up: Upstream, env: Record<string, string> = {}): Promise<StartedGateway> {
  return scopedGateway(t, CONFIG, { vars: { UP: up.port }, env });
}

test('SIGTERM: in-flight request completes, readiness fails, new connections are refused, exit 0', { timeout: 30_000 }, async (t) => {
  const { up, release } = await gatedUpstream(t);
  const gw = await startWith(t, up);
  const inflight = fetch(`${gw.url()}/slow`).then(async (r) => `${r.status} ${await r.text()}`);
  await up.nextRequest();
  gw.kill('SIGTERM');
  await gw.waitForLine((l) => l.includes('"msg":"draining"'));
  const ready = await fetch(gw.readyUrl);
  assert.equal(ready.status, 503);
  assert.match(await ready.text(), /not ready: draining/);
  assert.equal(await connectRefused(gw.ports.PORT!), true, 'a new connection was accepted while draining');
  assert.equal(gw.child.exitCode, null, 'exited before the in-flight request finished');
  release();
  assert.equal(await inflight, '200 finished');
  const { code, signal } = await gw.exited;
  assert.equal(signal, null);
  assert.equal(code, 0);
  assert.ok(gw.stdout.some((l) => l.includes('"msg":"stopped"')));
  // The in-flight request was access-logged before exit.
  assert.ok(gw.stdout.some((l) => l.includes('"kind":"access"') && l.includes('"status":200')));
});

test('the drain is bounded by CONNECTION_TERMINATION_DEADLINE', { timeout: 30_000 }, async (t) => {
  const { up, release } = await gatedUpstream(t);
  t.after(release);
  const gw = await startWith(t, up, { CONNECTION_TERMINATION_DEADLINE: '300ms' });
  const inflight = fetch(`${gw.url()}/stuck`).then(
    (r) => r.status,
    () => 'aborted',
  );
  await up.nextRequest();
  const start = Date.now();
  gw.kill('SIGTERM');
  const { code } = await gw.exited;
  assert.equal(code, 0);
  const took = Date.now() - start;
  assert.ok(took >= 250, `exited after ${took} ms, before the deadline`);
  assert.ok(took < 10_000, `drain took ${took} ms`);
  assert.notEqual(await inflight, 200);
  const stopped = JSON.parse(gw.stdout.find((l) => l.includes('"msg":"stopped"'))!) as { abandoned: number };
  assert.equal(stopped.abandoned, 1);
});

test('a second signal exits at once without waiting for the drain', { timeout: 30_000 }, async (t) => {
  const { up, release } = await gatedUpstream(t);
  t.after(release);
  const gw = await startWith(t, up);
  void fetch(`${gw.url()}/stuck`).catch(() => undefined);
  await up.nextRequest();
  gw.kill('SIGTERM');
  await gw.waitForLine((l) => l.includes('"msg":"draining"'));
  gw.kill('SIGINT');
  const { code } = await gw.exited;
  assert.equal(code, 1);
  assert.ok(gw.stdout.some((l) => l.includes('second signal')));
});

test('POST /quitquitquit on the admin server drains like SIGTERM', { timeout: 30_000 }, async (t) => {
  const { up, release } = await gatedUpstream(t);
  const gw = await startWith(t, up);
  const inflight = fetch(`${gw.url()}/slow`).then(async (r) => `${r.status} ${await r.text()}`);
  await up.nextRequest();
  assert.equal((await fetch(`${gw.adminUrl}/quitquitquit`)).status, 404, 'GET must not stop the gateway');
  const r = await fetch(`${gw.adminUrl}/quitquitquit`, { method: 'POST' });
  assert.equal(r.status, 200);
  await gw.waitForLine((l) => l.includes('"msg":"draining"'));
  release();
  assert.equal(await inflight, '200 finished');
  assert.equal((await gw.exited).code, 0);
});

test('SIGTERM with an HTTP/2 client: GOAWAY is sent, the in-flight stream completes, exit 0', { timeout: 30_000 }, async (t) => {
  const { up, release } = await gatedUpstream(t);
  const gw = await startWith(t, up);
  const session = http2.connect(gw.url());
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const goaway = once(session, 'goaway');
  const answer = h2Request(session, { ':path': '/slow-h2' });
  await up.nextRequest();
  gw.kill('SIGTERM');
  await goaway;
  release();
  assert.equal((await answer).body, 'finished');
  assert.equal((await gw.exited).code, 0);
});

test('CONNECTION_MIN_TERMINATION_DEADLINE: not ready but still serving for the hold, then drain and exit 0', { timeout: 30_000 }, async (t) => {
  const gw = await scopedGateway(
    t,
    routesConfig(`
    - policies:
        directResponse:
          body: still here
`),
    { env: { CONNECTION_MIN_TERMINATION_DEADLINE: '1500ms' } },
  );
  gw.kill('SIGTERM');
  await gw.waitForLine((l) => l.includes('holding before draining'));
  assert.equal((await fetch(gw.readyUrl)).status, 503);
  const r = await fetch(`${gw.url()}/x`, { headers: { connection: 'close' } }).catch((e: unknown) => e);
  assert.ok(r instanceof Response, `request during the hold failed: ${String(r)}`);
  assert.equal(await r.text(), 'still here');
  assert.equal(gw.child.exitCode, null);
  assert.equal((await gw.exited).code, 0);
});

test('SIGTERM: the last in-flight HTTP/2 stream gets its END_STREAM before the process exits', { timeout: 30_000 }, async (t) => {
  // The upstream sends the head and a first chunk, then holds the rest until released (after SIGTERM).
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const plain = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first;');
    void released.then(() => res.end('last'));
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  t.after(() => {
    release();
    plain.close();
    plain.closeAllConnections();
  });
  const gw = await scopedGateway(t, CONFIG, { vars: { UP: (plain.address() as net.AddressInfo).port } });
  const session = http2.connect(gw.url());
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const goaway = once(session, 'goaway');
  const st = session.request({ ':path': '/slow-h2' });
  st.on('error', () => undefined);
  let body = '';
  let ended = false;
  const firstChunk = new Promise<void>((resolve) => st.once('data', () => resolve()));
  st.on('data', (c: Buffer) => (body += c.toString()));
  st.on('end', () => (ended = true));
  const closed = new Promise<void>((resolve) => st.once('close', () => resolve()));
  await firstChunk;
  gw.kill('SIGTERM');
  await goaway;
  release();
  await closed;
  assert.equal(ended, true, 'the stream was cut before its END_STREAM');
  assert.equal(st.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  assert.equal(body, 'first;last');
  assert.equal((await gw.exited).code, 0);
});
