/**
 * Streamed local replies (Envoy's StreamedImmediateResponse, reference §1.10) over HTTP/1.1 and HTTP/2:
 * headers with `:status`, body chunks and trailers from the processor; the request body keeps streaming to
 * the processor meanwhile (full duplex); the upstream is never called; a gRPC client gets a streamed reply
 * with grpc-status trailers; misuse fails clearly; a local reply cut short aborts the client stream.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { frameMessage } from '../../src/extproc/grpc-framing.js';
import { headerValue, reply, type Handlers, type ProcessorContext } from '../helpers/ext-proc-server.js';
import { call, PROTOS, processing, setupExtProc, suiteCleanup, type ExtProcSetup } from '../helpers/ext-proc-harness.js';
import type { ProcessingRequest } from '../../src/extproc/messages.js';

const caseOf = (ctx: ProcessorContext): string => headerValue(ctx.received[0]!, 'x-case') ?? '';

const handlers: Handlers = {
  onRequestHeaders: (_msg, ctx) => {
    switch (caseOf(ctx)) {
      case 'chunks':
        return [
          reply.localHeaders({ ':status': '201', 'content-type': 'text/plain', 'x-local': 'yes', 'content-length': '999', 'x-bad': 'a\r\nb' }),
          reply.localBody('hello '),
          reply.localBody('world', true),
        ];
      case 'headers-only':
        return reply.localHeaders({ ':status': '204', 'x-local': 'only' }, true);
      case 'headers-only-length':
        return reply.localHeaders({ ':status': '200', 'x-local': 'only', 'content-length': '10' }, true);
      case 'echo-upper':
        return reply.localHeaders({ ':status': '200', 'content-type': 'text/plain' });
      case 'no-status':
        return reply.localHeaders({ 'content-type': 'text/plain' });
      case 'cut-short':
        return [reply.localHeaders({ ':status': '200' }), reply.localBody('partial'), { closeOk: true }];
      default:
        return undefined;
    }
  },
  // While the local reply streams, the processor still reads the request body and answers with local chunks.
  onRequestBody: (msg, ctx) => {
    if (caseOf(ctx) !== 'echo-upper') return undefined;
    const b = msg.requestBody!;
    const text = Buffer.from(b.body ?? new Uint8Array()).toString('latin1').toUpperCase();
    if (b.endOfStream !== true) return text.length > 0 ? reply.localBody(text) : null;
    return [reply.localBody(text), reply.localTrailers({ 'x-done': String(ctx.received.filter((m) => m.requestBody != null).length) })];
  },
  onRequestTrailers: (_msg, ctx) => (caseOf(ctx) === 'echo-upper' ? reply.localTrailers({ 'x-done': 'trailers' }) : undefined),
};

describe('ext_proc streamed local replies', { timeout: 60_000 }, () => {
  const cleanup = suiteCleanup(after);
  let s: ExtProcSetup;
  before(async () => {
    s = await setupExtProc(cleanup, { handlers });
  });

  for (const proto of PROTOS) {
    it(`HTTP/${proto}: headers and body chunks from the processor; the upstream is never called`, async () => {
      const up = s.up.requests.length;
      const r = await call(proto, s.url, { path: '/local', headers: { 'x-case': 'chunks' } });
      assert.equal(r.status, 201);
      assert.equal(r.text, 'hello world');
      assert.equal(r.headers['x-local'], 'yes');
      assert.equal(r.headers['x-bad'], undefined, 'a header with CR/LF is never applied');
      assert.notEqual(r.headers['content-length'], '999', 'a streamed body has no declared length');
      assert.equal(s.up.requests.length, up);
    });

    it(`HTTP/${proto}: headers with end_of_stream are the whole reply`, async () => {
      const r = await call(proto, s.url, { path: '/local', headers: { 'x-case': 'headers-only' } });
      assert.equal(r.status, 204);
      assert.equal(r.headers['x-local'], 'only');
      assert.equal(r.body.length, 0);
      // A content-length the processor put on a reply with no body would hang a keep-alive client.
      const withLength = await call(proto, s.url, { path: '/local', headers: { 'x-case': 'headers-only-length' } });
      assert.equal(withLength.status, 200);
      assert.equal(withLength.body.length, 0);
      assert.notEqual(withLength.headers['content-length'], '10');
    });

    it(`HTTP/${proto}: the request body keeps streaming to the processor while the local reply streams back`, async () => {
      const up = s.up.requests.length;
      const r = await call(proto, s.url, { method: 'POST', path: '/local', headers: { 'x-case': 'echo-upper' }, body: ['abc', 'def', 'ghi'] });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'ABCDEFGHI');
      assert.match(String(r.trailers['x-done'] ?? ''), /^\d+$/, 'the trailers_response ends the reply and reaches the client');
      assert.equal(s.up.requests.length, up);
    });

    it(`HTTP/${proto}: a headers_response without :status fails closed with a reason`, async () => {
      const r = await call(proto, s.url, { path: '/local', headers: { 'x-case': 'no-status' } });
      assert.equal(r.status, 500);
      assert.match(r.text, /^ext_proc failed: .*no valid :status/);
    });

    it(`HTTP/${proto}: a local reply the processor cuts short aborts the client stream (never a silent truncation)`, async () => {
      await assert.rejects(call(proto, s.url, { path: '/local', headers: { 'x-case': 'cut-short' } }));
    });
  }
});

describe('ext_proc streamed local reply: mode rules', { timeout: 60_000 }, () => {
  it('is refused (fail closed, with the reason) when the request body mode is buffered', async (t) => {
    const s = await setupExtProc(t, {
      extra: processing({ reqBody: 'buffered' }),
      handlers: { onRequestHeaders: () => reply.localHeaders({ ':status': '200' }, true) },
    });
    for (const proto of PROTOS) {
      const r = await call(proto, s.url, { path: '/x' });
      assert.equal(r.status, 500);
      assert.match(r.text, /needs requestHeaderMode send and requestBodyMode none or fullDuplexStreamed/);
    }
    assert.equal(s.up.requests.length, 0);
  });

  it('works with request body mode none: the body is not sent, the reply is', async (t) => {
    const seen: ProcessingRequest[][] = [];
    const s = await setupExtProc(t, {
      extra: processing({ reqBody: 'none' }),
      handlers: {
        onRequestHeaders: (_m, ctx) => {
          seen.push(ctx.received as ProcessingRequest[]);
          return [reply.localHeaders({ ':status': '202' }), reply.localBody('ok', true)];
        },
      },
    });
    for (const proto of PROTOS) {
      const r = await call(proto, s.url, { method: 'POST', path: '/x', body: 'ignored' });
      assert.equal(r.status, 202);
      assert.equal(r.text, 'ok');
    }
    assert.equal(s.up.requests.length, 0);
    assert.ok(seen.every((m) => m.every((x) => x.requestBody == null)));
  });
});

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const service: grpc.ServiceDefinition = {
  Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
};

describe('ext_proc streamed local reply to a gRPC client', { timeout: 60_000 }, () => {
  it('gets the processor\'s messages and its grpc-status trailers', async (t) => {
    const s = await setupExtProc(t, {
      handlers: {
        onRequestHeaders: (msg) => {
          const deny = headerValue(msg, 'x-deny') !== undefined;
          return [
            reply.localHeaders({ ':status': '200', 'content-type': 'application/grpc' }),
            ...(deny ? [] : [reply.localBody(frameMessage(Buffer.from('from the processor')))]),
            reply.localTrailers(deny ? { 'grpc-status': '7', 'grpc-message': 'denied locally' } : { 'grpc-status': '0' }),
          ];
        },
      },
    });
    const Client = grpc.makeGenericClientConstructor(service, 'Echo');
    const client = new Client(`127.0.0.1:${new URL(s.url).port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      Echo(r: Buffer, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void;
    };
    t.after(() => client.close());
    const unary = (md: grpc.Metadata) => new Promise<{ err: grpc.ServiceError | null; res: Buffer | undefined }>((resolve) =>
      client.Echo(Buffer.from('hi'), md, { deadline: Date.now() + 10_000 }, (err, res) => resolve({ err, res })));
    const ok = await unary(new grpc.Metadata());
    assert.equal(ok.err, null);
    assert.equal(ok.res?.toString(), 'from the processor');
    const md = new grpc.Metadata();
    md.set('x-deny', '1');
    const denied = await unary(md);
    assert.equal(denied.err?.code, grpc.status.PERMISSION_DENIED);
    assert.equal(denied.err?.details, 'denied locally');
    assert.equal(s.up.requests.length, 0);
  });
});
