/**
 * HTTP/2 downstream: h2c prior knowledge and HTTP/1.1 on the same plaintext port, concurrent streams,
 * HTTP/2 to the upstream, and TLS listeners negotiating h2 or http/1.1 by ALPN.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { Agent, request } from 'undici';
import { routesConfig, scopedGateway, scopedProcessor, scopedUpstream, type TestScope } from '../helpers/gateway-fixtures.js';
import { endStreamAt, FRAME, rawH2Upload } from '../helpers/h2-frames.js';
import { h2Request } from '../helpers/http-clients.js';
import type { StartedGateway } from '../helpers/start-gateway.js';

const TLS_DIR = new URL('../fixtures/tls/', import.meta.url);
const CA = readFileSync(new URL('server.crt', TLS_DIR), 'utf8');

test('h2c prior knowledge and HTTP/1.1 share one plaintext port; HTTP/2 goes upstream as HTTP/2', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const { gw, client } = await h2cGateway(t, up.port);
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
  const { gw, client } = await h2cGateway(t, port);
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
  const { gw, client } = await h2cGateway(t, up.port);
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

/** What a node:http2 client saw for an upload it never finished. */
interface UnfinishedUpload {
  readonly status: number | undefined;
  readonly body: string;
  /** The response's END_STREAM arrived ('end' on the readable side). */
  readonly ended: boolean;
  /** The stream closed (it did not stay open until `timeoutMs`); `rstCode` is then its close code. */
  readonly closed: boolean;
  readonly rstCode: number | undefined;
}

/** Sends `bytes` of body on a new stream and never ends the upload; resolves when the stream closes or at `timeoutMs`. */
function h2UnfinishedUpload(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, bytes: number, timeoutMs = 10_000): Promise<UnfinishedUpload> {
  return new Promise((resolve) => {
    const st = session.request({ ':method': 'POST', ...headers });
    let status: number | undefined;
    let body = '';
    let ended = false;
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      resolve({ status, body, ended, closed, rstCode: closed ? st.rstCode : undefined });
    };
    const timer = setTimeout(() => {
      done(false);
      st.close(http2.constants.NGHTTP2_CANCEL);
    }, timeoutMs);
    st.on('response', (h) => (status = Number(h[':status'])));
    st.on('data', (c: Buffer) => (body += c.toString()));
    st.on('end', () => (ended = true));
    st.on('error', () => undefined);
    st.on('close', () => done(true));
    st.write(Buffer.alloc(bytes, 'a'));
  });
}

/**
 * An early answer to an unfinished upload (RFC 9113 §8.1): the whole response (head, body, END_STREAM) first,
 * then RST_STREAM(NO_ERROR) so the client stops sending; never CANCEL before the response, never left open.
 */
async function assertEarlyResponseThenNoError(gw: StartedGateway, path: string, headers: ReadonlyArray<readonly [string, string]>, bodyPattern: RegExp): Promise<void> {
  const port = gw.ports.PORT!;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  try {
    const r = await h2UnfinishedUpload(session, { ':path': path, ...Object.fromEntries(headers) }, 1024 * 1024);
    assert.equal(r.status, 413, `no 413 (stream closed: ${r.closed}, rst code ${r.rstCode})`);
    assert.match(r.body, bodyPattern);
    assert.equal(r.ended, true, 'the response did not end (END_STREAM)');
    assert.equal(r.closed, true, 'the stream stayed open: the client upload never ends');
    assert.equal(r.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  } finally {
    session.close();
  }
  // On the wire: HEADERS, then END_STREAM, then RST_STREAM(NO_ERROR).
  const raw = await rawH2Upload(port, path, headers, 60_000);
  assert.equal(raw.outcome, 'reset', `stream 1 was not reset (${raw.outcome})`);
  const rst = raw.frames.at(-1)!;
  assert.equal(rst.payload.readUInt32BE(0), http2.constants.NGHTTP2_NO_ERROR, 'RST_STREAM code');
  const seen = JSON.stringify(raw.frames.map((f) => [f.type, f.flags]));
  const head = raw.frames.findIndex((f) => f.type === FRAME.HEADERS);
  const end = endStreamAt(raw.frames);
  assert.ok(head >= 0 && head <= end, `no response HEADERS before END_STREAM (frames [type, flags]: ${seen})`);
  assert.ok(end >= 0 && end < raw.frames.length - 1, `END_STREAM not sent before RST_STREAM (frames [type, flags]: ${seen})`);
  // Both clients are gone, so nothing is left to drain: the reset streams did not keep their sessions open.
  gw.kill('SIGTERM');
  assert.equal((await gw.exited).code, 0);
  const stopped = JSON.parse(gw.stdout.find((l) => l.includes('"msg":"stopped"'))!) as { drainedMs: number };
  assert.ok(stopped.drainedMs < 5_000, `the drain waited ${stopped.drainedMs} ms for connections whose clients left`);
}

/** The drain deadline for gateways whose drain must not wait on anything (well past the 5 s asserted). */
const LONG_DRAIN = { env: { CONNECTION_TERMINATION_DEADLINE: '20s' } };

test('HTTP/2: a request body over maxBufferSize on an ai route gets the whole 413, then RST_STREAM(NO_ERROR)', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const gw = await scopedGateway(
    t,
    `frontendPolicies:\n  http:\n    maxBufferSize: 1024\n${routesConfig(`
    - backends:
      - ai:
          name: local
          provider: {openAI: {model: forced-model}}
          hostOverride: 127.0.0.1:${up.port}
`)}`,
    LONG_DRAIN,
  );
  await assertEarlyResponseThenNoError(gw, '/v1/chat/completions', [['content-type', 'application/json']], /maxBufferSize/);
  assert.equal(up.requests.length, 0);
});

test('HTTP/2: a request body over maxBufferSize in ext_proc buffered mode gets the 413, then RST_STREAM(NO_ERROR)', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const proc = await scopedProcessor(t, {});
  const gw = await scopedGateway(
    t,
    `frontendPolicies:\n  http:\n    maxBufferSize: 1024\n${routesConfig(`
    - backends: [{host: "127.0.0.1:${up.port}"}]
      policies:
        extProc:
          host: "${proc}"
          processingOptions: {requestBodyMode: buffered, responseBodyMode: none}
`)}`,
    LONG_DRAIN,
  );
  await assertEarlyResponseThenNoError(gw, '/echo', [['content-type', 'text/plain']], /maxBufferSize/);
  assert.equal(up.requests.length, 0);
});

/**
 * A raw HTTP/1.1 upstream that answers every connection with `answer(path)` and closes it (it answers an HTTP/2
 * preface with HTTP/1.1 too, so the gateway falls back to HTTP/1.1 for it).
 */
/** A gateway with one route to 127.0.0.1:`port`, and an h2c client session to it (closed after the test). */
async function h2cGateway(t: TestScope, port: number): Promise<{ gw: StartedGateway; client: http2.ClientHttp2Session }> {
  const gw = await scopedGateway(t, routesConfig(`
    - backends: [{host: "127.0.0.1:${port}"}]
`));
  const client = http2.connect(gw.url());
  client.on('error', () => undefined);
  t.after(() => client.close());
  return { gw, client };
}

async function rawUpstream(t: { after: (fn: () => void) => void }, answer: (path: string) => string): Promise<number> {
  const raw = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (c: Buffer) => {
      const path = /^[A-Z]+ (\S+)/.exec(c.toString('latin1'))?.[1] ?? '';
      socket.write(answer(path), () => socket.destroy());
    });
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  t.after(() => raw.close());
  return (raw.address() as net.AddressInfo).port;
}

test('an upstream 204 or 304 carrying content-length gives HTTP/2 clients a valid response (no content-length)', { timeout: 30_000 }, async (t) => {
  const heads: Record<string, string> = {
    '/204': 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nX-Up: 1\r\n\r\n',
    '/304': 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 100\r\n\r\n',
  };
  const port = await rawUpstream(t, (path) => heads[path] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  const { gw, client } = await h2cGateway(t, port);
  const r204 = await h2Request(client, { ':path': '/204' });
  assert.equal(r204.status, 204);
  assert.equal(r204.headers['content-length'], undefined);
  assert.equal(r204.headers['x-up'], '1');
  assert.equal(r204.body, '');
  const r304 = await h2Request(client, { ':path': '/304' });
  assert.equal(r304.status, 304);
  assert.equal(r304.headers['content-length'], undefined);
  assert.equal(r304.headers.etag, '"x"');
  // HTTP/1.1 clients: no content-length on the 204 either (RFC 9110 8.6); a 304 may keep its own.
  const h1 = await request(gw.url() + '/204');
  assert.equal(h1.statusCode, 204);
  assert.equal(h1.headers['content-length'], undefined);
  assert.equal(await h1.body.text(), '');
});

test('HTTP/2: bytesOut in the access log counts the bytes written before the response failed', { timeout: 30_000 }, async (t) => {
  // 1000 of the announced 2000 body bytes, then the upstream connection closes.
  const port = await rawUpstream(t, () => `HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n${'x'.repeat(1000)}`);
  const { gw, client } = await h2cGateway(t, port);
  const got = await new Promise<{ bytes: number; rstCode: number }>((resolve) => {
    const st = client.request({ ':path': '/dies-mid-body' });
    let bytes = 0;
    st.on('data', (c: Buffer) => (bytes += c.length));
    st.on('error', () => undefined);
    st.on('close', () => resolve({ bytes, rstCode: st.rstCode }));
  });
  assert.equal(got.bytes, 1000);
  assert.notEqual(got.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'a truncated body ended cleanly');
  const line = await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes('/dies-mid-body'));
  const rec = JSON.parse(line) as { protocol: string; bytesOut: number; error?: string };
  assert.equal(rec.protocol, 'HTTP/2');
  assert.ok(rec.error !== undefined, 'the failure was not logged');
  assert.equal(rec.bytesOut, 1000);
});

test('HTTP/2: an upstream that answers before the upload ended and reads on never gets a cut body that looks whole', { timeout: 30_000 }, async (t) => {
  // An HTTP/2 upstream that answers at once, then keeps reading the request body.
  let upDone!: (r: { ended: boolean; bytes: number }) => void;
  const upSeen = new Promise<{ ended: boolean; bytes: number }>((r) => (upDone = r));
  const early = http2.createServer();
  early.on('stream', (st) => {
    let bytes = 0;
    st.on('error', () => undefined);
    st.on('data', (c: Buffer) => (bytes += c.length));
    // node ends a server stream's readable side when the stream closes, a reset included: only rstCode 0 at close
    // says the client's END_STREAM came.
    st.once('close', () => upDone({ ended: st.rstCode === http2.constants.NGHTTP2_NO_ERROR, bytes }));
    st.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': '5' });
    st.end('early');
  });
  await new Promise<void>((r) => early.listen(0, '127.0.0.1', r));
  t.after(() => early.close());
  const { client: session } = await h2cGateway(t, (early.address() as net.AddressInfo).port);
  const size = 4 * 1024 * 1024;
  const r = await new Promise<{ status: number; body: string; rstCode: number }>((resolve) => {
    const st = session.request({ ':method': 'POST', ':path': '/upload' });
    let status = 0;
    let body = '';
    st.on('response', (h) => (status = Number(h[':status'])));
    st.on('data', (c: Buffer) => (body += c.toString()));
    st.on('error', () => undefined);
    st.on('close', () => resolve({ status, body, rstCode: st.rstCode }));
    st.end(Buffer.alloc(size, 'a'));
  });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'early');
  const up = await upSeen;
  // Either the whole body arrived, or the upstream saw it cut (a reset, no END_STREAM): never a short body that
  // ended cleanly. (Usually the whole body: the gateway cuts the upload only when, at the moment the response is
  // complete, the upstream is not waiting for the next chunk; one stalled on flow control right then is cut, visibly.)
  assert.ok(up.bytes === size || !up.ended, `the upstream got ${up.bytes} of ${size} bytes as a complete body`);
});

test('HTTP/2: a client that resets mid-upload makes the upstream stream reset, never end cleanly with a cut body', { timeout: 30_000 }, async (t) => {
  // An h2c upstream that answers nothing and notes how each request body ended.
  const ends: Array<{ bytes: number; how: 'end' | 'reset' }> = [];
  let onEnd: (() => void) | undefined;
  const upstream = http2.createServer();
  upstream.on('stream', (stream) => {
    let bytes = 0;
    let done = false;
    const note = (how: 'end' | 'reset'): void => {
      if (done) return;
      done = true;
      ends.push({ bytes, how });
      onEnd?.();
    };
    stream.on('data', (c: Buffer) => (bytes += c.length));
    stream.on('end', () => note('end'));
    stream.on('aborted', () => note('reset'));
    stream.on('close', () => note(stream.rstCode === 0 ? 'end' : 'reset'));
    stream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const port = (upstream.address() as net.AddressInfo).port;
  const { gw, client } = await h2cGateway(t, port);
  const ended = new Promise<void>((resolve) => (onEnd = resolve));
  const s = client.request({ ':method': 'POST', ':path': '/upload' });
  s.on('error', () => undefined);
  s.write(Buffer.alloc(200_000, 'a'));
  // The PING's ACK comes after the DATA before it was read: the gateway is forwarding the upload by then.
  await new Promise<void>((resolve) => client.ping(() => resolve()));
  s.close(http2.constants.NGHTTP2_CANCEL);
  await ended;
  assert.equal(ends[0]!.how, 'reset', `the upstream saw ${JSON.stringify(ends[0])}`);
});

test('HTTP/2 end to end: an upstream stream reset mid-body resets the client stream, never ends it cleanly', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t, { handler: () => ({ status: 200, body: ['first chunk', 'never sent'], reset: 'mid-body' }) });
  const { gw, client } = await h2cGateway(t, up.port);
  const st = client.request({ ':path': '/dies' });
  let got = '';
  st.setEncoding('utf8');
  st.on('data', (c: string) => (got += c));
  const how = await new Promise<string>((resolve) => {
    st.on('end', () => resolve('end'));
    st.on('error', () => resolve(`error ${st.rstCode}`));
    st.on('close', () => resolve(`close ${st.rstCode}`));
  });
  assert.notEqual(how, 'end', `the client stream ended cleanly after ${JSON.stringify(got)}`);
  assert.equal(up.requests[0]!.httpVersion, '2', 'the upstream leg was HTTP/2');
  assert.doesNotMatch(got, /never sent/);
});

test('HTTP/2: a :path that is not origin-form is a malformed request (stream reset), never routed literally', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const { client } = await h2cGateway(t, up.port);
  for (const path of ['http://127.0.0.1/_stats', '*', 'x']) {
    const code = await new Promise<number>((resolve) => {
      const st = client.request({ ':path': path });
      st.on('error', () => undefined);
      st.on('response', () => resolve(-1));
      st.on('close', () => resolve(st.rstCode));
      st.resume();
    });
    assert.equal(code, http2.constants.NGHTTP2_PROTOCOL_ERROR, path);
  }
  assert.equal(up.requests.length, 0);
  // The session is still usable.
  assert.equal((await h2Request(client, { ':path': '/ok' })).status, 200);
});
