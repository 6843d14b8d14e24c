/**
 * Trailers cross the gateway in both directions, over HTTP/2 and over HTTP/1.1 chunked encoding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { startGateway, type StartedGateway } from '../helpers/start-gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<{ gw: StartedGateway; up: Upstream }> {
  const up = await startUpstream();
  const gw = await startGateway(
    `
binds:
- port: {{PORT}}
  listeners:
  - routes:
    - backends: [{host: "127.0.0.1:${up.port}"}]
`,
  );
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  return { gw, up };
}

test('HTTP/2: request trailers reach the upstream, response trailers reach the client', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  up.setHandler((req) => ({ status: 200, body: ['part1-', 'part2'], trailers: { 'x-resp-trailer': 'done', 'x-saw': req.trailers['x-req-trailer'] ?? 'none' } }));
  const client = http2.connect(gw.url());
  t.after(() => client.close());
  const result = await new Promise<{ body: string; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
    const s = client.request({ ':method': 'POST', ':path': '/t' }, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'x-req-trailer': 'sent' }));
    let body = '';
    let trailers: http2.IncomingHttpHeaders = {};
    s.on('data', (c: Buffer) => (body += c.toString()));
    s.on('trailers', (tr) => (trailers = tr));
    s.on('end', () => resolve({ body, trailers }));
    s.on('error', reject);
    s.end('streamed body');
  });
  assert.equal(result.body, 'part1-part2');
  assert.equal(result.trailers['x-resp-trailer'], 'done');
  assert.equal(result.trailers['x-saw'], 'sent');
  assert.equal(up.requests[0]!.trailers['x-req-trailer'], 'sent');
  assert.equal(up.requests[0]!.body.toString(), 'streamed body');
});

function h1(url: string, opts: { method: string; trailers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method, headers: opts.trailers ? { trailer: Object.keys(opts.trailers).join(', ') } : {} });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, trailers: res.trailers }));
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    if (opts.trailers) req.addTrailers(opts.trailers);
    req.end();
  });
}

test('HTTP/1.1 chunked: request trailers reach the upstream, response trailers reach the client', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  up.setHandler((req) => ({ status: 200, body: ['a', 'b'], trailers: { 'x-resp-trailer': 'h1', 'x-saw': req.trailers['x-req-trailer'] ?? 'none' } }));
  const post = await h1(gw.url() + '/chunked', { method: 'POST', body: 'chunky', trailers: { 'x-req-trailer': 'from-client' } });
  assert.equal(post.status, 200);
  assert.equal(post.body, 'ab');
  assert.equal(post.trailers['x-resp-trailer'], 'h1');
  assert.equal(post.trailers['x-saw'], 'from-client');
  assert.equal(up.requests[0]!.body.toString(), 'chunky');

  // Bodyless request (undici path): response trailers still arrive.
  const get = await h1(gw.url() + '/get', { method: 'GET' });
  assert.equal(get.body, 'ab');
  assert.equal(get.trailers['x-resp-trailer'], 'h1');
  assert.equal(get.trailers['x-saw'], 'none');
});
