import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from './metrics.js';
import { channels } from './diagnostics.js';
import type { AccessLogRecord } from '../http/context.js';

function record(over: Partial<AccessLogRecord> = {}): AccessLogRecord {
  return {
    id: 'r1',
    gateway: 'gw',
    listener: 'l0',
    method: 'GET',
    path: '/x',
    authority: 'a',
    protocol: 'HTTP/1.1',
    remote: '127.0.0.1',
    route: 'r',
    backend: 'b',
    status: 200,
    durationMs: 12,
    ...over,
  };
}

test('request counter and histogram are labelled by gateway, listener, route, backend, status', async (t) => {
  const m = createMetrics({ defaultMetrics: false });
  t.after(() => m.dispose());
  channels.requestEnd.publish({ record: record() });
  channels.requestEnd.publish({ record: record() });
  const unrouted = record({ status: 404 });
  delete unrouted.route;
  delete unrouted.backend;
  channels.requestEnd.publish({ record: unrouted });
  const text = await m.registry.metrics();
  assert.match(text, /tollgate_requests_total\{gateway="gw",listener="l0",route="r",backend="b",method="GET",status="200"\} 2/);
  assert.match(text, /tollgate_requests_total\{gateway="gw",listener="l0",route="",backend="",method="GET",status="404"\} 1/);
  assert.match(text, /tollgate_request_duration_seconds_sum\{gateway="gw",listener="l0",route="r",backend="b",status="200"\} 0\.024/);
});

test('gen-AI token usage and time to first token come from record.ai', async (t) => {
  const m = createMetrics({ defaultMetrics: false });
  t.after(() => m.dispose());
  const ai = { provider: 'openai', requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024', inputTokens: 10, outputTokens: 7, timeToFirstTokenMs: 250 };
  channels.requestEnd.publish({ record: record({ ai }) });
  const text = await m.registry.metrics();
  assert.match(text, /tollgate_gen_ai_client_token_usage_sum\{gen_ai_token_type="input",request_model="gpt-4o",response_model="gpt-4o-2024",route="r"\} 10/);
  assert.match(text, /tollgate_gen_ai_client_token_usage_sum\{gen_ai_token_type="output",request_model="gpt-4o",response_model="gpt-4o-2024",route="r"\} 7/);
  assert.match(text, /tollgate_gen_ai_server_time_to_first_token_seconds_sum\{request_model="gpt-4o",response_model="gpt-4o-2024",route="r"\} 0\.25/);
});

test('ext_proc events feed streams, phase latency, failures, failOpen and rejected mutations', async (t) => {
  const m = createMetrics({ defaultMetrics: false });
  t.after(() => m.dispose());
  channels.extProcOpen.publish({ target: 'p:9000' });
  channels.extProcPhase.publish({ target: 'p:9000', phase: 'request_headers', seconds: 0.003 });
  channels.extProcFailure.publish({ target: 'p:9000', reason: 'timeout', failOpen: true });
  channels.extProcFailure.publish({ target: 'p:9000', reason: 'connect', failOpen: false });
  channels.extProcMutationRejected.publish({ target: 'p:9000', header: 'x', why: 'crlf' });
  const text = await m.registry.metrics();
  assert.match(text, /tollgate_ext_proc_streams_total\{target="p:9000"\} 1/);
  assert.match(text, /tollgate_ext_proc_phase_duration_seconds_count\{target="p:9000",phase="request_headers"\} 1/);
  assert.match(text, /tollgate_ext_proc_failures_total\{target="p:9000",reason="timeout"\} 1/);
  assert.match(text, /tollgate_ext_proc_failures_total\{target="p:9000",reason="connect"\} 1/);
  assert.match(text, /tollgate_ext_proc_fail_open_total\{target="p:9000"\} 1/);
  assert.match(text, /tollgate_ext_proc_mutations_rejected_total\{target="p:9000"\} 1/);
});

test('config reload results drive the counter and the synchronized gauge', async (t) => {
  const m = createMetrics({ defaultMetrics: false });
  t.after(() => m.dispose());
  assert.match(await m.registry.metrics(), /tollgate_config_synchronized 1/);
  channels.configReload.publish({ result: 'failure', source: 'c.yaml', error: 'bad' });
  let text = await m.registry.metrics();
  assert.match(text, /tollgate_config_synchronized 0/);
  assert.match(text, /tollgate_config_reloads_total\{result="failure"\} 1/);
  channels.configReload.publish({ result: 'success', source: 'c.yaml' });
  text = await m.registry.metrics();
  assert.match(text, /tollgate_config_synchronized 1/);
  assert.match(text, /tollgate_config_reloads_total\{result="success"\} 1/);
});

test('dispose stops counting', async () => {
  const m = createMetrics({ defaultMetrics: false });
  m.dispose();
  channels.requestEnd.publish({ record: record() });
  assert.doesNotMatch(await m.registry.metrics(), /tollgate_requests_total\{/);
});

test('client-chosen label values are bounded: odd methods and excess model names become _OTHER', async (t) => {
  const m = createMetrics({ defaultMetrics: false });
  t.after(() => m.dispose());
  channels.requestEnd.publish({ record: record({ method: 'BREW' }) });
  for (let i = 0; i < 250; i++) channels.requestEnd.publish({ record: record({ ai: { provider: 'openai', requestModel: `m${i}`, inputTokens: 1 } }) });
  const text = await m.registry.metrics();
  assert.match(text, /tollgate_requests_total\{[^}]*method="_OTHER"[^}]*\} 1/);
  assert.doesNotMatch(text, /BREW/);
  assert.match(text, /request_model="m199"/);
  assert.doesNotMatch(text, /request_model="m200"/);
  assert.match(text, /tollgate_gen_ai_client_token_usage_count\{gen_ai_token_type="input",request_model="_OTHER",response_model="",route="r"\} 50/);
});

test('a malformed event is contained: no exception escapes to the publisher, later events still count', async (t) => {
  const m = createMetrics({ defaultMetrics: false });
  t.after(() => m.dispose());
  const bad = Object.defineProperty(record(), 'gateway', { get: () => { throw new Error('boom'); } });
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => void uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  t.after(() => process.off('uncaughtException', onUncaught));
  channels.requestEnd.publish({ record: bad });
  channels.requestEnd.publish({ record: record() });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(uncaught, []);
  assert.match(await m.registry.metrics(), /tollgate_requests_total\{[^}]*status="200"\} 1/);
});

test('interleaved label sets each count separately (the previous-series shortcut never mixes them up)', async (t) => {
  const m = createMetrics({ defaultMetrics: false });
  t.after(() => m.dispose());
  const seq = [
    record(),
    record({ status: 500 }),
    record(),
    record({ method: 'POST' }),
    record({ route: 'other' }),
    record({ backend: 'b2' }),
    record({ listener: 'l1' }),
    record({ gateway: 'gw2' }),
    record(),
  ];
  for (const r of seq) channels.requestEnd.publish({ record: r });
  const text = await m.registry.metrics();
  const count = (labels: string): number => Number(new RegExp(`tollgate_requests_total\\{${labels}\\} (\\d+)`).exec(text)?.[1] ?? NaN);
  assert.equal(count('gateway="gw",listener="l0",route="r",backend="b",method="GET",status="200"'), 3);
  assert.equal(count('gateway="gw",listener="l0",route="r",backend="b",method="GET",status="500"'), 1);
  assert.equal(count('gateway="gw",listener="l0",route="r",backend="b",method="POST",status="200"'), 1);
  assert.equal(count('gateway="gw",listener="l0",route="other",backend="b",method="GET",status="200"'), 1);
  assert.equal(count('gateway="gw",listener="l0",route="r",backend="b2",method="GET",status="200"'), 1);
  assert.equal(count('gateway="gw",listener="l1",route="r",backend="b",method="GET",status="200"'), 1);
  assert.equal(count('gateway="gw2",listener="l0",route="r",backend="b",method="GET",status="200"'), 1);
  assert.match(text, /tollgate_request_duration_seconds_count\{gateway="gw",listener="l0",route="r",backend="b",status="200"\} 4/);
});
