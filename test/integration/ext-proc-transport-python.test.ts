// The raw node:http2 ext_proc transport against an independent gRPC implementation: the Python (grpcio C-core)
// processor in test/helpers/python-processor/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TRANSPORTS, selectedTransport } from '../../src/extproc/client.js';

/** The transport under test: TOLLGATE_EXTPROC_TRANSPORT (the .node-http2 twin of this file runs it on node:http2). */
const Transport = TRANSPORTS[selectedTransport()];
import { loopbackTarget, record } from '../../src/extproc/test-support.js';
import { BodySendMode, type ProcessingRequest, type ProcessingResponse } from '../../src/extproc/messages.js';
import { pythonUnavailable, startPythonProcessor, type PythonScenario } from '../helpers/python-processor.js';

type T = { after(fn: () => unknown): void };
const skip = pythonUnavailable();
const h = (pairs: Array<[string, string]>, extra: Partial<ProcessingRequest> = {}, eos = false): ProcessingRequest => ({
  requestHeaders: { headers: { headers: pairs.map(([key, v]) => ({ key, rawValue: Buffer.from(v) })) }, endOfStream: eos },
  ...extra,
});
const setHeaders = (m: ProcessingResponse | undefined) =>
  (m?.requestHeaders ?? m?.responseHeaders ?? m?.requestBody)?.response?.headerMutation?.setHeaders?.map((o) => [o.header?.key, Buffer.from(o.header?.rawValue ?? []).toString()]) ?? [];

async function setup(t: T, scenario: PythonScenario): Promise<{ c: InstanceType<typeof Transport>; port: number; kill: () => Promise<void> }> {
  const p = await startPythonProcessor(scenario);
  t.after(() => p.stop());
  const c = new Transport(loopbackTarget(p.port));
  t.after(() => c.close(true));
  return { c, port: p.port, kill: p.kill };
}

test('python: headers both ways', { timeout: 20_000, skip }, async (t) => {
  const { c } = await setup(t, 'headers');
  const r = record(c, [h([[':path', '/x']], {}, true), { responseHeaders: { headers: { headers: [{ key: ':status', rawValue: Buffer.from('200') }] }, endOfStream: true } }], { closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.deepEqual(setHeaders(r.replies[0]), [['x-py-request', '1']]);
  assert.deepEqual(setHeaders(r.replies[1]), [['x-py-response', '1']]);
});

test('python: buffered request body rewrite with matching content-length', { timeout: 20_000, skip }, async (t) => {
  const { c } = await setup(t, 'buffered-rewrite');
  const r = record(c, [
    h([[':path', '/x']], { protocolConfig: { requestBodyMode: BodySendMode.BUFFERED } }),
    { requestBody: { body: Buffer.from('hello python'), endOfStream: true } },
  ], { closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.ok(r.replies[0]!.requestHeaders);
  const body = r.replies[1]!.requestBody!.response!;
  assert.equal(Buffer.from(body.bodyMutation!.body!).toString(), 'HELLO PYTHON');
  assert.deepEqual(setHeaders(r.replies[1]), [['content-length', '12']]);
});

test('python: immediate response 403', { timeout: 20_000, skip }, async (t) => {
  const { c } = await setup(t, 'immediate');
  const r = record(c, [h([[':path', '/x']])]);
  assert.deepEqual(await r.ended, { kind: 'ok' });
  const ir = r.replies[0]!.immediateResponse!;
  assert.equal(ir.status!.code, 403);
  assert.equal(Buffer.from(ir.body!).toString(), 'blocked by python');
});

test('python: full-duplex uppercase echo, chunk by chunk', { timeout: 20_000, skip }, async (t) => {
  const { c } = await setup(t, 'duplex-upper');
  const r = record(c, [
    h([], { protocolConfig: { requestBodyMode: BodySendMode.FULL_DUPLEX_STREAMED } }),
    { requestBody: { body: Buffer.from('ab'), endOfStream: false } },
    { requestBody: { body: Buffer.from('cd'), endOfStream: true } },
  ], { closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  const chunks = r.replies.slice(1).map((m) => m.requestBody!.response!.bodyMutation!.streamedResponse!);
  assert.deepEqual(chunks.map((x) => [Buffer.from(x.body!).toString(), x.endOfStream]), [['AB', false], ['CD', true]]);
});

test('python: empty-reply answers an unhandled phase with no oneof set', { timeout: 20_000, skip }, async (t) => {
  const { c } = await setup(t, 'empty-reply');
  const r = record(c, [h([]), { requestBody: { body: Buffer.from('x'), endOfStream: true } }], { closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.equal(r.replies.length, 2);
  assert.equal((r.replies[1] as { response?: string }).response, undefined);
});

test('python: 200 concurrent streams on one connection with no mix-ups', { timeout: 30_000, skip }, async (t) => {
  const { c } = await setup(t, 'buffered-rewrite');
  const calls = Array.from({ length: 200 }, (_, i) => record(c, [
    h([[':path', `/${i}`]], { protocolConfig: { requestBodyMode: BodySendMode.BUFFERED } }),
    { requestBody: { body: Buffer.from(`body-${i}-x`), endOfStream: true } },
  ], { closeSend: true }));
  const ends = await Promise.all(calls.map((x) => x.ended));
  assert.ok(ends.every((e) => e.kind === 'ok'), JSON.stringify(ends.find((e) => e.kind !== 'ok')));
  calls.forEach((x, i) => assert.equal(Buffer.from(x.replies[1]!.requestBody!.response!.bodyMutation!.body!).toString(), `BODY-${i}-X`));
});

test('python: killed mid-stream gives reset; down gives connect; restarted works', { timeout: 30_000, skip }, async (t) => {
  const { c, port, kill } = await setup(t, 'headers');
  const r = record(c, [h([])]);
  await new Promise<void>((resolve) => { const i = setInterval(() => { if (r.replies.length) { clearInterval(i); resolve(); } }, 5); });
  await kill();
  assert.equal((await r.ended).kind, 'reset');
  const down = await record(c, [h([])]).ended;
  assert.equal(down.kind, 'connect');
  const again = await startPythonProcessor('headers', { port });
  t.after(() => again.stop());
  for (let i = 0; ; i++) {
    const e = await record(c, [h([], {}, true)], { closeSend: true }).ended;
    if (e.kind === 'ok') break;
    assert.equal(e.kind, 'connect');
    assert.ok(i < 50, 'never reconnected');
    await new Promise((res) => setTimeout(res, 50)); // the dial backoff is time-based by design
  }
});
