/**
 * Trailers cross the gateway in both directions, over HTTP/2 and over HTTP/1.1 chunked encoding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { routesConfig, scopedGateway, scopedUpstream, type TestScope } from '../helpers/gateway-fixtures.js';
import { h1Request, h2Request } from '../helpers/http-clients.js';
import type { StartedGateway } from '../helpers/start-gateway.js';
import type { Upstream } from '../helpers/upstream.js';

async function setup(t: TestScope): Promise<{ gw: StartedGateway; up: Upstream }> {
  const up = await scopedUpstream(t);
  const gw = await scopedGateway(t, routesConfig(`
    - backends: [{host: "127.0.0.1:${up.port}"}]
`));
  return { gw, up };
}

test('HTTP/2: request trailers reach the upstream, response trailers reach the client', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  up.setHandler((req) => ({ status: 200, body: ['part1-', 'part2'], trailers: { 'x-resp-trailer': 'done', 'x-saw': req.trailers['x-req-trailer'] ?? 'none' } }));
  const client = http2.connect(gw.url());
  t.after(() => client.close());
  const result = await h2Request(client, { ':method': 'POST', ':path': '/t' }, { body: 'streamed body', trailers: { 'x-req-trailer': 'sent' } });
  assert.equal(result.body, 'part1-part2');
  assert.equal(result.trailers['x-resp-trailer'], 'done');
  assert.equal(result.trailers['x-saw'], 'sent');
  assert.equal(up.requests[0]!.trailers['x-req-trailer'], 'sent');
  assert.equal(up.requests[0]!.body.toString(), 'streamed body');
});

test('HTTP/1.1 chunked: request trailers reach the upstream, response trailers reach the client', { timeout: 30_000 }, async (t) => {
  const { gw, up } = await setup(t);
  up.setHandler((req) => ({ status: 200, body: ['a', 'b'], trailers: { 'x-resp-trailer': 'h1', 'x-saw': req.trailers['x-req-trailer'] ?? 'none' } }));
  const post = await h1Request(gw.url() + '/chunked', { method: 'POST', body: 'chunky', trailers: { 'x-req-trailer': 'from-client' } });
  assert.equal(post.status, 200);
  assert.equal(post.body, 'ab');
  assert.equal(post.trailers['x-resp-trailer'], 'h1');
  assert.equal(post.trailers['x-saw'], 'from-client');
  assert.equal(up.requests[0]!.body.toString(), 'chunky');

  // Bodyless request (undici path): response trailers still arrive.
  const get = await h1Request(gw.url() + '/get', { method: 'GET' });
  assert.equal(get.body, 'ab');
  assert.equal(get.trailers['x-resp-trailer'], 'h1');
  assert.equal(get.trailers['x-saw'], 'none');
});
