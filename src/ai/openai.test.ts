import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AiBackend, Listener } from '../config/model.js';
import { bufferBody, BodyChannel, readAll } from '../http/body.js';
import type { RequestContext } from '../http/context.js';
import { HeaderList } from '../http/headers.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { AiBadRequestError } from './errors.js';
import { observeAiResponse, prepareAiRequest } from './openai.js';
import { signalSource } from '../http/abort.js';

function backend(over: Partial<AiBackend> = {}): AiBackend {
  return {
    kind: 'ai',
    name: 'openai',
    provider: { kind: 'openAI', model: undefined },
    target: { scheme: 'https', host: 'api.openai.com', port: 443 },
    hostOverride: undefined,
    pathOverride: undefined,
    pathPrefix: undefined,
    ...over,
  };
}

function ctx(maxBufferSize = 1 << 20): RequestContext {
  return {
    id: 'r1',
    start: performance.now(),
    listener: {} as Listener,
    route: undefined,
    backend: undefined,
    signal: new AbortController().signal, abort: signalSource(new AbortController().signal),
    maxBufferSize,
    traceparent: undefined,
    extprocMetadata: {},
    log: { id: 'r1', gateway: 'g', listener: 'l', method: 'POST', path: '/', authority: 'a', protocol: 'HTTP/1.1', remote: '' },
  };
}

function request(path: string, body: unknown, method = 'POST', headers: [string, string][] = []): GatewayRequest {
  return {
    method,
    scheme: 'http',
    authority: 'gw.local:3000',
    path,
    headers: new HeaderList([['content-type', 'application/json'], ...headers]),
    body: body === undefined ? null : bufferBody(typeof body === 'string' ? body : JSON.stringify(body)),
    httpVersion: '1.1',
    remoteAddress: '127.0.0.1',
    remotePort: 1,
  };
}

test('default target: api.openai.com over TLS, /v1/chat/completions, Host api.openai.com, model forced', async () => {
  const c = ctx();
  const req = request('/openai/v1/chat/completions?trace=1', { model: 'client', messages: [] }, 'POST', [['accept-encoding', 'gzip']]);
  const plan = await prepareAiRequest(backend({ provider: { kind: 'openAI', model: 'gpt-4o-mini' } }), req, c);
  assert.deepEqual(plan, { scheme: 'https', host: 'api.openai.com', port: 443 });
  assert.equal(req.path, '/v1/chat/completions?trace=1');
  assert.equal(req.authority, 'api.openai.com');
  assert.equal(req.headers.get('accept-encoding'), 'identity');
  const sent = await readAll(req.body!, 1e6, () => new Error('big'));
  assert.equal(JSON.parse(sent.toString()).model, 'gpt-4o-mini');
  assert.equal(req.headers.get('content-length'), String(sent.length));
  assert.deepEqual(c.log.ai, { provider: 'openai', requestModel: 'gpt-4o-mini', streaming: false });
});

test('hostOverride: plaintext to that host:port, client path kept, authority is the override', async () => {
  const req = request('/v1/embeddings', { model: 'e', input: 'x' });
  const plan = await prepareAiRequest(
    backend({ hostOverride: '127.0.0.1:9999', target: { scheme: 'http', host: '127.0.0.1', port: 9999 } }),
    req,
    ctx(),
  );
  assert.deepEqual(plan, { scheme: 'http', host: '127.0.0.1', port: 9999 });
  assert.equal(req.path, '/v1/embeddings');
  assert.equal(req.authority, '127.0.0.1:9999');
});

test('GET /v1/models passes through without touching the body', async () => {
  const c = ctx();
  const req = request('/v1/models', undefined, 'GET');
  await prepareAiRequest(backend(), req, c);
  assert.equal(req.path, '/v1/models');
  assert.equal(req.body, null);
  assert.deepEqual(c.log.ai, { provider: 'openai' });
});

test('malformed JSON and over-limit bodies reject before anything is sent', async () => {
  await assert.rejects(prepareAiRequest(backend(), request('/v1/chat/completions', '{oops'), ctx()), AiBadRequestError);
  await assert.rejects(
    prepareAiRequest(backend(), request('/v1/chat/completions', { model: 'm', pad: 'x'.repeat(200) }), ctx(100)),
    (e: unknown) => (e as { code?: string }).code === 'payload_too_large',
  );
});

function sseResponse(): { res: GatewayResponse; ch: BodyChannel } {
  const ch = new BodyChannel();
  return { res: { status: 200, headers: new HeaderList([['content-type', 'text/event-stream']]), body: ch }, ch };
}

test('streaming: chunks pass one by one while usage, model and TTFT are recorded', async () => {
  const c = ctx();
  await prepareAiRequest(backend(), request('/v1/chat/completions', { model: 'm', stream: true }), c);
  const { res, ch } = sseResponse();
  observeAiResponse(backend(), res, c);
  const it = res.body![Symbol.asyncIterator]();
  // The first chunk is half an event: it must come out before the rest exists (no buffering).
  void ch.push(Buffer.from('data: {"model":"m-2024","choices":[{"delta":{"content":"He"}}],"usage":nu'));
  const first = await it.next();
  assert.equal(first.value?.toString(), 'data: {"model":"m-2024","choices":[{"delta":{"content":"He"}}],"usage":nu');
  assert.equal(c.log.ai?.timeToFirstTokenMs, undefined, 'the event is not complete yet');
  void ch.push(Buffer.from('ll}\n\n'));
  await it.next();
  assert.equal(typeof c.log.ai?.timeToFirstTokenMs, 'number');
  assert.equal(c.log.ai?.responseModel, 'm-2024');
  void ch.push(Buffer.from('data: {"model":"m-2024","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}\n\ndata: [DONE]\n\n'));
  ch.end();
  await it.next();
  assert.equal((await it.next()).done, true);
  assert.deepEqual(
    { i: c.log.ai?.inputTokens, o: c.log.ai?.outputTokens, t: c.log.ai?.totalTokens, s: c.log.ai?.streaming },
    { i: 9, o: 2, t: 11, s: true },
  );
});

test('abandoning the observed stream cancels the upstream body', async () => {
  const c = ctx();
  const { res, ch } = sseResponse();
  observeAiResponse(backend(), res, c);
  let cancelled = false;
  ch.onCancel = () => {
    cancelled = true;
  };
  void ch.push(Buffer.from('data: {}\n\n'));
  for await (const _chunk of res.body!) break;
  assert.equal(cancelled, true);
});

test('non-streaming JSON: usage read at the end; errors and compressed bodies left alone', async () => {
  const c = ctx();
  const payload = { model: 'm-resp', usage: { prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 } };
  const res: GatewayResponse = { status: 200, headers: new HeaderList([['content-type', 'application/json']]), body: bufferBody(JSON.stringify(payload)) };
  observeAiResponse(backend(), res, c);
  const out = await readAll(res.body!, 1e6, () => new Error('big'));
  assert.deepEqual(JSON.parse(out.toString()), payload);
  assert.equal(c.log.ai?.totalTokens, 10);
  assert.equal(c.log.ai?.responseModel, 'm-resp');

  const err: GatewayResponse = { status: 429, headers: new HeaderList(), body: bufferBody('{"error":{}}') };
  const errBody = err.body;
  observeAiResponse(backend(), err, ctx());
  assert.equal(err.body, errBody);

  const gz: GatewayResponse = { status: 200, headers: new HeaderList([['content-encoding', 'gzip']]), body: bufferBody('x') };
  const gzBody = gz.body;
  observeAiResponse(backend(), gz, ctx());
  assert.equal(gz.body, gzBody);
});

test('a streamed request answered with JSON stays JSON; one answered without a content type becomes SSE', async () => {
  const c = ctx();
  await prepareAiRequest(backend(), request('/v1/chat/completions', { model: 'm', stream: true }), c);
  const json: GatewayResponse = {
    status: 200,
    headers: new HeaderList([['content-type', 'application/json'], ['content-length', '2']]),
    body: bufferBody('{}'),
  };
  observeAiResponse(backend(), json, c);
  assert.equal(json.headers.get('content-type'), 'application/json');
  assert.equal(json.headers.get('content-length'), '2');

  const bare: GatewayResponse = { status: 200, headers: new HeaderList([['content-length', '14']]), body: bufferBody('data: {}\n\n') };
  observeAiResponse(backend(), bare, c);
  assert.equal(bare.headers.get('content-type'), 'text/event-stream');
  assert.equal(bare.headers.has('content-length'), false);
});
