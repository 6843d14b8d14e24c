// override_message_timeout through a whole session (Envoy's rules, reference §1.13): it replaces a running
// message timer once per processing state, within [1 ms, 1 h]; a message carrying it is used for nothing else.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ExtProcConfig, ProcessingOptions } from '../config/model.js';
import { GatewayError } from '../errors.js';
import { bufferBody } from '../http/body.js';
import type { RequestContext } from '../http/context.js';
import { HeaderList } from '../http/headers.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { FakeClient, passThrough, phaseName, type FakeStreamControl } from './fake-stream.test-helper.js';
import type { ProcessingRequest, ProcessingResponse } from './messages.js';
import { ExtProcSession } from './session.js';
import { signalSource } from '../http/abort.js';

const options: ProcessingOptions = {
  requestHeaderMode: 'send', responseHeaderMode: 'send', requestBodyMode: 'none', responseBodyMode: 'none',
  requestTrailerMode: 'skip', responseTrailerMode: 'skip', allowModeOverride: false,
};
const config = (messageTimeoutMs: number): ExtProcConfig => ({
  target: { scheme: 'http', host: '127.0.0.1', port: 1, display: 'proc:1', tls: undefined },
  failureMode: 'failClosed', processingOptions: options, messageTimeoutMs, statusOnError: 500,
  metadataContext: undefined, requestAttributes: undefined, responseAttributes: undefined,
});
const context = (): RequestContext => ({
  id: 'r1', start: 0, listener: {} as never, route: undefined, backend: undefined,
  signal: new AbortController().signal, abort: signalSource(new AbortController().signal), maxBufferSize: 1024, traceparent: undefined, extprocMetadata: {},
  log: { id: 'r1', gateway: 'g', listener: 'l', method: 'GET', path: '/', authority: 'a', protocol: 'HTTP/1.1', remote: '' },
});
const request = (): GatewayRequest => ({
  method: 'GET', scheme: 'http', authority: 'a.test', path: '/p', headers: new HeaderList(), body: null,
  httpVersion: '1.1', remoteAddress: '127.0.0.1', remotePort: 1,
});
const response = (): GatewayResponse => ({ status: 200, headers: new HeaderList(), body: bufferBody('up') });
const override = (ms: number): ProcessingResponse => ({ overrideMessageTimeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } });

/** Per phase: the messages to send, each after an optional delay (a slow processor), in order. */
/**
 * The configured timer in the tests where the override must win. The override itself arrives on the next
 * turn of the event loop; a loaded CI machine can stall the loop for tens of milliseconds, and a stall longer
 * than this timer lets it fire first. So it is generous, and the late reply comes well after it.
 */
const SHORT = 300;

type Plan = Record<string, Array<{ after?: number; msg: ProcessingResponse | 'pass' }>>;
function planned(plan: Plan): FakeClient {
  return new FakeClient((msg: ProcessingRequest, s: FakeStreamControl) => {
    let at = 0;
    for (const step of plan[phaseName(msg)] ?? [{ msg: 'pass' as const }]) {
      at += step.after ?? 0;
      const out = step.msg === 'pass' ? passThrough(msg) : step.msg;
      if (at === 0) s.reply(out);
      else setTimeout(() => s.reply(out), at).unref();
    }
  });
}
async function timeoutOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof GatewayError, `expected a failure, got ${String(e)}`);
  assert.equal(e.code, 'ext_proc_timeout');
  return e.message;
}

describe('ext_proc session: override_message_timeout', { timeout: 20_000 }, () => {
  it('replaces the running timer: a processor that announces it needs longer is waited for', async () => {
    const client = planned({ request_headers: [{ msg: override(60_000) }, { after: 600, msg: 'pass' }] });
    const s = new ExtProcSession({ config: config(SHORT), ctx: context(), req: request(), client });
    assert.deepEqual(await s.onRequest(request()), { kind: 'continue' });
    s.finish();
  });

  it('applies once per processing state: a second override in the same state is ignored', async () => {
    const client = planned({ request_headers: [{ msg: override(50) }, { msg: override(60_000) }] });
    const s = new ExtProcSession({ config: config(10_000), ctx: context(), req: request(), client });
    assert.match(await timeoutOf(s.onRequest(request())), /within messageTimeout \(50ms\)/);
    s.finish();
  });

  it('each new processing state may override again', async () => {
    const client = planned({
      request_headers: [{ msg: override(60_000) }, { after: 600, msg: 'pass' }],
      response_headers: [{ msg: override(60_000) }, { after: 600, msg: 'pass' }],
    });
    const s = new ExtProcSession({ config: config(SHORT), ctx: context(), req: request(), client });
    assert.deepEqual(await s.onRequest(request()), { kind: 'continue' });
    assert.deepEqual(await s.onResponse(response()), { kind: 'continue' });
    s.finish();
  });

  it('values outside [1 ms, 1 h] are ignored and the configured timer keeps running', async () => {
    for (const bad of [override(3_600_001), { overrideMessageTimeout: { nanos: 500 } }, { overrideMessageTimeout: { seconds: -1 } }]) {
      const client = planned({ request_headers: [{ msg: bad }] });
      const s = new ExtProcSession({ config: config(30), ctx: context(), req: request(), client });
      assert.match(await timeoutOf(s.onRequest(request())), /within messageTimeout \(30ms\)/, JSON.stringify(bad));
      s.finish();
    }
  });

  it('without a running timer it is ignored (and is not a protocol error)', async () => {
    // The override arrives after the request headers were answered: nothing is awaited, so it must not start
    // a timer of its own that could later cut the response phase short.
    const client = planned({
      request_headers: [{ msg: 'pass' }, { msg: override(30) }],
      response_headers: [{ after: 150, msg: 'pass' }],
    });
    const s = new ExtProcSession({ config: config(5_000), ctx: context(), req: request(), client });
    assert.deepEqual(await s.onRequest(request()), { kind: 'continue' });
    await new Promise((r) => setImmediate(r)); // the override was queued right behind the reply: let it arrive first
    assert.deepEqual(await s.onResponse(response()), { kind: 'continue' });
    s.finish();
  });

  it('a message carrying it is used for nothing else: its reply fields are ignored and the reply is still due', async () => {
    const withMutation: ProcessingResponse = {
      ...override(60_000),
      requestHeaders: { response: { headerMutation: { setHeaders: [{ header: { key: 'x-ignored', rawValue: Buffer.from('1') } }] } } },
    };
    const client = planned({ request_headers: [{ msg: withMutation }, { after: 600, msg: 'pass' }] });
    const req = request();
    const s = new ExtProcSession({ config: config(SHORT), ctx: context(), req, client });
    assert.deepEqual(await s.onRequest(req), { kind: 'continue' });
    assert.equal(req.headers.has('x-ignored'), false);
    s.finish();
  });
});
