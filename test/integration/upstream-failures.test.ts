/**
 * Upstream failures give 503 (connect), 502 (reset) or 504 (timeout) with a clear text/plain reason, never
 * crash the gateway and never leave the client hanging.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { request } from 'undici';
import { freePort } from '../helpers/ports.js';
import { routesConfig, scopedGateway, scopedUpstream } from '../helpers/gateway-fixtures.js';
import { h2Request, type H2Result } from '../helpers/http-clients.js';

test('refused, reset and timed-out upstreams map to 503/502/504 text/plain over HTTP/1.1 and HTTP/2', { timeout: 60_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const dead = await freePort();
  const gw = await scopedGateway(t, routesConfig(`
    - name: refused
      matches: [{path: {pathPrefix: /refused}}]
      backends: [{host: "127.0.0.1:${dead}"}]
    - name: slow
      matches: [{path: {pathPrefix: /slow}}]
      backends: [{host: "127.0.0.1:${up.port}"}]
      policies:
        timeout: {backendRequestTimeout: 300ms}
    - name: other
      backends: [{host: "127.0.0.1:${up.port}"}]
`));

  const check = async (path: string, status: number, text: RegExp): Promise<void> => {
    const r = await request(gw.url() + path);
    const body = await r.body.text();
    assert.equal(r.statusCode, status, `${path}: ${body}`);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.match(body, text);
  };
  await check('/refused', 503, new RegExp(`upstream connect error: connection refused to 127\\.0\\.0\\.1:${dead}`));

  up.setHandler(() => ({ reset: 'before-headers' }));
  await check('/reset', 502, /upstream reset/);

  up.setHandler(() => ({ delayMs: 5_000, body: 'late' }));
  const started = Date.now();
  await check('/slow', 504, /upstream timeout/);
  assert.ok(Date.now() - started < 4_000, 'the timeout fired, not the upstream');

  // Same failures seen by an HTTP/2 client (HTTP/2 upstream path).
  const client = http2.connect(gw.url());
  t.after(() => client.close());
  const h2get = (path: string): Promise<H2Result> => h2Request(client, { ':path': path });
  const refused = await h2get('/refused');
  assert.equal(refused.status, 503);
  assert.match(refused.body, /connection refused/);
  up.setHandler(() => ({ reset: 'before-headers' }));
  assert.equal((await h2get('/reset')).status, 502);

  // Still healthy afterwards.
  up.setHandler(() => ({ body: 'ok' }));
  const ok = await request(gw.url() + '/fine');
  assert.equal(await ok.body.text(), 'ok');
  assert.equal(gw.child.exitCode, null);
});

test('TLS upstreams: backendTLS root verifies, insecure skips verification, an untrusted certificate is a 503', { timeout: 30_000 }, async (t) => {
  const https = await import('node:https');
  const { readFileSync } = await import('node:fs');
  const tlsDir = new URL('../fixtures/tls/', import.meta.url);
  const server = https.createServer(
    { cert: readFileSync(new URL('server.crt', tlsDir)), key: readFileSync(new URL('server.key', tlsDir)) },
    (req, res) => res.end(`tls:${req.url}`),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as import('node:net').AddressInfo).port;
  t.after(() => {
    server.close();
    server.closeAllConnections();
  });
  const gw = await scopedGateway(t, routesConfig(`
    - name: verified
      matches: [{path: {pathPrefix: /verified}}]
      backends: [{host: "127.0.0.1:${port}"}]
      policies:
        backendTLS: {root: ${new URL('server.crt', tlsDir).pathname}}
    - name: insecure
      matches: [{path: {pathPrefix: /insecure}}]
      backends:
      - host: "127.0.0.1:${port}"
        policies:
          backendTLS: {insecure: true}
    - name: untrusted
      matches: [{path: {pathPrefix: /untrusted}}]
      backends: [{host: "https://127.0.0.1:${port}"}]
`));
  const verified = await request(gw.url() + '/verified');
  assert.equal(await verified.body.text(), 'tls:/verified');
  const insecure = await request(gw.url() + '/insecure');
  assert.equal(await insecure.body.text(), 'tls:/insecure');
  const untrusted = await request(gw.url() + '/untrusted');
  const body = await untrusted.body.text();
  assert.equal(untrusted.statusCode, 503, body);
  assert.match(body, /upstream connect error/);
});

/** Starts a raw upstream server on loopback and a gateway whose one route sends everything to it. */
async function gatewayBefore(t: TestContext, upstream: net.Server): Promise<Awaited<ReturnType<typeof scopedGateway>>> {
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  return scopedGateway(t, routesConfig(`
    - backends:
      - host: 127.0.0.1:{{UP}}
`), { vars: { UP: (upstream.address() as net.AddressInfo).port } });
}

test('a body delimited by connection close is complete on FIN and aborted on a reset (HTTP/1.1 and HTTP/2 clients)', { timeout: 30_000 }, async (t) => {
  // An HTTP/1.0-style upstream: neither content-length nor chunked, so the connection's end ends the body.
  // `/fin…` closes gracefully after the body; `/rst…` resets the connection instead (SO_LINGER 0).
  const upstream = net.createServer((socket) => {
    socket.once('data', (d: Buffer) => {
      const rst = / \/rst/.test(d.toString('latin1'));
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n${rst ? 'partial' : 'complete'}`, () => (rst ? socket.resetAndDestroy() : socket.end()));
    });
    socket.on('error', () => {});
  });
  const gw = await gatewayBefore(t, upstream);
  const access = async (path: string): Promise<Record<string, unknown>> =>
    JSON.parse(await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes(`"path":"${path}"`))) as Record<string, unknown>;

  // HTTP/1.1: a FIN-ended body arrives whole and clean; a reset one breaks the client response (no last chunk).
  const fin = await request(gw.url() + '/fin1');
  assert.equal(fin.statusCode, 200);
  assert.equal(await fin.body.text(), 'complete');
  assert.equal((await access('/fin1')).error ?? null, null);
  const rst = await request(gw.url() + '/rst1');
  assert.equal(rst.statusCode, 200);
  await assert.rejects(rst.body.text());
  assert.match(String((await access('/rst1')).error), /upstream reset/);

  // HTTP/2: END_STREAM after a FIN, RST_STREAM (no clean end) after a reset.
  const client = http2.connect(gw.url());
  t.after(() => client.close());
  const h2 = (path: string): Promise<{ status: number; body: string; ended: boolean }> =>
    new Promise((resolve) => {
      const s = client.request({ ':path': path });
      let status = 0;
      let body = '';
      let ended = false;
      s.on('response', (h) => (status = Number(h[':status'])));
      s.on('data', (c: Buffer) => (body += c.toString()));
      s.on('end', () => (ended = true));
      s.on('error', () => {});
      s.on('close', () => resolve({ status, body, ended }));
    });
  assert.deepEqual(await h2('/fin2'), { status: 200, body: 'complete', ended: true });
  assert.equal((await access('/fin2')).error ?? null, null);
  const reset = await h2('/rst2');
  assert.equal(reset.status, 200);
  assert.equal(reset.ended, false, 'a body cut off by a reset must not end cleanly');
  assert.match(String((await access('/rst2')).error), /upstream reset/);
  assert.equal(gw.child.exitCode, null);
});

test('HTTP/1.1: a response head goes out when the upstream sends it, so a body broken before its first byte is a visibly cut 200, not an empty reply', { timeout: 30_000 }, async (t) => {
  // `/held` sends its head, then its body only once the test has seen that head through the gateway.
  // `/broken` sends a good head and, in the same write, a chunk size no parser accepts.
  let release: (() => void) | undefined;
  const upstream = net.createServer((socket) => {
    socket.once('data', (d: Buffer) => {
      const line = d.toString('latin1');
      if (/ \/held/.test(line)) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n');
        release = () => socket.end('7\r\ndata: 1\r\n0\r\n\r\n');
      } else {
        socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffffff\r\nxx\r\n');
      }
    });
    socket.on('error', () => {});
  });
  const gw = await gatewayBefore(t, upstream);

  // The head arrives while the upstream still holds the body back (before, it waited for the first body byte).
  const held = await Promise.race([
    request(gw.url() + '/held'),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no response head while the upstream holds its body')), 5_000).unref()),
  ]);
  assert.equal(held.statusCode, 200);
  assert.equal(held.headers['content-type'], 'text/event-stream');
  assert.ok(release, 'the upstream got the request');
  release();
  assert.equal(await held.body.text(), 'data: 1');

  // A body that broke before its first byte: the client still gets the status line (before, the head waited for
  // a first byte that never came: an empty reply), then a chunked body with no last chunk, as Envoy answers it.
  const broken = await request(gw.url() + '/broken');
  assert.equal(broken.statusCode, 200);
  await assert.rejects(broken.body.text());
  const line = JSON.parse(await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes('"path":"/broken"'))) as Record<string, unknown>;
  assert.equal(line.errorCode, 'upstream_reset');
  assert.match(String(line.error), /Chunk size overflow/);
  // And the gateway serves on.
  release = undefined;
  const again = await request(gw.url() + '/held');
  release!();
  assert.equal(await again.body.text(), 'data: 1');
});
