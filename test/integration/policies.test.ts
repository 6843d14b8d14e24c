/**
 * Simple route policies through the real CLI: header modifiers, directResponse, requestTimeout, and
 * the "not implemented" 500 for policies that are accepted but not built yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { routesConfig, scopedGateway, scopedUpstream } from '../helpers/gateway-fixtures.js';

test('header modifiers, directResponse and requestTimeout', { timeout: 60_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const gw = await scopedGateway(t, routesConfig(`
    - name: health
      matches: [{path: {exact: /health}}]
      policies:
        directResponse: {body: '{"status":"healthy"}', status: 200}
    - name: teapot
      matches: [{path: {exact: /teapot}}]
      policies:
        directResponse: {status: 418}
    - name: slow
      matches: [{path: {pathPrefix: /slow}}]
      backends: [{host: "127.0.0.1:${up.port}"}]
      policies:
        timeout: {requestTimeout: 300ms}
    - name: api
      backends:
      - host: "127.0.0.1:${up.port}"
        policies:
          requestHeaderModifier:
            set: {x-backend: b1}
      policies:
        requestHeaderModifier:
          add: {x-added: a1}
          set: {x-set: s1}
          remove: [x-secret]
        responseHeaderModifier:
          add: [{name: x-served-by, value: tollgate}]
          remove: [x-upstream-internal]
`));

  const health = await request(gw.url() + '/health');
  assert.equal(health.statusCode, 200);
  assert.equal(await health.body.text(), '{"status":"healthy"}');
  const teapot = await request(gw.url() + '/teapot');
  assert.equal(teapot.statusCode, 418);
  await teapot.body.text();
  assert.equal(up.requests.length, 0, 'directResponse never calls a backend');

  up.setHandler(() => ({ headers: { 'x-upstream-internal': '1', 'x-up': 'y' }, body: 'hi' }));
  const r = await request(gw.url() + '/api', { headers: { 'x-secret': 'no', 'x-set': 'client', 'x-added': 'client' } });
  assert.equal(await r.body.text(), 'hi');
  assert.equal(r.headers['x-served-by'], 'tollgate');
  assert.equal(r.headers['x-upstream-internal'], undefined);
  assert.equal(r.headers['x-up'], 'y');
  const seen = up.requests[0]!;
  assert.equal(seen.headers['x-secret'], undefined);
  assert.equal(seen.headers['x-set'], 's1');
  assert.equal(seen.headers['x-added'], 'client, a1');
  assert.equal(seen.headers['x-backend'], 'b1');

  up.setHandler(() => ({ delayMs: 5_000, body: 'late' }));
  const started = Date.now();
  const slow = await request(gw.url() + '/slow');
  const text = await slow.body.text();
  assert.equal(slow.statusCode, 504);
  assert.match(text, /request timeout/);
  assert.ok(Date.now() - started < 4_000);
});

test('accepted but unimplemented policies fail with a 500 naming them, before any backend call', { timeout: 30_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const gw = await scopedGateway(t, routesConfig(`
    - name: guarded
      matches: [{path: {pathPrefix: /guarded}}]
      backends: [{host: "127.0.0.1:${up.port}"}]
      policies:
        cors:
          allowOrigins: ["https://example.com"]
    - name: open
      backends: [{host: "127.0.0.1:${up.port}"}]
`));
  const r = await request(gw.url() + '/guarded');
  const body = await r.body.text();
  assert.equal(r.statusCode, 500);
  assert.match(body, /policy cors is not implemented/);
  assert.equal(up.requests.length, 0);
  const ok = await request(gw.url() + '/open');
  assert.equal(ok.statusCode, 200);
  await ok.body.text();
});
