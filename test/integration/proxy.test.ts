/**
 * HTTP/1.1 proxying through the real CLI: headers (hop-by-hop, x-forwarded-*, host), streaming upload and
 * download with flat gateway memory, client abort reaching the upstream, and no silent truncation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { routesConfig, scopedGateway, scopedUpstream, type TestScope } from '../helpers/gateway-fixtures.js';
import type { StartedGateway } from '../helpers/start-gateway.js';
import type { Upstream, UpReply } from '../helpers/upstream.js';
import { digest, generated, generatedSha256, memoryOf } from '../helpers/streams.js';

const MiB = 1024 * 1024;

async function setup(t: TestScope): Promise<{ gw: StartedGateway; up: Upstream }> {
  const up = await scopedUpstream(t, { keepBody: false });
  const gw = await scopedGateway(
    t,
    routesConfig(`
    - backends:
      - host: 127.0.0.1:{{UP}}
`),
    { vars: { UP: up.port } },
  );
  return { gw, up };
}

/** A gateway whose one route goes to a raw TCP upstream on 127.0.0.1 that `onConnection` drives. */
async function rawUpstreamGateway(t: TestScope, onConnection: (socket: Socket) => void): Promise<StartedGateway> {
  const upstream = createServer(onConnection);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const port = (upstream.address() as AddressInfo).port;
  return scopedGateway(t, routesConfig(`
    - backends:
      - host: 127.0.0.1:{{UP}}
`), { vars: { UP: port } });
}

test('HTTP/1.1 proxying: headers, x-forwarded-*, host kept, hop-by-hop stripped both ways', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  up.setHandler(() => ({
    status: 201,
    headers: { 'x-up': 'yes', connection: 'x-up-hop', 'x-up-hop': 'secret', 'keep-alive': 'timeout=5' },
    body: 'created',
  }));
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const r = http.request(gw.url() + '/items/7?q=1', {
      method: 'PUT',
      headers: {
        host: 'shop.example.com',
        'x-forwarded-for': '10.0.0.1',
        connection: 'keep-alive, x-drop-me',
        'x-drop-me': '1',
        'proxy-authorization': 'Basic abc',
        'x-keep': 'kept',
        'content-type': 'text/plain',
      },
    });
    r.on('response', resolve).on('error', reject);
    r.end('payload');
  });
  let body = '';
  for await (const c of res) body += c;
  assert.equal(res.statusCode, 201);
  assert.equal(body, 'created');
  assert.equal(res.headers['x-up'], 'yes');
  assert.equal(res.headers['x-up-hop'], undefined, 'Connection-nominated response header must not reach the client');

  const seen = up.requests[0]!;
  assert.equal(seen.method, 'PUT');
  assert.equal(seen.path, '/items/7?q=1');
  assert.equal(seen.headers.host, 'shop.example.com');
  assert.equal(seen.headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-keep'], 'kept');
  assert.equal(seen.headers['x-drop-me'], undefined);
  assert.equal(seen.headers['proxy-authorization'], undefined);
  assert.equal(seen.bodyBytes, 7);
});

test('a chunked upload reaches the upstream with exactly one Host: the client\'s', { timeout: 30_000 }, async (t) => {
  // A raw upstream that keeps the request head as it came on the wire (node's parser would fold two Hosts into one).
  const heads: string[] = [];
  const gw = await rawUpstreamGateway(t, (socket) => {
    let buf = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      buf += d;
      if (!buf.includes('\r\n0\r\n\r\n')) return;
      heads.push(buf.slice(0, buf.indexOf('\r\n\r\n')));
      buf = '';
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
  });
  const res = await request(gw.url() + '/upload', { method: 'POST', headers: { host: 'shop.example.com' }, body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]) });
  assert.equal(await res.body.text(), 'ok');
  assert.equal(heads.length, 1);
  const hosts = heads[0]!.split('\r\n').filter((l) => /^host:/i.test(l));
  assert.deepEqual(hosts.map((l) => l.slice(5).trim()), ['shop.example.com'], heads[0]);
  assert.match(heads[0]!, /\r\ntransfer-encoding: chunked/i);
});

test('response header values with bytes above 0x7f (obs-text) reach the client byte for byte', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  // node writes header strings as latin1: each char below 0x100 is one byte on the wire.
  up.setHandler(() => ({ status: 200, headers: { 'x-latin': 'caf\u00e9 \u00ff\u0080 ok' }, body: 'ok' }));
  const res = await request(gw.url() + '/');
  await res.body.text();
  assert.equal(res.statusCode, 200);
  // undici hands header values to the client decoded as latin1 too, so the string is the bytes.
  assert.equal(Buffer.from(res.headers['x-latin'] as string, 'latin1').toString('hex'), Buffer.from('caf\u00e9 \u00ff\u0080 ok', 'latin1').toString('hex'));
});

test('a response whose upstream connection drops right after its last declared byte reaches the client whole', { timeout: 30_000 }, async (t) => {
  // Sends a complete content-length response, then resets the connection at once (no graceful close).
  const gw = await rawUpstreamGateway(t, (socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 11\r\n\r\nhello world', () => socket.resetAndDestroy());
    });
  });
  for (let i = 0; i < 3; i++) {
    const res = await request(gw.url() + `/r${i}`);
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'hello world');
  }
});

test('256 MiB upload (content-length and chunked) and download stream with flat gateway memory', { timeout: 120_000 }, async (t) => {
  const { gw, up } = await setup(t);
  const pid = gw.child.pid!;
  // Warm up so the baseline includes the code paths and pools.
  await (await request(gw.url() + '/warm', { method: 'POST', body: 'x' })).body.text();
  const before = memoryOf(pid);
  // 256 MiB: V8 collects garbage Buffers only once ~64 MiB of external memory piled up, so a smaller body
  // could not tell streaming from buffering apart by RSS.
  const size = 256 * MiB;

  // Bounded: a stall fails the test quickly instead of waiting for the runner's timeout.
  const signal = AbortSignal.timeout(100_000);
  const sized = await request(gw.url() + '/upload', { method: 'POST', body: Readable.from(generated(size)), headers: { 'content-length': String(size) }, signal });
  const echoed = (await sized.body.json()) as { bodyBytes: number; bodySha256: string };
  assert.equal(sized.statusCode, 200);
  assert.equal(echoed.bodyBytes, size);
  assert.equal(echoed.bodySha256, generatedSha256(size));

  const chunked = await request(gw.url() + '/upload-chunked', { method: 'POST', body: Readable.from(generated(size)), signal });
  const echoed2 = (await chunked.body.json()) as { bodyBytes: number; bodySha256: string; headers: Record<string, string> };
  assert.equal(echoed2.bodyBytes, size);
  assert.equal(echoed2.bodySha256, generatedSha256(size));

  up.setHandler(() => ({ status: 200, headers: { 'content-type': 'application/octet-stream' }, body: { size } }));
  const down = await request(gw.url() + '/download', { signal });
  const got = await digest(down.body);
  assert.equal(got.bytes, size);
  assert.equal(got.sha256, generatedSha256(size));

  const after = memoryOf(pid);
  const grew = after.peak - before.peak;
  t.diagnostic(`gateway peak RSS +${(grew / MiB).toFixed(1)} MiB over 3 × 256 MiB`);
  assert.ok(grew < 100 * MiB, `gateway peak RSS grew by ${(grew / MiB).toFixed(1)} MiB while streaming 3 × 256 MiB`);
});

test('1 GiB upload with flat memory (TOLLGATE_LONG_TESTS=1)', { timeout: 600_000, skip: process.env.TOLLGATE_LONG_TESTS !== '1' }, async (t) => {
  const { gw } = await setup(t);
  const pid = gw.child.pid!;
  await (await request(gw.url() + '/warm')).body.text();
  const before = memoryOf(pid);
  const size = 1024 * MiB;
  const res = await request(gw.url() + '/upload', { method: 'POST', body: Readable.from(generated(size)), headers: { 'content-length': String(size) } });
  const echoed = (await res.body.json()) as { bodyBytes: number };
  assert.equal(echoed.bodyBytes, size);
  const grew = memoryOf(pid).peak - before.peak;
  assert.ok(grew < 128 * MiB, `gateway peak RSS grew by ${(grew / MiB).toFixed(1)} MiB for a 1 GiB upload`);
});

test('a client abort aborts the upstream request', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  up.setHandler(() => ({ hang: true }));
  const ac = new AbortController();
  const pending = request(gw.url() + '/hang', { signal: ac.signal }).catch((e: unknown) => e);
  const seen = await up.nextRequest();
  ac.abort();
  await pending;
  await seen.closed;
  assert.equal(seen.aborted, true);
  // Logged as the client's doing (499), not as a malformed request or an upstream fault.
  const line = JSON.parse(await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes('"path":"/hang"'))) as Record<string, unknown>;
  assert.equal(line.errorCode, 'client_closed');
  assert.equal(line.status, 499);
});

test('a client that pipelines two requests and leaves aborts both upstream requests', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  up.setHandler(() => ({ hang: true }));
  const net = await import('node:net');
  const s = net.connect(gw.ports.PORT!, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.on('error', () => undefined);
  // The second response queues behind the first, which never comes: node emits no 'close' on it.
  s.write('GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n');
  const first = await up.nextRequest();
  const second = await up.nextRequest();
  s.destroy();
  await Promise.all([first.closed, second.closed]);
  assert.equal(first.aborted, true);
  assert.equal(second.aborted, true);
});

test('a client that stops reading a large download and then leaves aborts the upstream response', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  up.setHandler(() => ({ status: 200, body: { size: 256 * MiB } }));
  const net = await import('node:net');
  const s = net.connect(gw.ports.PORT!, '127.0.0.1');
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n');
  // Read the first bytes, then stop: the gateway's socket fills and its writer waits for 'drain'.
  await new Promise<void>((r) => s.once('data', () => r()));
  s.pause();
  const seen = await up.nextRequest();
  s.destroy();
  await seen.closed;
  assert.equal(seen.aborted, true, 'the upstream response was abandoned, not streamed to the end');
  // The gateway is still serving.
  up.setHandler(() => ({ status: 200, body: 'fine' }));
  assert.equal(await (await request(gw.url() + '/ok')).body.text(), 'fine');
});

test('an upstream failing mid-body breaks the client response instead of ending it cleanly', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  up.setHandler(() => ({ status: 200, body: ['first chunk', 'never sent'], reset: 'mid-body' }));
  const res = await request(gw.url() + '/broken');
  assert.equal(res.statusCode, 200);
  await assert.rejects(res.body.text());
  // The gateway is still serving.
  up.setHandler(() => ({ status: 200, body: 'fine' }));
  assert.equal(await (await request(gw.url() + '/ok')).body.text(), 'fine');
});

test('malformed HTTP/1.1 requests get 400 text/plain and the gateway keeps serving', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  const net = await import('node:net');
  const raw = (text: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = net.connect(gw.ports.PORT!, '127.0.0.1', () => s.write(text));
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('end', () => resolve(got));
      s.on('error', reject);
    });
  const bad = await raw('GET / HTTP/1.1\r\nHost: a\r\nthis is not a header\r\n\r\n');
  assert.match(bad, /^HTTP\/1\.1 400 /);
  assert.match(bad, /content-type: text\/plain/i);
  const noHost = await raw('GET / HTTP/1.1\r\n\r\n');
  assert.match(noHost, /^HTTP\/1\.1 400 /);
  assert.match(noHost, /missing Host header/);
  // RFC 9112 3.2: two Hosts are a 400 (node would keep the first, and a server behind might read the other).
  // Request heads past 64 KiB: 431, as HTTP/2 and Envoy answer (node's own default would be 16 KiB and a 400).
  const huge = await raw(`GET / HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
  assert.match(huge, /^HTTP\/1\.1 431 /);
  assert.match(huge, /request headers larger than 65536 bytes/);
  // A tunnel request gets an answer, not a silent close.
  const connect = await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.match(connect, /^HTTP\/1\.1 501 /);
  const twoHosts = await raw('GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\nConnection: close\r\n\r\n');
  assert.match(twoHosts, /^HTTP\/1\.1 400 /);
  assert.match(twoHosts, /more than one Host header/);
  assert.equal(up.requests.length, 0);
  const ok = await request(gw.url() + '/after');
  assert.equal(ok.statusCode, 200);
  await ok.body.text();

  // Each refusal has its access-log line (no route, errorCode bad_request, the status sent, why) and counts in
  // the request metrics, so an operator can see clients being refused. The raw bytes never reach the log.
  const lines = async (n: number, pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>[]> => {
    const found: Record<string, unknown>[] = [];
    await gw.waitForLine((l) => {
      if (!l.includes('"kind":"access"')) return false;
      const line = JSON.parse(l) as Record<string, unknown>;
      if (pred(line) && !found.some((f) => f.id === line.id)) found.push(line);
      return found.length >= n;
    });
    return found;
  };
  const refused = await lines(5, (l) => l.errorCode === 'bad_request' && l.route === null);
  const byStatus = (status: number): Record<string, unknown>[] => refused.filter((l) => l.status === status);
  assert.equal(byStatus(400).length, 3, JSON.stringify(refused));
  assert.ok(byStatus(400).some((l) => /^malformed request: Parse Error/.test(String(l.error))), JSON.stringify(byStatus(400)));
  assert.ok(byStatus(400).some((l) => l.error === 'more than one Host header' && l.path === '/'));
  assert.ok(byStatus(400).some((l) => l.error === 'missing Host header'));
  assert.match(String(byStatus(431)[0]?.error), /request headers larger than 65536 bytes/);
  assert.deepEqual([byStatus(501)[0]?.method, byStatus(501)[0]?.path], ['CONNECT', 'example.com:443']);
  for (const l of refused) assert.ok(!String(l.error).includes('this is not a header') && !String(l.error).includes('aaaa'));
  const metrics = await (await request(gw.statsUrl + '/metrics')).body.text();
  const count = (status: number): number =>
    metrics.split('\n').filter((l) => l.startsWith('tollgate_requests_total{') && l.includes(`status="${status}"`) && l.includes('route=""')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  assert.deepEqual([count(400), count(431), count(501)], [3, 1, 1], metrics);
});

test('absolute-form targets route and forward as origin-form with their own host; other targets and unknown codings are refused', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const gw = await scopedGateway(
    t,
    routesConfig(`
    - name: blocked
      matches: [{path: {pathPrefix: /_stats}}]
      policies:
        directResponse: {body: denied, status: 403}
    - name: rest
      backends:
      - host: 127.0.0.1:{{UP}}
`),
    { vars: { UP: up.port } },
  );
  const net = await import('node:net');
  const raw = (text: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = net.connect(gw.ports.PORT!, '127.0.0.1', () => s.write(text));
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString('latin1')));
      s.on('end', () => resolve(got));
      s.on('error', reject);
    });
  // A deny rule written as a path route holds for a proxy-style request too.
  const denied = await raw('GET http://127.0.0.1/_stats HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  assert.match(denied, /^HTTP\/1\.1 403 /);
  assert.equal(up.requests.length, 0);
  // The target's host wins over Host (RFC 9112 3.2.2); the upstream gets origin-form.
  const ok = await raw('GET http://shop.example.com:8080/items?x=1 HTTP/1.1\r\nHost: wrong.example\r\nConnection: close\r\n\r\n');
  assert.match(ok, /^HTTP\/1\.1 200 /);
  const seen = up.requests[0]!;
  assert.equal(seen.path, '/items?x=1');
  assert.equal(seen.headers.host, 'shop.example.com:8080');
  const bare = await raw('GET HTTPS://shop.example.com?q HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  assert.match(bare, /^HTTP\/1\.1 200 /);
  assert.equal(up.requests[1]!.path, '/?q');
  // Asterisk-form, a bare word, or userinfo: 400 from the gateway, never an upstream error.
  // (node's own parser refuses a bare word first.)
  for (const target of ['*', 'foo', 'http://user@h/x', 'http:///x']) {
    const r = await raw(`OPTIONS ${target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 400 /, target);
    if (target !== 'foo') assert.match(r, /request target must be/, target);
  }
  // A transfer coding before chunked would reach the upstream undone: 501, as Envoy answers.
  const gz = await raw('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
  assert.match(gz, /^HTTP\/1\.1 501 /);
  assert.match(gz, /transfer-encoding "gzip, chunked" is not supported/);
  assert.equal(up.requests.length, 2);
});

test('an error answered before the client finished its upload says Connection: close', { timeout: 30_000 }, async (t) => {
  const gw = await scopedGateway(t, routesConfig(`
    - name: deny
      policies:
        directResponse: {body: denied, status: 403}
`));
  const { connect } = await import('node:net');
  const head = await new Promise<string>((resolve, reject) => {
    const s = connect(gw.ports.PORT!, '127.0.0.1', () => {
      // 1 MB announced, 10 bytes sent: the gateway answers before the upload is complete.
      s.write('POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n0123456789');
    });
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.includes('denied')) {
        resolve(got);
        s.destroy();
      }
    });
    s.on('error', reject);
  });
  assert.match(head, /^HTTP\/1\.1 403 /);
  assert.match(head, /\r\nconnection: close\r\n/i);
  // A complete request on its own connection keeps the connection.
  const ok = await request(gw.url() + '/x');
  assert.equal(ok.statusCode, 403);
  assert.notEqual(ok.headers.connection, 'close');
  await ok.body.text();
});

test('HEAD and 204/304 responses carry no body; keep-alive connections are reused', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  up.setHandler((req): UpReply => {
    if (req.path === '/empty') return { status: 204 };
    if (req.path === '/cached') return { status: 304, headers: { etag: '"v1"' } };
    return req.method === 'HEAD' ? { status: 200, headers: { 'content-length': '5' } } : { status: 200, headers: { 'content-length': '5' }, body: 'hello' };
  });
  const head = await request(gw.url() + '/thing', { method: 'HEAD' });
  assert.equal(head.statusCode, 200);
  assert.equal(head.headers['content-length'], '5');
  assert.equal(await head.body.text(), '');
  const empty = await request(gw.url() + '/empty');
  assert.equal(empty.statusCode, 204);
  assert.equal(await empty.body.text(), '');
  const cached = await request(gw.url() + '/cached');
  assert.equal(cached.statusCode, 304);
  assert.equal(cached.headers.etag, '"v1"');
  await cached.body.text();
  const get = await request(gw.url() + '/thing');
  assert.equal(await get.body.text(), 'hello');
});

/** An SSE upstream in its own process (as a real one is): N small events, one per event-loop turn. */
const SSE_UPSTREAM = `
const http = require('node:http');
const N = 200;
http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let i = 0;
  const next = () => {
    if (i === N) return void res.end('data: [DONE]\\n\\n');
    res.write('data: token ' + i++ + '\\n\\n');
    setImmediate(next);
  };
  next();
}).listen(0, '127.0.0.1', function () { console.log('PORT ' + this.address().port); });
`;

/** Median time for one whole SSE stream over one keep-alive connection (after warm-up rounds). */
async function sseMedianMs(url: string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const once = (): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      http
        .get(url, { agent }, (res) => {
          let text = '';
          res.setEncoding('latin1');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => (text.endsWith('[DONE]\n\n') ? resolve(performance.now() - t0) : reject(new Error('stream truncated'))));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  try {
    for (let i = 0; i < 10; i++) await once();
    const times: number[] = [];
    for (let i = 0; i < 15; i++) times.push(await once());
    times.sort((a, b) => a - b);
    return times[7]!;
  } finally {
    agent.destroy();
  }
}

test('small streamed writes are not delayed by Nagle (SSE events flow at once, not after delayed ACKs)', { timeout: 60_000 }, async (t) => {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', SSE_UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void child.kill());
  const upPort = await new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding('utf8').once('data', (l: string) => resolve(Number(/PORT (\d+)/.exec(l)?.[1])));
    child.once('exit', () => reject(new Error('SSE upstream exited')));
  });
  const gw = await scopedGateway(
    t,
    routesConfig(`
    - backends:
      - host: 127.0.0.1:{{UP}}
`),
    { vars: { UP: upPort } },
  );
  const direct = await sseMedianMs(`http://127.0.0.1:${upPort}/sse`);
  const via = await sseMedianMs(gw.url() + '/sse');
  // A delayed-ACK stall is ~40 ms per stream; proxying 200 small events costs a few ms at most.
  assert.ok(via < direct + 25, `a 200-event stream took ${via.toFixed(1)} ms through the gateway, ${direct.toFixed(1)} ms direct`);
});

test('access log: route is namespace/name (the metrics label), routeKey the full key, bytesIn the request body size', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t, { keepBody: false });
  const gw = await scopedGateway(
    t,
    routesConfig(`
    - name: hello
      backends:
      - host: 127.0.0.1:{{UP}}
`),
    { vars: { UP: up.port } },
  );
  const res = await request(gw.url() + '/upload', { method: 'POST', body: 'x'.repeat(1234) });
  await res.body.text();
  const chunked = await request(gw.url() + '/chunked', { method: 'POST', body: Readable.from([Buffer.alloc(100), Buffer.alloc(23)]) });
  await chunked.body.text();
  const line = JSON.parse(await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes('"path":"/upload"'))) as Record<string, unknown>;
  assert.equal(line.route, 'default/hello');
  assert.match(String(line.routeKey), /.+\/default\/hello$/);
  assert.equal(line.bytesIn, 1234);
  const line2 = JSON.parse(await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes('"path":"/chunked"'))) as Record<string, unknown>;
  assert.equal(line2.bytesIn, 123);
  const metrics = await (await fetch(`${gw.statsUrl}/metrics`)).text();
  assert.match(metrics, /tollgate_requests_total\{[^}]*route="default\/hello"[^}]*status="200"\} 2/);
});
