/**
 * Routing through the real CLI: match kinds, agentgateway precedence, listener hostnames, weighted
 * backends, and the 404 text for unmatched requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { routesConfig, scopedGateway, scopedUpstream, type TestScope } from '../helpers/gateway-fixtures.js';
import type { Upstream } from '../helpers/upstream.js';

async function upstreams(t: TestScope, names: string[]): Promise<Record<string, Upstream>> {
  const out: Record<string, Upstream> = {};
  for (const n of names) out[n] = await scopedUpstream(t, { handler: () => ({ status: 200, body: n }) });
  return out;
}

async function get(url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string; type: string | undefined }> {
  const r = await request(url, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers ?? {} });
  return { status: r.statusCode, body: await r.body.text(), type: r.headers['content-type'] as string | undefined };
}

test('route selection: exact > prefix > regex, longer prefix first, method/header/query matches, 404 text', { timeout: 30_000 }, async (t) => {
  const u = await upstreams(t, ['exact', 'prefix', 'longer', 'regex', 'method', 'header', 'query']);
  const gw = await scopedGateway(t, routesConfig(`
    - name: regex
      matches: [{path: {regex: "/api/v[0-9]+/.*"}}]
      backends: [{host: "127.0.0.1:${u.regex!.port}"}]
    - name: prefix
      matches: [{path: {pathPrefix: /api}}]
      backends: [{host: "127.0.0.1:${u.prefix!.port}"}]
    - name: longer
      matches: [{path: {pathPrefix: /api/v1}}]
      backends: [{host: "127.0.0.1:${u.longer!.port}"}]
    - name: exact
      matches: [{path: {exact: /api/v1/health}}]
      backends: [{host: "127.0.0.1:${u.exact!.port}"}]
    - name: method
      matches: [{path: {pathPrefix: /things}, method: DELETE}]
      backends: [{host: "127.0.0.1:${u.method!.port}"}]
    - name: header
      matches: [{path: {pathPrefix: /things}, headers: [{name: x-tier, value: {regex: "gold|platinum"}}]}]
      backends: [{host: "127.0.0.1:${u.header!.port}"}]
    - name: query
      matches: [{path: {pathPrefix: /things}, query: [{name: debug, value: {exact: "1"}}]}]
      backends: [{host: "127.0.0.1:${u.query!.port}"}]
`));
  const base = gw.url();
  assert.equal((await get(base + '/api/v1/health')).body, 'exact');
  assert.equal((await get(base + '/api/v1/other')).body, 'longer');
  assert.equal((await get(base + '/api/v2/x')).body, 'prefix', 'a prefix match outranks a regex match');
  assert.equal((await get(base + '/apiary')).status, 404, 'pathPrefix is segment-aware');
  assert.equal((await get(base + '/things', { method: 'DELETE' })).body, 'method');
  assert.equal((await get(base + '/things', { headers: { 'x-tier': 'gold' } })).body, 'header');
  assert.equal((await get(base + '/things?debug=1')).body, 'query');
  assert.equal((await get(base + '/things', { headers: { 'x-tier': 'bronze' } })).status, 404);
  const miss = await get(base + '/nowhere');
  assert.equal(miss.status, 404);
  assert.match(miss.type ?? '', /^text\/plain/);
  assert.equal(miss.body.trim(), 'route not found');
});

test('listener hostnames and route hostnames pick the right backend; unknown hosts get 404', { timeout: 30_000 }, async (t) => {
  const u = await upstreams(t, ['api', 'wild', 'www']);
  const gw = await scopedGateway(t, `
binds:
- port: {{PORT}}
  listeners:
  - name: api
    hostname: api.example.com
    routes:
    - backends: [{host: "127.0.0.1:${u.api!.port}"}]
  - name: wild
    hostname: "*.example.com"
    routes:
    - hostnames: [www.example.com]
      backends: [{host: "127.0.0.1:${u.www!.port}"}]
    - backends: [{host: "127.0.0.1:${u.wild!.port}"}]
`);
  const base = gw.url();
  assert.equal((await get(base + '/', { headers: { host: 'api.example.com' } })).body, 'api');
  assert.equal((await get(base + '/', { headers: { host: 'www.example.com:8080' } })).body, 'www');
  assert.equal((await get(base + '/', { headers: { host: 'shop.example.com' } })).body, 'wild');
  assert.equal((await get(base + '/', { headers: { host: 'example.org' } })).status, 404);
});

test('weighted backends: weight 0 never receives traffic, others share it', { timeout: 30_000 }, async (t) => {
  const u = await upstreams(t, ['a', 'b', 'never']);
  const gw = await scopedGateway(t, routesConfig(`
    - backends:
      - host: "127.0.0.1:${u.a!.port}"
        weight: 3
      - host: "127.0.0.1:${u.b!.port}"
        weight: 1
      - host: "127.0.0.1:${u.never!.port}"
        weight: 0
`));
  const counts: Record<string, number> = { a: 0, b: 0, never: 0 };
  for (let i = 0; i < 200; i++) counts[(await get(gw.url() + '/'))!.body]!++;
  assert.equal(counts.never, 0);
  // 3:1 over 200 draws: a ≈ 150 (σ ≈ 6); the bounds are ~6σ wide so the test does not flake.
  assert.ok(counts.a! > 110 && counts.a! < 190, JSON.stringify(counts));
  assert.ok(counts.b! > 10, JSON.stringify(counts));
});

test('a processor that only sets a header re-routes the request to the route matching that header', { timeout: 30_000 }, async (t) => {
  const { reply, startProcessor } = await import('../helpers/ext-proc-server.js');
  const ups = await upstreams(t, ['a', 'b']);
  // The processor routes on the query string's `to=` (a stand-in for a body-based decision).
  const proc = await startProcessor({
    onRequestHeaders: (msg) => {
      const path = msg.requestHeaders?.headers?.headers?.find((h) => h.key === ':path');
      const raw = path?.rawValue != null && path.rawValue.length > 0 ? Buffer.from(path.rawValue).toString('latin1') : (path?.value ?? '');
      return raw.includes('to=b') ? reply.headers('request', { set: [['x-route-to', 'b']] }) : reply.headers('request');
    },
  });
  t.after(() => proc.stop());
  const gw = await scopedGateway(t, routesConfig(`
    - name: pool-b
      matches:
      - headers:
        - name: x-route-to
          value: {exact: b}
      backends:
      - host: 127.0.0.1:${ups.b!.port}
    - name: router
      backends:
      - host: 127.0.0.1:${ups.a!.port}
      policies:
        extProc:
          host: "${proc.target}"
          processingOptions:
            requestBodyMode: none
            responseHeaderMode: skip
`));
  const routed = await get(gw.url() + '/v1/chat?to=b');
  assert.equal(routed.status, 200);
  assert.equal(routed.body, 'b');
  assert.equal(ups.b!.requests[0]!.path, '/v1/chat?to=b', 'the path is not rewritten');
  assert.equal((await get(gw.url() + '/v1/chat?to=a')).body, 'a');
  assert.equal(ups.a!.requests.length, 1);
});
