/**
 * Observability of ext_proc through the real CLI: the access log line carries the ext_proc outcome (phases,
 * time, failure reason, failOpen) and /metrics has the stream, phase-latency, failure and failOpen series.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExtProcLog } from '../../src/http/context.js';
import { headerValue, startProcessor } from '../helpers/ext-proc-server.js';
import { routesConfig, scopedGateway, scopedUpstream } from '../helpers/gateway-fixtures.js';

test('access log and metrics report ext_proc phases, failures and failOpen', { timeout: 60_000 }, async (t) => {
  const up = await scopedUpstream(t);
  const proc = await startProcessor({
    onRequestHeaders: (msg) =>
      headerValue(msg, 'x-case') === 'fail' ? { grpcError: { code: 13, message: 'processor exploded' } } : undefined,
  });
  t.after(() => proc.stop());
  const gw = await scopedGateway(
    t,
    routesConfig(`
    - name: guarded
      policies:
        extProc:
          host: ${proc.target}
          failureMode: failOpen
          processingOptions:
            requestBodyMode: none
            responseBodyMode: none
      backends:
      - host: 127.0.0.1:{{UP}}
`),
    { vars: { UP: up.port } },
  );

  const ok = await fetch(`${gw.url()}/ok`);
  assert.equal(ok.status, 200);
  await ok.text();
  const failed = await fetch(`${gw.url()}/fail`, { headers: { 'x-case': 'fail' } });
  assert.equal(failed.status, 200, 'failOpen continues to the upstream');
  await failed.text();

  const line = async (p: string): Promise<{ status: number; route: string; extProc: ExtProcLog[] }> =>
    JSON.parse(await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes(`"path":"${p}"`))) as {
      status: number;
      route: string;
      extProc: ExtProcLog[];
    };
  const okLine = await line('/ok');
  assert.equal(okLine.extProc.length, 1);
  const okEntry = okLine.extProc[0]!;
  assert.equal(okEntry.target, proc.target);
  assert.equal(okEntry.outcome, 'ok');
  assert.deepEqual(okEntry.phases.slice(0, 2), ['request_headers', 'response_headers']);
  assert.equal(typeof okEntry.timeMs, 'number');

  const failLine = await line('/fail');
  assert.equal(failLine.status, 200);
  const failEntry = failLine.extProc[0]!;
  assert.equal(failEntry.outcome, 'fail_open');
  assert.equal(failEntry.failOpen, true);
  assert.match(failEntry.failureReason ?? '', /processor exploded/);

  const metrics = await (await fetch(`${gw.statsUrl}/metrics`)).text();
  const target = proc.target.replace(/\./g, '\\.');
  assert.match(metrics, new RegExp(`tollgate_ext_proc_streams_total\\{target="${target}"\\} [12]`));
  assert.match(metrics, new RegExp(`tollgate_ext_proc_phase_duration_seconds_count\\{target="${target}",phase="request_headers"\\} [12]`));
  assert.match(metrics, new RegExp(`tollgate_ext_proc_failures_total\\{target="${target}",reason="[a-z_]+"\\} 1`));
  assert.match(metrics, new RegExp(`tollgate_ext_proc_fail_open_total\\{target="${target}"\\} 1`));
  assert.match(metrics, /tollgate_requests_total\{[^}]*route="[^"]*guarded"[^}]*status="200"\} 2/);
});
