/**
 * Ops endpoints of the real CLI: /config_dump redaction, /metrics after traffic, readiness, `off` addresses,
 * and the JSON access log on stdout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { helloConfig, routesConfig } from '../helpers/gateway-fixtures.js';
import { startGateway } from '../helpers/start-gateway.js';
import { tempDir } from '../helpers/temp-files.js';

const HELLO = helloConfig('hi');

test('/config_dump shows the running config with env and file secrets redacted', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'tollgate-ops-');
  const keyFile = path.join(dir, 'key.txt');
  writeFileSync(keyFile, 'sk-from-file-7f3a91\n');
  const gw = await startGateway(
    routesConfig(`
    - name: env-key
      matches:
      - path:
          regex: ^/env/[a-z]+$
      policies:
        backendAuth:
          key: $TOLLGATE_TEST_SECRET
      backends:
      - host: 127.0.0.1:1
    - name: file-key
      policies:
        backendAuth:
          key:
            file: ${keyFile}
      backends:
      - host: 127.0.0.1:1
`),
    { env: { TOLLGATE_TEST_SECRET: 'sk-from-env-52c4e0' } },
  );
  t.after(() => gw.stop());
  const res = await fetch(`${gw.adminUrl}/config_dump`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const text = await res.text();
  assert.ok(!text.includes('sk-from-env-52c4e0'), 'env secret leaked into /config_dump');
  assert.ok(!text.includes('sk-from-file-7f3a91'), 'file secret leaked into /config_dump');
  const dump = JSON.parse(text) as { binds: { listeners: { routes: { name: string; matches: unknown[]; policies: { backendAuth: { key: unknown } } }[] }[] }[] };
  const routes = dump.binds[0]!.listeners[0]!.routes;
  assert.deepEqual(routes.map((r) => r.name).sort(), ['env-key', 'file-key']);
  for (const r of routes) assert.equal(r.policies.backendAuth.key, '<redacted>');
  assert.match(text, /\^\/env\/\[a-z\]\+\$/, 'regex shown as its source');
});

test('/metrics counts requests by route and status; /stats/prometheus serves the same', { timeout: 30_000 }, async (t) => {
  const gw = await startGateway(HELLO);
  t.after(() => gw.stop());
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${gw.url()}/hello`)).status, 200);
  assert.equal((await fetch(`${gw.url()}/nope`)).status, 404);
  // The access log and metrics are fed after the response ends; wait for the 4th log line, not a timer.
  await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes('"path":"/nope"'));
  const res = await fetch(`${gw.statsUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = await res.text();
  assert.match(text, /tollgate_requests_total\{[^}]*route="[^"]*hello"[^}]*method="GET",status="200"\} 3/);
  assert.match(text, /tollgate_requests_total\{[^}]*route=""[^}]*status="404"\} 1/);
  assert.match(text, /tollgate_request_duration_seconds_count\{[^}]*route="[^"]*hello"[^}]*status="200"\} 3/);
  assert.match(text, /tollgate_config_synchronized 1/);
  const alias = await fetch(`${gw.statsUrl}/stats/prometheus`);
  assert.equal(alias.status, 200);
  assert.match(await alias.text(), /tollgate_requests_total/);
  assert.equal((await fetch(`${gw.statsUrl}/other`)).status, 404);
});

test('readiness answers 200 ready once listening', { timeout: 30_000 }, async (t) => {
  const gw = await startGateway(HELLO);
  t.after(() => gw.stop());
  const res = await fetch(gw.readyUrl);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'ready\n');
  const ready = JSON.parse(await gw.waitForLine((l) => l.includes('"msg":"tollgate ready"'))) as { binds: { port: number }[] };
  assert.equal(ready.binds[0]!.port, gw.ports.PORT);
});

test('an ops address set to off is not served', { timeout: 30_000 }, async (t) => {
  const gw = await startGateway(HELLO, { env: { ADMIN_ADDR: 'off', STATS_ADDR: 'off' } });
  t.after(() => gw.stop());
  await assert.rejects(fetch(`${gw.adminUrl}/config_dump`));
  await assert.rejects(fetch(`${gw.statsUrl}/metrics`));
  assert.equal((await fetch(`${gw.url()}/hello`)).status, 200);
});

test('one JSON access log line per request on stdout, with route, status and duration', { timeout: 30_000 }, async (t) => {
  const gw = await startGateway(HELLO);
  t.after(() => gw.stop());
  const res = await fetch(`${gw.url()}/hello?x=1`, { method: 'POST', body: 'abc' });
  assert.equal(res.status, 200);
  const line = JSON.parse(await gw.waitForLine((l) => l.includes('"kind":"access"'))) as Record<string, unknown>;
  assert.equal(line.msg, 'request');
  assert.equal(line.method, 'POST');
  assert.equal(line.path, '/hello?x=1');
  assert.equal(line.status, 200);
  assert.match(String(line.route), /hello$/);
  assert.equal(typeof line.durationMs, 'number');
  assert.equal(typeof line.id, 'string');
  assert.equal(line.protocol, 'HTTP/1.1');
  assert.equal(gw.stdout.filter((l) => l.includes('"kind":"access"')).length, 1);
});

test('frontendPolicies.accessLog.enabled: false turns the access log off', { timeout: 30_000 }, async (t) => {
  const gw = await startGateway(`frontendPolicies:\n  accessLog:\n    enabled: false\n${HELLO}`);
  t.after(() => gw.stop());
  assert.equal((await fetch(`${gw.url()}/hello`)).status, 200);
  await gw.stop();
  assert.ok(gw.stdout.some((l) => l.includes('"msg":"stopped"')), 'process shut down cleanly');
  assert.equal(gw.stdout.filter((l) => l.includes('"kind":"access"')).length, 0);
});
