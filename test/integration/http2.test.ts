/**
 * HTTP/2 downstream: h2c prior knowledge and HTTP/1.1 on the same plaintext port, concurrent streams,
 * HTTP/2 to the upstream, and TLS listeners negotiating h2 or http/1.1 by ALPN.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { Agent, request } from 'undici';
import { routesConfig, scopedGateway, scopedUpstream } from '../helpers/gateway-fixtures.js';
import { h2Request } from '../helpers/http-clients.js';

const TLS_DIR = new URL('../fixtures/tls/', import.meta.url);
const CA = readFileSync(new URL('server.crt', TLS_DIR), 'utf8');

test('h2c prior knowledge and HTTP/1.1 share one plaintext port; HTTP/2 goes upstream as HTTP/2', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const gw = await scopedGateway(t, routesConfig(`
    - backends: [{host: "127.0.0.1:${up.port}"}]
`));
  const client = http2.connect(gw.url());
  t.after(() => client.close());
  const r = await h2Request(client, { ':method': 'POST', ':path': '/h2?x=1', ':authority': 'svc.local', 'x-h2': 'yes' }, { body: 'h2 body' });
  assert.equal(r.status, 200);
  const echoed = JSON.parse(r.body) as { httpVersion: string; path: string; authority: string; body: string; headers: Record<string, string> };
  assert.equal(echoed.httpVersion, '2');
  assert.equal(echoed.path, '/h2?x=1');
  assert.equal(echoed.authority, 'svc.local');
  assert.equal(echoed.body, 'h2 body');
  assert.equal(echoed.headers['x-h2'], 'yes');
  assert.equal(echoed.headers['x-forwarded-proto'], 'http');

  // 20 concurrent streams on one connection.
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => h2Request(client, { ':path': `/n/${i}` })));
  many.forEach((m, i) => assert.equal((JSON.parse(m.body) as { path: string }).path, `/n/${i}`));

  // A bodyless HTTP/2 request reaches the upstream bodyless.
  const get = JSON.parse((await h2Request(client, { ':path': '/get' })).body) as { bodyBytes: number; headers: Record<string, string> };
  assert.equal(get.bodyBytes, 0);

  // The same port still speaks HTTP/1.1.
  const h1 = await request(gw.url() + '/h1');
  assert.equal((JSON.parse(await h1.body.text()) as { httpVersion: string }).httpVersion, '1.1');
});

test('TLS listener negotiates h2 and http/1.1 via ALPN', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const tlsPath = new URL('.', TLS_DIR).pathname;
  const gw = await scopedGateway(
    t,
    `
binds:
- port: {{PORT}}
  listeners:
  - name: secure
    protocol: HTTPS
    tls:
      cert: ${tlsPath}server.crt
      key: ${tlsPath}server.key
    routes:
    - backends: [{host: "127.0.0.1:${up.port}"}]
`,
  );
  const port = gw.ports.PORT!;
  const client = http2.connect(`https://localhost:${port}`, { ca: CA });
  t.after(() => client.close());
  const r = await h2Request(client, { ':path': '/secure-h2' });
  assert.equal(r.status, 200);
  const e = JSON.parse(r.body) as { httpVersion: string; headers: Record<string, string> };
  assert.equal(e.httpVersion, '2');
  assert.equal(e.headers['x-forwarded-proto'], 'https');

  const h1 = await new Promise<{ status: number; body: string; alpn: string | false | null }>((resolve, reject) => {
    const req = https.get(`https://localhost:${port}/secure-h1`, { ca: CA, ALPNProtocols: ['http/1.1'] } as https.RequestOptions, (res) => {
      let body = '';
      const alpn = (res.socket as import('node:tls').TLSSocket).alpnProtocol;
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, alpn }));
    });
    req.on('error', reject);
  });
  assert.equal(h1.status, 200);
  assert.equal(h1.alpn, 'http/1.1');
  assert.equal((JSON.parse(h1.body) as { path: string }).path, '/secure-h1');

  // undici with allowH2 negotiates h2 through the same listener.
  const agent = new Agent({ allowH2: true, connect: { ca: CA } });
  t.after(() => agent.close());
  const u = await request(`https://localhost:${port}/undici`, { dispatcher: agent });
  assert.equal((JSON.parse(await u.body.text()) as { httpVersion: string }).httpVersion, '2');
});

test('an HTTP/2 client reaches an HTTP/1.1-only backend (fallback), trailers included', { timeout: 30_000 }, async (t) => {
  const http = await import('node:http');
  const seen: { version: string; trailers: NodeJS.Dict<string>; body: string }[] = [];
  const plain = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ version: req.httpVersion, trailers: req.trailers, body });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.addTrailers({ 'x-h1-trailer': 'yes' });
      res.end('from h1');
    });
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  const port = (plain.address() as import('node:net').AddressInfo).port;
  t.after(() => {
    plain.close();
    plain.closeAllConnections();
  });
  const gw = await scopedGateway(t, routesConfig(`
    - backends: [{host: "127.0.0.1:${port}"}]
`));
  const client = http2.connect(gw.url());
  t.after(() => client.close());
  for (let i = 0; i < 2; i++) {
    const result = await h2Request(client, { ':method': 'POST', ':path': '/x' }, { body: 'up', trailers: { 'x-req-trailer': 'h2' } });
    assert.equal(result.status, 200);
    assert.equal(result.body, 'from h1');
    assert.equal(result.trailers['x-h1-trailer'], 'yes');
  }
  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.version, '1.1');
  assert.equal(seen[0]!.body, 'up');
  assert.equal(seen[0]!.trailers['x-req-trailer'], 'h2');
});

test('an HTTP/2 client resetting its stream aborts the upstream request', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t, { handler: () => ({ hang: true }) });
  const gw = await scopedGateway(t, routesConfig(`
    - backends: [{host: "127.0.0.1:${up.port}"}]
`));
  const client = http2.connect(gw.url());
  t.after(() => client.close());
  const s = client.request({ ':path': '/hang' });
  s.on('error', () => undefined);
  const seen = await up.nextRequest();
  s.close(http2.constants.NGHTTP2_CANCEL);
  await seen.closed;
  assert.equal(seen.aborted, true);
  // The connection is still usable for other streams.
  up.setHandler(() => ({ body: 'alive' }));
  assert.equal((await h2Request(client, { ':path': '/next' })).body, 'alive');
});

test('a TLS bind with several listeners picks the certificate by SNI and the listener by host', { timeout: 30_000 }, async (t) => {
  const a = await scopedUpstream(t, { handler: () => ({ body: 'default' }) });
  const b = await scopedUpstream(t, { handler: () => ({ body: 'other' }) });
  const tlsPath = new URL('.', TLS_DIR).pathname;
  const sniPath = new URL('../fixtures/tls-sni/', import.meta.url).pathname;
  const gw = await scopedGateway(
    t,
    `
binds:
- port: {{PORT}}
  listeners:
  - name: main
    hostname: localhost
    protocol: HTTPS
    tls: {cert: ${tlsPath}server.crt, key: ${tlsPath}server.key}
    routes:
    - backends: [{host: "127.0.0.1:${a.port}"}]
  - name: other
    hostname: "*.wild.test"
    protocol: HTTPS
    tls: {cert: ${sniPath}other.crt, key: ${sniPath}other.key}
    routes:
    - backends: [{host: "127.0.0.1:${b.port}"}]
`,
  );
  const otherCa = readFileSync(new URL('../fixtures/tls-sni/other.crt', import.meta.url), 'utf8');
  const port = gw.ports.PORT!;
  const get = (servername: string, ca: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port, path: '/', servername, ca, headers: { host: servername } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
    });
  // Each name verifies against its own certificate, so the right one was served.
  assert.equal(await get('localhost', CA), 'default');
  assert.equal(await get('api.wild.test', otherCa), 'other');
  await assert.rejects(get('api.wild.test', CA), /certificate|self.signed|altnames/i);
});
