/**
 * Multi-process mode (`config.workers`): workers share the bind port, the primary aggregates metrics,
 * reloads reach every worker, a crashed worker is replaced, and SIGTERM drains every worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { routesConfig } from '../helpers/gateway-fixtures.js';
import { h1Request } from '../helpers/http-clients.js';
import { lineAfter, startGateway } from '../helpers/start-gateway.js';

const CONFIG = `
config:
  workers: 2${routesConfig(`
    - name: hello
      policies:
        directResponse:
          body: one
`)}`;

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

  process.kill(ready.workers[0]!, 'SIGKILL');
  await gw.waitForLine((l) => l.includes('worker exited; starting a replacement'));
  for (let i = 0; i < 6; i++) assert.equal(await get(`${gw.url()}/x`), '200 two');
  assert.equal((await fetch(gw.readyUrl)).status, 200);

  gw.kill('SIGTERM');
  const { code } = await gw.exited;
  assert.equal(code, 0);
  for (const pid of ready.workers) assert.throws(() => process.kill(pid, 0));
});
