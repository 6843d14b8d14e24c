import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ExtProcConfig, ProcessingOptions } from '../config/model.js';
import { GatewayError } from '../errors.js';
import { BodyChannel, bufferBody } from '../http/body.js';
import type { RequestContext } from '../http/context.js';
import { HeaderList } from '../http/headers.js';
import type { Body, GatewayRequest } from '../http/message.js';
import { FakeClient, phaseName, type FakeScript } from './fake-stream.test-helper.js';
import type { ProcessingRequest } from './messages.js';
import { ExtProcSession } from './session.js';
import { signalSource } from '../http/abort.js';

const opts = (o: Partial<ProcessingOptions> = {}): ProcessingOptions => ({
  requestHeaderMode: 'send', responseHeaderMode: 'skip', requestBodyMode: 'fullDuplexStreamed', responseBodyMode: 'none',
  requestTrailerMode: 'send', responseTrailerMode: 'skip', allowModeOverride: false, ...o,
});
const config = (o: Partial<ProcessingOptions> = {}, c: Partial<ExtProcConfig> = {}): ExtProcConfig => ({
  target: { scheme: 'http', host: '127.0.0.1', port: 1, display: 'proc:1', tls: undefined },
  failureMode: 'failClosed', processingOptions: opts(o), messageTimeoutMs: 2000, statusOnError: 500,
  metadataContext: undefined, requestAttributes: undefined, responseAttributes: undefined, ...c,
});
const context = (): RequestContext => ({
  id: 'r', start: 0, listener: {} as never, route: undefined, backend: undefined, signal: new AbortController().signal, abort: signalSource(new AbortController().signal),
  maxBufferSize: 1024, traceparent: undefined, extprocMetadata: {},
  log: { id: 'r', gateway: 'g', listener: 'l', method: 'POST', path: '/', authority: 'a', protocol: '1.1', remote: '' },
});
/** A request whose body is fed by the test (chunks, then optional trailers). */
function request(chunks: string[], trailers?: Array<[string, string]>, headers: Array<[string, string]> = []): GatewayRequest {
  const ch = new BodyChannel();
  for (const c of chunks) ch.pushNoWait(Buffer.from(c));
  ch.end(trailers === undefined ? undefined : new HeaderList(trailers));
  return { method: 'POST', scheme: 'http', authority: 'a', path: '/', headers: new HeaderList(headers), body: ch, httpVersion: '1.1', remoteAddress: '', remotePort: 0 };
}
async function drain(b: Body | null): Promise<{ text: string; trailers: Array<[string, string]> | undefined }> {
  const parts: Buffer[] = [];
  for await (const c of b!) parts.push(c);
  return { text: Buffer.concat(parts).toString(), trailers: b!.trailers()?.entries() };
}
const bodyText = (m: ProcessingRequest): string => Buffer.from(m.requestBody!.body ?? []).toString();
const setH = (key: string, value: string) => ({ header: { key, rawValue: Buffer.from(value) } });

/** A body-based-router style processor: holds the headers reply until it has the whole body, then echoes it upper-cased. */
const router: FakeScript = (msg, s) => {
  if (msg.requestBody != null && msg.requestBody.endOfStream) {
    const whole = s.sent.filter((m) => m.requestBody != null).map(bodyText).join('');
    s.reply({ requestHeaders: { response: { headerMutation: { setHeaders: [setH('x-routed', whole.length.toString())] } } } });
    s.reply({ requestBody: { response: { bodyMutation: { streamedResponse: { body: Buffer.from(whole.toUpperCase()), endOfStream: true } } } } });
  }
  if (msg.requestTrailers != null) {
    const whole = s.sent.filter((m) => m.requestBody != null).map(bodyText).join('');
    s.reply({ requestHeaders: {} });
    s.reply({ requestBody: { response: { bodyMutation: { streamedResponse: { body: Buffer.from(whole.toUpperCase()), endOfStream: false } } } } });
    s.reply({ requestTrailers: { headerMutation: { setHeaders: [setH('x-t', 'mutated')] } } });
  }
};

async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<GatewayError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof GatewayError, String(e));
    assert.match(e.message, re);
    return e;
  }
  assert.fail('expected a GatewayError');
}

describe('ext_proc session: full duplex', { timeout: 10_000 }, () => {
  it('sends chunks before the headers reply; forwards only streamed_response; the held headers reply applies', async () => {
    const client = new FakeClient(router);
    const req = request(['ab', 'cd'], undefined, [['content-length', '4']]);
    const s = new ExtProcSession({ config: config(), ctx: context(), req, client });
    assert.deepEqual(await s.onRequest(req), { kind: 'continue' });
    assert.equal(req.headers.get('x-routed'), '4');
    assert.equal(req.headers.has('content-length'), false);
    assert.deepEqual(await drain(req.body), { text: 'ABCD', trailers: undefined });
    const sent = client.streams[0]!.sent;
    assert.deepEqual(sent.map(phaseName), ['request_headers', 'request_body', 'request_body', 'request_body']);
    assert.equal(sent[0]!.protocolConfig!.requestBodyMode, 4);
    assert.equal(sent[3]!.requestBody!.endOfStream, true);
    s.finish();
  });

  it('ends the body with the trailers reply and forwards mutated trailers', async () => {
    const client = new FakeClient(router);
    const req = request(['x'], [['x-t', 'orig']]);
    const s = new ExtProcSession({ config: config(), ctx: context(), req, client });
    await s.onRequest(req);
    assert.deepEqual(await drain(req.body), { text: 'X', trailers: [['x-t', 'mutated']] });
    assert.ok(client.streams[0]!.sent.some((m) => m.requestTrailers != null));
    s.finish();
  });

  it('failOpen before the headers reply continues with the original body, even though it was sent', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.requestBody?.endOfStream) st.end({ kind: 'grpc_status', code: 2, message: 'boom' });
    });
    const req = request(['orig', 'inal']);
    const s = new ExtProcSession({ config: config({}, { failureMode: 'failOpen' }), ctx: context(), req, client });
    assert.deepEqual(await s.onRequest(req), { kind: 'continue' });
    assert.deepEqual(await drain(req.body), { text: 'original', trailers: undefined });
    s.finish();
  });

  it('failClosed before the headers reply rejects the request', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.requestBody?.endOfStream) st.end({ kind: 'grpc_status', code: 2, message: 'boom' });
    });
    const req = request(['x']);
    const s = new ExtProcSession({ config: config(), ctx: context(), req, client });
    await rejectsWith(s.onRequest(req), /gRPC status 2/);
    s.finish();
  });

  it('a failure after the headers were forwarded fails the body: never a silent truncation', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.requestHeaders != null) {
        st.reply({ requestHeaders: {} });
        st.reply({ requestBody: { response: { bodyMutation: { streamedResponse: { body: Buffer.from('partial') } } } } });
      }
      if (msg.requestBody?.endOfStream) st.end({ kind: 'reset', message: 'processor died' });
    });
    const req = request(['a', 'b']);
    const s = new ExtProcSession({ config: config({}, { failureMode: 'failOpen' }), ctx: context(), req, client });
    await s.onRequest(req);
    await rejectsWith(drain(req.body), /processor stream was reset/);
    s.finish();
  });

  it('a body reply without streamed_response is a protocol error naming the fix', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.requestHeaders != null) st.reply({ requestHeaders: {} });
      if (msg.requestBody != null) st.reply({ requestBody: {} });
    });
    const req = request(['a']);
    const s = new ExtProcSession({ config: config(), ctx: context(), req, client });
    await s.onRequest(req);
    await rejectsWith(drain(req.body), /in fullDuplexStreamed mode only streamed_response chunks are forwarded/);
    s.finish();
  });

  it('the idle timer fires when the processor has everything and goes quiet', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.requestHeaders != null) st.reply({ requestHeaders: {} });
    });
    const req = request(['a']);
    const s = new ExtProcSession({ config: config({}, { messageTimeoutMs: 200 }), ctx: context(), req, client });
    await s.onRequest(req);
    const e = await rejectsWith(drain(req.body), /within messageTimeout \(200ms\)/);
    assert.equal(e.status, 504);
    s.finish();
  });

  it('a processor closing OK before forwarding anything passes the original through', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.requestHeaders != null) st.reply({ requestHeaders: {} });
      if (msg.requestTrailers != null) st.end({ kind: 'ok' });
    });
    const req = request(['keep', 'me'], [['x-t', '1']]);
    const s = new ExtProcSession({ config: config(), ctx: context(), req, client });
    await s.onRequest(req);
    assert.deepEqual(await drain(req.body), { text: 'keepme', trailers: [['x-t', '1']] });
    s.finish();
  });
});

describe('ext_proc session: both directions at once', { timeout: 10_000 }, () => {
  it('the response is processed while a full-duplex request body is still streaming', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.requestHeaders != null) st.reply({ requestHeaders: {} });
      if (msg.responseHeaders != null) st.reply({ responseHeaders: { response: { headerMutation: { setHeaders: [setH('x-r', '1')] } } } });
      if (msg.requestBody != null) {
        st.reply({ requestBody: { response: { bodyMutation: { streamedResponse: { body: msg.requestBody.body ?? Buffer.alloc(0), endOfStream: !!msg.requestBody.endOfStream } } } } });
      }
    });
    const body = new BodyChannel();
    body.pushNoWait(Buffer.from('early-'));
    const req: GatewayRequest = { method: 'POST', scheme: 'http', authority: 'a', path: '/', headers: new HeaderList(), body, httpVersion: '2', remoteAddress: '', remotePort: 0 };
    const s = new ExtProcSession({ config: config({ responseHeaderMode: 'send' }), ctx: context(), req, client });
    await s.onRequest(req);
    const reading = drain(req.body);
    const res = { status: 200, headers: new HeaderList(), body: null };
    assert.deepEqual(await s.onResponse(res), { kind: 'continue' });
    assert.equal(res.headers.get('x-r'), '1');
    body.pushNoWait(Buffer.from('late'));
    body.end();
    assert.deepEqual(await reading, { text: 'early-late', trailers: undefined });
    s.finish();
  });
});

describe('ext_proc session: streamed and trailers', { timeout: 10_000 }, () => {
  it('streamed: one reply per chunk, in order; replace, clear, keep', async () => {
    let n = 0;
    const client = new FakeClient((msg, st) => {
      if (msg.requestHeaders != null) st.reply({ requestHeaders: {} });
      if (msg.requestBody != null) {
        const i = n++;
        if (i === 0) st.reply({ requestBody: { response: { bodyMutation: { body: Buffer.from('ONE') } } } });
        else if (i === 1) st.reply({ requestBody: { response: { bodyMutation: { clearBody: true } } } });
        else st.reply({ requestBody: {} });
      }
    });
    const req = request(['one', 'two', 'three']);
    const s = new ExtProcSession({ config: config({ requestBodyMode: 'streamed' }), ctx: context(), req, client });
    await s.onRequest(req);
    assert.deepEqual(await drain(req.body), { text: 'ONEthree', trailers: undefined });
    const bodies = client.streams[0]!.sent.filter((m) => m.requestBody != null);
    assert.deepEqual(bodies.map(bodyText), ['one', 'two', 'three', '']);
    assert.equal(bodies[3]!.requestBody!.endOfStream, true);
    s.finish();
  });

  it('none mode with trailers sent: body untouched, trailers mutated', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.requestHeaders != null) st.reply({ requestHeaders: {} });
      if (msg.requestTrailers != null) st.reply({ requestTrailers: { headerMutation: { setHeaders: [setH('grpc-status', '0'), setH('x-new', 'y')] } } });
    });
    const req = request(['body'], [['grpc-status', '13']]);
    const s = new ExtProcSession({ config: config({ requestBodyMode: 'none' }), ctx: context(), req, client });
    await s.onRequest(req);
    assert.deepEqual(await drain(req.body), { text: 'body', trailers: [['grpc-status', '0'], ['x-new', 'y']] });
    s.finish();
  });

  it('response full duplex: an immediate response before the first processed byte is honoured (the head waits for that byte)', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.responseHeaders != null) st.reply({ responseHeaders: {} });
      if (msg.responseBody != null) st.reply({ immediateResponse: { status: { code: 403 as never }, body: Buffer.from('blocked') } });
    });
    const req = request([]);
    req.body = null;
    const s = new ExtProcSession({ config: config({ requestHeaderMode: 'skip', requestBodyMode: 'none', responseHeaderMode: 'send', responseBodyMode: 'fullDuplexStreamed' }), ctx: context(), req, client });
    await s.onRequest(req);
    const res = { status: 200, headers: new HeaderList(), body: bufferBody('upstream') };
    const e = await s.onResponse(res).then(
      () => assert.fail('onResponse resolved'),
      (err: unknown) => err as GatewayError & { response?: { status: number } },
    );
    assert.equal(e.response?.status, 403);
    assert.equal(e.message, 'blocked');
    s.finish();
  });

  it('response full duplex: an immediate response after a processed byte went out aborts the body', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.responseHeaders != null) st.reply({ responseHeaders: {} });
      if (msg.responseBody != null) {
        if (msg.responseBody.endOfStream === true) st.reply({ immediateResponse: { status: { code: 403 as never } } });
        else st.reply({ responseBody: { response: { bodyMutation: { streamedResponse: { body: Buffer.from(msg.responseBody.body ?? []), endOfStream: false } } } } });
      }
    });
    const req = request([]);
    req.body = null;
    const s = new ExtProcSession({ config: config({ requestHeaderMode: 'skip', requestBodyMode: 'none', responseHeaderMode: 'send', responseBodyMode: 'fullDuplexStreamed' }), ctx: context(), req, client });
    await s.onRequest(req);
    const res = { status: 200, headers: new HeaderList(), body: bufferBody('upstream') };
    await s.onResponse(res);
    await rejectsWith(drain(res.body), /after response headers reached the client/);
    s.finish();
  });
});

describe('ext_proc session: full duplex ends', { timeout: 10_000 }, () => {
  it('a trailers reply ends the body even when there were no trailers', async () => {
    const client = new FakeClient((msg, st) => {
      if (msg.requestHeaders != null) st.reply({ requestHeaders: {} });
      if (msg.requestBody != null && !msg.requestBody.endOfStream) st.reply({ requestBody: { response: { bodyMutation: { streamedResponse: { body: Buffer.from('seen') } } } } });
      if (msg.requestBody?.endOfStream) st.reply({ requestTrailers: {} });
    });
    const req = request(['a']);
    const s = new ExtProcSession({ config: config(), ctx: context(), req, client });
    await s.onRequest(req);
    assert.deepEqual(await drain(req.body), { text: 'seen', trailers: undefined });
    s.finish();
  });
});
