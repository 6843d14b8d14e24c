// SPEC §2 rules checked at the session level, each so that the test fails if the rule breaks: protocol_config
// only on the first message (request headers skipped too), end_of_stream in every body mode (bodyless vs
// empty vs trailers), full-duplex failOpen over maxBufferSize, and CR/LF/NUL mutations counted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import type { BodySendMode, ExtProcConfig, ProcessingOptions } from '../config/model.js';
import { GatewayError } from '../errors.js';
import { BodyChannel, bufferBody } from '../http/body.js';
import type { RequestContext } from '../http/context.js';
import { HeaderList } from '../http/headers.js';
import type { Body, GatewayRequest, GatewayResponse } from '../http/message.js';
import { FakeClient, passThrough, phaseName, type FakeScript } from './fake-stream.test-helper.js';
import type { ProcessingRequest, ProcessingResponse } from './messages.js';
import { ExtProcSession } from './session.js';
import { signalSource } from '../http/abort.js';

const opts = (o: Partial<ProcessingOptions> = {}): ProcessingOptions => ({
  requestHeaderMode: 'send', responseHeaderMode: 'skip', requestBodyMode: 'none', responseBodyMode: 'none',
  requestTrailerMode: 'skip', responseTrailerMode: 'skip', allowModeOverride: false, ...o,
});
const config = (o: Partial<ProcessingOptions> = {}, c: Partial<ExtProcConfig> = {}): ExtProcConfig => ({
  target: { scheme: 'http', host: '127.0.0.1', port: 1, display: 'proc:1', tls: undefined },
  failureMode: 'failClosed', processingOptions: opts(o), messageTimeoutMs: 2000, statusOnError: 500,
  metadataContext: undefined, requestAttributes: undefined, responseAttributes: undefined, ...c,
});
const context = (maxBufferSize = 1024): RequestContext => ({
  id: 'r', start: 0, listener: {} as never, route: undefined, backend: undefined, signal: new AbortController().signal, abort: signalSource(new AbortController().signal),
  maxBufferSize, traceparent: undefined, extprocMetadata: {},
  log: { id: 'r', gateway: 'g', listener: 'l', method: 'POST', path: '/', authority: 'a', protocol: '1.1', remote: '' },
});
function request(body: Body | null): GatewayRequest {
  return { method: body === null ? 'GET' : 'POST', scheme: 'http', authority: 'a', path: '/', headers: new HeaderList(), body, httpVersion: '1.1', remoteAddress: '', remotePort: 0 };
}
function fed(chunks: string[], trailers?: Array<[string, string]>): Body {
  const ch = new BodyChannel();
  for (const c of chunks) ch.pushNoWait(Buffer.from(c));
  ch.end(trailers === undefined ? undefined : new HeaderList(trailers));
  return ch;
}
async function drain(b: Body | null): Promise<string> {
  if (b === null) return '<null>';
  const parts: Buffer[] = [];
  for await (const c of b) parts.push(c);
  return Buffer.concat(parts).toString();
}
/** A pass-through processor that speaks each body mode's dialect (full duplex echoes as streamed_response). */
const aware = (mode: BodySendMode): FakeScript => (msg, s) => {
  const b = msg.requestBody ?? msg.responseBody;
  if (b != null && mode === 'fullDuplexStreamed') {
    const streamed: ProcessingResponse['requestBody'] = { response: { bodyMutation: { streamedResponse: { body: b.body ?? Buffer.alloc(0), endOfStream: b.endOfStream ?? false } } } };
    s.reply(msg.requestBody != null ? { requestBody: streamed } : { responseBody: streamed });
    return;
  }
  s.reply(passThrough(msg));
};
const bodies = (sent: readonly ProcessingRequest[]) => sent.filter((m) => m.requestBody != null).map((m) => ({ body: Buffer.from(m.requestBody!.body ?? []).toString(), eos: m.requestBody!.endOfStream === true }));

describe('SPEC §2: protocol_config', { timeout: 10_000 }, () => {
  it('goes on the first message only, also when the request headers are skipped', async () => {
    const client = new FakeClient(aware('buffered'));
    const req = request(bufferBody('abc'));
    const s = new ExtProcSession({ config: config({ requestHeaderMode: 'skip', requestBodyMode: 'buffered', responseHeaderMode: 'send' }), ctx: context(), req, client });
    await s.onRequest(req);
    await s.onResponse({ status: 200, headers: new HeaderList(), body: null });
    s.finish();
    const sent = client.streams[0]!.sent;
    assert.deepEqual(sent.map(phaseName), ['request_body', 'response_headers']);
    assert.equal(sent[0]!.protocolConfig?.requestBodyMode, 2, 'BUFFERED announced on the first message');
    assert.equal(sent[1]!.protocolConfig, null);
  });

  it('goes on the first response message when the request sends nothing', async () => {
    const client = new FakeClient(aware('none'));
    const req = request(null);
    const s = new ExtProcSession({ config: config({ requestHeaderMode: 'skip', responseHeaderMode: 'send', responseBodyMode: 'buffered' }), ctx: context(), req, client });
    await s.onRequest(req);
    const res: GatewayResponse = { status: 200, headers: new HeaderList(), body: bufferBody('r') };
    await s.onResponse(res);
    s.finish();
    const sent = client.streams[0]!.sent;
    assert.deepEqual(sent.map(phaseName), ['response_headers', 'response_body']);
    assert.equal(sent[0]!.protocolConfig?.responseBodyMode, 2);
    assert.equal(sent[1]!.protocolConfig, null);
  });
});

describe('SPEC §2: end_of_stream in every body mode', { timeout: 20_000 }, () => {
  const modes: BodySendMode[] = ['none', 'buffered', 'bufferedPartial', 'streamed', 'fullDuplexStreamed'];
  for (const mode of modes) {
    it(`${mode}: bodyless sets it on the headers and sends no body; empty sends one empty body message (none: no body message)`, async () => {
      const run = async (body: Body | null) => {
        const client = new FakeClient(aware(mode));
        const req = request(body);
        const s = new ExtProcSession({ config: config({ requestBodyMode: mode }), ctx: context(), req, client });
        await s.onRequest(req);
        const out = await drain(req.body);
        s.finish();
        const sent = client.streams[0]!.sent;
        return { headersEos: sent[0]!.requestHeaders!.endOfStream === true, bodies: bodies(sent), out };
      };
      const bodyless = await run(null);
      assert.equal(bodyless.headersEos, true);
      assert.deepEqual(bodyless.bodies, []);
      const empty = await run(bufferBody(''));
      assert.equal(empty.headersEos, false);
      assert.deepEqual(empty.bodies, mode === 'none' ? [] : [{ body: '', eos: true }]);
      assert.equal(empty.out, '');
    });

    it(`${mode}: with trailers the last body message has end_of_stream=false and the trailers follow`, async () => {
      const client = new FakeClient(aware(mode));
      const req = request(fed(['ab', 'cd'], [['x-t', '1']]));
      const s = new ExtProcSession({ config: config({ requestBodyMode: mode, requestTrailerMode: 'send' }), ctx: context(), req, client });
      await s.onRequest(req);
      assert.equal(await drain(req.body), 'abcd');
      s.finish();
      const sent = client.streams[0]!.sent;
      assert.equal(sent[0]!.requestHeaders!.endOfStream, false);
      const b = bodies(sent);
      assert.ok(b.every((x) => !x.eos), `no body message claims the end: ${JSON.stringify(b)}`);
      assert.equal(b.map((x) => x.body).join(''), mode === 'none' ? '' : 'abcd');
      assert.equal(phaseName(sent[sent.length - 1]!), 'request_trailers');
    });
  }
});

describe('SPEC §2: full-duplex failOpen needs the original within maxBufferSize', { timeout: 10_000 }, () => {
  const failing: FakeScript = (msg, st) => {
    if (msg.requestBody?.endOfStream) st.end({ kind: 'grpc_status', code: 2, message: 'boom' });
  };
  it('within the limit it continues with the original; over it, it fails closed with statusOnError', async () => {
    const small = request(fed(['a'.repeat(400), 'b'.repeat(400)]));
    const s1 = new ExtProcSession({ config: config({ requestBodyMode: 'fullDuplexStreamed' }, { failureMode: 'failOpen', statusOnError: 502 }), ctx: context(1024), req: small, client: new FakeClient(failing) });
    assert.deepEqual(await s1.onRequest(small), { kind: 'continue' });
    assert.equal((await drain(small.body)).length, 800);
    s1.finish();

    const big = request(fed(['a'.repeat(800), 'b'.repeat(800)]));
    const s2 = new ExtProcSession({ config: config({ requestBodyMode: 'fullDuplexStreamed' }, { failureMode: 'failOpen', statusOnError: 502 }), ctx: context(1024), req: big, client: new FakeClient(failing) });
    const e = await s2.onRequest(big).then(() => undefined, (err: unknown) => err);
    assert.ok(e instanceof GatewayError, String(e));
    assert.equal(e.status, 502);
    assert.match(e.message, /^ext_proc failed: /);
    s2.finish();
  });
});

describe('SPEC §2: CR, LF and NUL are never applied and are counted', { timeout: 10_000 }, () => {
  it('each refused mutation is published (the metric counts these) and the rest applies', async () => {
    const seen: Array<{ header: string; why: string }> = [];
    const listen = (m: unknown) => { seen.push(m as { header: string; why: string }); };
    diagnostics_channel.subscribe('tollgate:extproc:mutation-rejected', listen);
    try {
      const set = (key: string, value: string) => ({ header: { key, rawValue: Buffer.from(value, 'latin1') } });
      const client = new FakeClient((msg, s) => {
        if (msg.requestHeaders != null) {
          s.reply({ requestHeaders: { response: { headerMutation: { setHeaders: [set('x-cr', 'a\rb'), set('x-lf', 'a\nb'), set('x-nul', 'a\0b'), set('x-bad\r\nname', 'v'), set('x-ok', 'fine')] } } } });
        } else s.reply(passThrough(msg));
      });
      const req = request(null);
      const s = new ExtProcSession({ config: config(), ctx: context(), req, client });
      await s.onRequest(req);
      s.finish();
      assert.deepEqual(seen.map((r) => r.header).slice(0, 3), ['x-cr', 'x-lf', 'x-nul']);
      assert.equal(seen.length, 4);
      assert.ok(seen.every((r) => !/[\r\n\0]/.test(r.header)), 'the published name carries no control characters');
      for (const h of ['x-cr', 'x-lf', 'x-nul']) assert.equal(req.headers.has(h), false);
      assert.equal(req.headers.get('x-ok'), 'fine');
      assert.ok(req.headers.entries().every(([k, v]) => !/[\r\n\0]/.test(k + v)));
    } finally {
      diagnostics_channel.unsubscribe('tollgate:extproc:mutation-rejected', listen);
    }
  });
});

describe('SPEC §2: messageTimeout covers every awaited reply', { timeout: 20_000 }, () => {
  const cases: Array<[string, Partial<ProcessingOptions>, string]> = [
    ['a buffered-body reply', { requestBodyMode: 'buffered' }, 'request_body'],
    ['a bufferedPartial-body reply', { requestBodyMode: 'bufferedPartial' }, 'request_body'],
    ['a streamed-body reply', { requestBodyMode: 'streamed' }, 'request_body'],
    ['a trailers reply', { requestBodyMode: 'none', requestTrailerMode: 'send' }, 'request_trailers'],
  ];
  for (const [what, o, phase] of cases) {
    it(`${what}: 504 (not statusOnError) with the phase named`, async () => {
      // Answers everything except the phase under test.
      const client = new FakeClient((msg, s) => {
        if (phaseName(msg) !== phase) s.reply(passThrough(msg));
      });
      const req = request(fed(['ab', 'cd'], [['x-t', '1']]));
      const s = new ExtProcSession({ config: config(o, { messageTimeoutMs: 200, statusOnError: 503 }), ctx: context(), req, client });
      // Streaming modes forward the headers first: the timeout then fails the body the upstream reads.
      const e = await s.onRequest(req).then(() => drain(req.body)).then(() => undefined, (err: unknown) => err);
      assert.ok(e instanceof GatewayError, String(e));
      assert.equal(e.status, 504);
      assert.match(e.message, new RegExp(`did not answer ${phase} within messageTimeout \\(200ms\\)`));
      s.finish();
    });
  }
});
