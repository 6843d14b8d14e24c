import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, Counter } from 'prom-client';
import type { GatewayModel } from '../config/model.js';
import { startAdminServer } from './admin.js';
import { Readiness, startReadinessServer } from './readiness.js';
import { exposition, startStatsServer } from './stats.js';

const LOOPBACK = { host: '127.0.0.1', port: 0 };

test('readiness: 503 while starting, 200 when ready, 503 while draining', { timeout: 10_000 }, async (t) => {
  const readiness = new Readiness();
  const s = await startReadinessServer(LOOPBACK, readiness);
  t.after(() => s.close());
  const url = `http://${s.address}/healthz/ready`;
  let r = await fetch(url);
  assert.equal(r.status, 503);
  assert.equal(await r.text(), 'not ready: starting\n');
  readiness.state = 'ready';
  r = await fetch(url);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'ready\n');
  readiness.state = 'draining';
  assert.equal((await fetch(url)).status, 503);
  assert.equal((await fetch(`http://${s.address}/healthz/live`)).status, 404);
});

test('admin: /config_dump reads the current model on every request', { timeout: 10_000 }, async (t) => {
  let model = { config: {}, frontend: {}, binds: [], marker: 'one' } as unknown as GatewayModel;
  const s = await startAdminServer(LOOPBACK, () => model);
  t.after(() => s.close());
  assert.equal(((await (await fetch(`http://${s.address}/config_dump`)).json()) as { marker: string }).marker, 'one');
  model = { ...model, marker: 'two' } as unknown as GatewayModel;
  assert.equal(((await (await fetch(`http://${s.address}/config_dump`)).json()) as { marker: string }).marker, 'two');
  assert.equal((await fetch(`http://${s.address}/config_dump`, { method: 'POST' })).status, 404);
});

test('stats: /metrics and /stats/prometheus serve the registry', { timeout: 10_000 }, async (t) => {
  const registry = new Registry();
  new Counter({ name: 'unit_test_total', help: 'x', registers: [registry] }).inc(4);
  const s = await startStatsServer(LOOPBACK, registry);
  t.after(() => s.close());
  for (const p of ['/metrics', '/stats/prometheus']) {
    const r = await fetch(`http://${s.address}${p}`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /unit_test_total 4/);
  }
  const head = await fetch(`http://${s.address}/metrics`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('stats: a NaN sample is written NaN, as the text format spells it (prom-client writes Nan)', () => {
  assert.equal(exposition('a_mean_seconds Nan\nb 1\nc{x="Nan"} Nan\n'), 'a_mean_seconds NaN\nb 1\nc{x="Nan"} NaN\n');
  const plain = 'a 1\n';
  assert.equal(exposition(plain), plain);
});

test('an address already in use rejects start', { timeout: 10_000 }, async (t) => {
  const first = await startReadinessServer(LOOPBACK, new Readiness());
  t.after(() => first.close());
  const port = Number(first.address.split(':').pop());
  await assert.rejects(startReadinessServer({ host: '127.0.0.1', port }, new Readiness()), /EADDRINUSE/);
});
