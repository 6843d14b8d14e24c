/**
 * Multi-process mode (`config.workers`): workers share the bind port, the primary aggregates metrics,
 * reloads reach every worker, a crashed worker is replaced, and SIGTERM drains every worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { routesConfig } from '../helpers/gateway-fixtures.js';
import { h1Request } from '../helpers/http-clients.js';
import { lineAfter, startGateway, type StartedGateway } from '../helpers/start-gateway.js';

const CONFIG = `
config:
  workers: 2${routesConfig(`
    - name: hello
      policies:
        directResponse:
          body: one
`)}`;

/** Resolves once `n` access-log lines were written (metrics are fed when a response ends, as the line is). */
async function accessLines(gw: StartedGateway, n: number): Promise<void> {
  const count = (): number => gw.stdout.filter((x) => x.includes('"kind":"access"')).length;
  while (count() < n) await gw.waitForLine((l) => l.includes('"kind":"access"') && count() >= n, 10_000).catch(() => undefined);
}

/** tollgate_requests_total for status 200, summed over its series. */
function requests200(metrics: string): number {
  let sum = 0;
  for (const m of metrics.matchAll(/^tollgate_requests_total\{[^}]*status="200"[^}]*\} (\d+)$/gm)) sum += Number(m[1]);
  return sum;
}

/** GET on a fresh connection each time, so requests spread over the workers. */
async function get(url: string): Promise<string> {
  const r = await h1Request(url);
  return `${r.status} ${r.body}`;
}

test('two workers serve, metrics are summed, reloads reach all, a dead worker is replaced, SIGTERM exits 0', { timeout: 60_000 }, async (t) => {
  const gw = await startGateway(CONFIG, { readyTimeoutMs: 30_000 });
  t.after(() => gw.stop());
  const ready = JSON.parse(await gw.waitForLine((l) => l.includes('"msg":"tollgate ready"'))) as { workers: number[] };
  assert.equal(ready.workers.length, 2);
  assert.ok(!ready.workers.includes(gw.child.pid!));

  for (let i = 0; i < 10; i++) assert.equal(await get(`${gw.url()}/x`), '200 one');
  // Metrics are fed after the response ends; wait until all ten are logged before scraping.
  for (let seen = 0; seen < 10; ) {
    await gw.waitForLine((l) => gw.stdout.filter((x) => x.includes('"kind":"access"')).length > seen && l.includes('"kind":"access"'));
    seen = gw.stdout.filter((x) => x.includes('"kind":"access"')).length;
  }
  const metrics = await (await fetch(`${gw.statsUrl}/metrics`)).text();
  assert.match(metrics, /tollgate_requests_total\{[^}]*status="200"\} 10/);

  await lineAfter(gw, () => writeFileSync(gw.configPath, readFileSync(gw.configPath, 'utf8').replace('body: one', 'body: two')), /config reloaded/);
  for (let i = 0; i < 6; i++) assert.equal(await get(`${gw.url()}/x`), '200 two');

  await accessLines(gw, 16);
  assert.equal(requests200(await (await fetch(`${gw.statsUrl}/metrics`)).text()), 16);
  process.kill(ready.workers[0]!, 'SIGKILL');
  await gw.waitForLine((l) => l.includes('worker exited; starting a replacement'));
  for (let i = 0; i < 6; i++) assert.equal(await get(`${gw.url()}/x`), '200 two');
  assert.equal((await fetch(gw.readyUrl)).status, 200);
  // The dead worker's requests stay in the merged counter (as last scraped): it never goes down.
  await accessLines(gw, 22);
  assert.equal(requests200(await (await fetch(`${gw.statsUrl}/metrics`)).text()), 22);

  gw.kill('SIGTERM');
  const { code } = await gw.exited;
  assert.equal(code, 0);
  for (const pid of ready.workers) assert.throws(() => process.kill(pid, 0));
});

test('workers: when every worker dies, readiness is 503 until a replacement listens', { timeout: 60_000 }, async (t) => {
  const gw = await startGateway(CONFIG, { readyTimeoutMs: 30_000 });
  t.after(() => gw.stop());
  const ready = JSON.parse(await gw.waitForLine((l) => l.includes('"msg":"tollgate ready"'))) as { workers: number[] };
  assert.equal((await fetch(gw.readyUrl)).status, 200);
  for (const pid of ready.workers) process.kill(pid, 'SIGKILL');
  // Both exits are handled; replacements start 500 ms later and need longer than that to listen.
  await gw.waitForLine((l) => gw.stdout.filter((x) => x.includes('worker exited; starting a replacement')).length >= 2 && l.includes('worker exited'));
  const down = await fetch(gw.readyUrl);
  assert.equal(down.status, 503);
  assert.equal(await down.text(), 'not ready: no worker serving\n');
  // Ready again once a replacement serves.
  for (let i = 0; i < 200 && (await fetch(gw.readyUrl)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await fetch(gw.readyUrl)).status, 200);
  assert.equal(await get(`${gw.url()}/x`), '200 one');
});

test('workers: when the primary is killed, each worker finishes its in-flight requests, then exits', { timeout: 60_000 }, async (t) => {
  const { startUpstream } = await import('../helpers/upstream.js');
  const up = await startUpstream({ handler: () => ({ status: 200, body: ['a', 'b', 'c', 'd', 'e'], chunkDelayMs: 150 }) });
  t.after(() => up.close());
  const gw = await startGateway(`
config:
  workers: 2${routesConfig(`
    - backends: [{host: "127.0.0.1:${up.port}"}]
`)}`, { readyTimeoutMs: 30_000 });
  const ready = JSON.parse(await gw.waitForLine((l) => l.includes('"msg":"tollgate ready"'))) as { workers: number[] };
  t.after(() => {
    for (const pid of ready.workers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  });
  const http = await import('node:http');
  const body = new Promise<{ text: string; complete: boolean }>((resolve, reject) => {
    http.get(`${gw.url()}/slow`, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        // The response is under way: now the primary goes.
        if (text === 'a') gw.kill('SIGKILL');
      });
      res.on('end', () => resolve({ text, complete: res.complete }));
      res.on('error', reject);
    }).on('error', reject);
  });
  const r = await body;
  assert.deepEqual(r, { text: 'abcde', complete: true });
  await gw.waitForLine((l) => l.includes('cluster primary went away; draining this worker'));
  // Both workers exit by themselves once drained.
  for (const pid of ready.workers) {
    for (let i = 0; i < 200 && alive(pid); i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal(alive(pid), false, `worker ${pid} still running`);
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
