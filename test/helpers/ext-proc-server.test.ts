// Unit tests of the scriptable processor fixture itself, driven by a plain @grpc/grpc-js client (not our transport),
// so a bug in our client cannot hide a bug in the fixture.
import { extProcServiceDef } from '../../src/processor/services.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { pb, BodySendMode, AppendAction } from '../../src/extproc/messages.js';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/messages.js';
import { startProcessor, reply, headerValue, type TestProcessor } from './ext-proc-server.js';

const Client = grpc.makeGenericClientConstructor(extProcServiceDef(), 'ExternalProcessor');

type Decoded = ReturnType<typeof pb.ProcessingResponse.decode>;
interface Call { replies: Decoded[]; status: Promise<grpc.StatusObject>; stream: grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse> }

function open(p: TestProcessor, md: Record<string, string> = {}): Call {
  const client = new Client(p.target, grpc.credentials.createInsecure()) as unknown as {
    Process(md: grpc.Metadata): grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;
    close(): void;
  };
  const meta = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) meta.set(k, v);
  const stream = client.Process(meta);
  const replies: Decoded[] = [];
  stream.on('data', (r: Decoded) => replies.push(r));
  stream.on('error', () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', (s: grpc.StatusObject) => { client.close(); resolve(s); }));
  return { replies, status, stream };
}

const headersMsg = (pairs: Array<[string, string]>, extra: Partial<ProcessingRequest> = {}): ProcessingRequest => ({
  requestHeaders: { headers: { headers: pairs.map(([key, v]) => ({ key, rawValue: Buffer.from(v) })) }, endOfStream: false },
  ...extra,
});

test('pass-through defaults answer every phase and close OK after half-close', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor();
  t.after(() => p.stop());
  const c = open(p, { traceparent: '00-abc-def-01' });
  c.stream.write(headersMsg([[':path', '/x']], { protocolConfig: { requestBodyMode: BodySendMode.BUFFERED } }));
  c.stream.write({ requestBody: { body: Buffer.from('hi'), endOfStream: true } });
  c.stream.write({ responseHeaders: { headers: { headers: [] } } });
  c.stream.write({ responseTrailers: { trailers: { headers: [] } } });
  c.stream.end();
  const s = await c.status;
  assert.equal(s.code, grpc.status.OK);
  assert.deepEqual(c.replies.map((r) => r.response), ['requestHeaders', 'requestBody', 'responseHeaders', 'responseTrailers']);
  assert.equal(c.replies[1]!.requestBody!.response?.bodyMutation, null);
  assert.equal(p.streams, 1);
  assert.equal(p.received[0]!.length, 4);
  assert.equal(p.records[0]!.metadata['traceparent'], '00-abc-def-01');
  assert.equal(await p.records[0]!.ended, 'ok');
});

test('full-duplex default echoes body chunks as streamed_response', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor();
  t.after(() => p.stop());
  const c = open(p);
  c.stream.write(headersMsg([], { protocolConfig: { requestBodyMode: BodySendMode.FULL_DUPLEX_STREAMED } }));
  c.stream.write({ requestBody: { body: Buffer.from('a'), endOfStream: false } });
  c.stream.write({ requestBody: { body: Buffer.from('b'), endOfStream: true } });
  c.stream.end();
  await c.status;
  const chunks = c.replies.slice(1).map((r) => r.requestBody!.response!.bodyMutation!.streamedResponse!);
  assert.deepEqual(chunks.map((x) => [Buffer.from(x.body!).toString(), x.endOfStream]), [['a', false], ['b', true]]);
});

test('scripted handlers: mutations, lists, delay, out-of-order via ctx.send, empty', { timeout: 10_000 }, async (t) => {
  let stash: ProcessingResponse | undefined;
  const p = await startProcessor({
    onRequestHeaders: (msg) => {
      stash = reply.headers('request', { set: [['x-seen', headerValue(msg, ':path') ?? ''], { name: 'x-a', value: '1', action: AppendAction.ADD_IF_ABSENT }], remove: ['cookie'] });
      return null; // answer later, after the body reply
    },
    onRequestBody: () => [reply.body('request', { body: 'NEW' }), stash!],
    onResponseHeaders: () => ({ delayMs: 20, then: { empty: true } }),
  });
  t.after(() => p.stop());
  const c = open(p);
  c.stream.write(headersMsg([[':path', '/p']]));
  c.stream.write({ requestBody: { body: Buffer.from('x'), endOfStream: true } });
  c.stream.write({ responseHeaders: { headers: { headers: [] } } });
  c.stream.end();
  await c.status;
  assert.deepEqual(c.replies.map((r) => r.response), ['requestBody', 'requestHeaders', undefined]);
  assert.equal(Buffer.from(c.replies[0]!.requestBody!.response!.bodyMutation!.body!).toString(), 'NEW');
  const set = c.replies[1]!.requestHeaders!.response!.headerMutation!.setHeaders!;
  assert.equal(Buffer.from(set[0]!.header!.rawValue!).toString(), '/p');
  assert.equal(set[1]!.appendAction, AppendAction.ADD_IF_ABSENT);
});

test('grpcError, closeOk and immediate actions', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor({
    onRequestHeaders: (_m, ctx) => (ctx.stream === 0 ? { grpcError: { code: 7, message: 'denied here' } }
      : ctx.stream === 1 ? { closeOk: true } : reply.immediate({ status: 403, body: 'no', grpcStatus: 7 })),
  });
  t.after(() => p.stop());
  const a = open(p);
  a.stream.write(headersMsg([]));
  const sa = await a.status;
  assert.equal(sa.code, 7);
  assert.equal(sa.details, 'denied here');
  const b = open(p);
  b.stream.write(headersMsg([]));
  assert.equal((await b.status).code, grpc.status.OK);
  assert.equal(b.replies.length, 0);
  const c = open(p);
  c.stream.write(headersMsg([]));
  c.stream.end();
  await c.status;
  assert.equal(c.replies[0]!.immediateResponse!.status!.code, 403);
  assert.equal(c.replies[0]!.immediateResponse!.grpcStatus!.status, 7);
});

test('crash destroys the connection mid-stream and restart on the same port works', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor({ onRequestHeaders: () => ({ crash: true }) });
  t.after(() => p.stop());
  const c = open(p);
  c.stream.write(headersMsg([]));
  const s = await c.status;
  assert.equal(s.code, grpc.status.UNAVAILABLE);
  assert.equal(await p.records[0]!.ended, 'crashed');
  const q = await startProcessor({}, { port: p.port });
  t.after(() => q.stop());
  const d = open(q);
  d.stream.write(headersMsg([]));
  d.stream.end();
  assert.equal((await d.status).code, grpc.status.OK);
  assert.equal(d.replies.length, 1);
});

test('dynamic metadata and mode override builders encode', { timeout: 5_000 }, () => {
  const r = reply.headers('response', { dynamicMetadata: { a: 'x', n: 2, nested: { ok: true } }, modeOverride: { responseBodyMode: BodySendMode.BUFFERED } });
  const back = pb.ProcessingResponse.decode(pb.ProcessingResponse.encode(r).finish());
  assert.equal(back.dynamicMetadata!.fields!['a']!.stringValue, 'x');
  assert.equal(back.dynamicMetadata!.fields!['nested']!.structValue!.fields!['ok']!.boolValue, true);
  assert.equal(back.modeOverride!.responseBodyMode, BodySendMode.BUFFERED);
});
