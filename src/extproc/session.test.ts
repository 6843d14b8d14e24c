import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ExtProcConfig, ProcessingOptions } from '../config/model.js';
import { GatewayError } from '../errors.js';
import { bufferBody, BodyChannel, readAll } from '../http/body.js';
import type { RequestContext } from '../http/context.js';
import { HeaderList } from '../http/headers.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { FakeClient, passThrough, phaseName, type FakeScript } from './fake-stream.test-helper.js';
import type { ProcessingResponse } from './messages.js';
import { ExtProcSession } from './session.js';
import { signalSource } from '../http/abort.js';

import { config, context, rejects, request, response, script, session, setH, text } from './session.test-helper.js';

describe('ext_proc session: headers', { timeout: 10_000 }, () => {
  it('sends pseudo-headers, end_of_stream for a bodyless request, protocol_config once, traceparent; applies mutations both ways', async () => {
    const client = new FakeClient(script({
      request_headers: () => ({ requestHeaders: { response: { headerMutation: { setHeaders: [setH('x-added', 'yes'), setH(':path', '/rewritten')], removeHeaders: ['x-drop'] } } } }),
      response_headers: () => ({ responseHeaders: { response: { headerMutation: { setHeaders: [setH(':status', '201'), setH('x-resp', '1')] } } } }),
    }));
    const { s, req, ctx } = session(client, config(), context(), request(null, [['x-drop', '1'], ['accept', '*/*']]));
    assert.deepEqual(await s.onRequest(req), { kind: 'continue' });
    assert.equal(req.path, '/rewritten');
    assert.equal(req.headers.get('x-added'), 'yes');
    assert.equal(req.headers.has('x-drop'), false);
    assert.equal(s.routingChanged, true);
    const res = response('hello');
    assert.deepEqual(await s.onResponse(res), { kind: 'continue' });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-resp'), '1');
    assert.equal(await text(res.body), 'hello');
    const st = client.streams[0]!;
    assert.equal(client.streams.length, 1);
    assert.equal(st.options?.metadata?.['traceparent'], ctx.traceparent);
    const [m1, m2] = st.sent;
    assert.equal(m1!.requestHeaders!.endOfStream, true);
    assert.deepEqual(m1!.requestHeaders!.headers!.headers!.slice(0, 4).map((h) => h.key), [':method', ':scheme', ':authority', ':path']);
    assert.ok(m1!.protocolConfig != null);
    assert.equal(m2!.protocolConfig, null);
    assert.equal(m2!.responseHeaders!.endOfStream, false);
    assert.equal(st.closedSend, true, 'half-closed once no further phase will be sent');
    s.finish();
    assert.deepEqual(ctx.log.extProc![0]!.phases, ['request_headers', 'response_headers']);
    assert.equal(ctx.log.extProc![0]!.outcome, 'ok');
  });

  it('opens no stream when every phase is skip/none', async () => {
    const client = new FakeClient(script());
    const { s, req } = session(client, config({ requestHeaderMode: 'skip', responseHeaderMode: 'skip' }));
    await s.onRequest(req);
    await s.onResponse(response());
    s.finish();
    assert.equal(client.streams.length, 0);
  });

  it('closes the stream right after the request phase when the response sends nothing', async () => {
    const client = new FakeClient(script());
    const { s, req } = session(client, config({ responseHeaderMode: 'skip' }));
    await s.onRequest(req);
    assert.equal(client.streams[0]!.closedSend, true);
    s.finish();
  });

  it('CONTINUE_AND_REPLACE replaces the whole body and sends no body message', async () => {
    const client = new FakeClient(script({
      request_headers: () => ({ requestHeaders: { response: { status: 1, bodyMutation: { body: Buffer.from('replaced') } } } }),
    }));
    const { s, req } = session(client, config({ requestBodyMode: 'buffered', responseHeaderMode: 'skip' }), context(), request('original', [['content-length', '8']]));
    await s.onRequest(req);
    assert.equal(await text(req.body), 'replaced');
    assert.equal(req.headers.has('content-length'), false);
    assert.deepEqual(client.streams[0]!.sent.map(phaseName), ['request_headers']);
    s.finish();
  });

  it('merges dynamic_metadata into the request context', async () => {
    const client = new FakeClient(script({
      request_headers: () => ({ requestHeaders: {}, dynamicMetadata: { fields: { team: { stringValue: 'a' }, n: { numberValue: 2 } } } }),
    }));
    const { s, req, ctx } = session(client, config({ responseHeaderMode: 'skip' }));
    await s.onRequest(req);
    assert.deepEqual(ctx.extprocMetadata, { team: 'a', n: 2 });
    assert.equal(ctx.log.dynamicMetadata, ctx.extprocMetadata);
    s.finish();
  });
});

describe('ext_proc session: buffered bodies', { timeout: 10_000 }, () => {
  it('holds headers until the body reply, whose header and body mutations both apply', async () => {
    const client = new FakeClient(script({
      request_body: () => ({ requestBody: { response: { headerMutation: { setHeaders: [setH('x-model', 'm1'), setH('content-length', '7')] }, bodyMutation: { body: Buffer.from('changed') } } } }),
    }));
    const { s, req } = session(client, config({ requestBodyMode: 'buffered', responseHeaderMode: 'skip' }), context(), request('hello', [['content-length', '5']]));
    await s.onRequest(req);
    assert.equal(req.headers.get('x-model'), 'm1');
    assert.equal(await text(req.body), 'changed');
    const body = client.streams[0]!.sent[1]!.requestBody!;
    assert.equal(Buffer.from(body.body!).toString(), 'hello');
    assert.equal(body.endOfStream, true);
    s.finish();
  });

  it('a content-length that does not match the replaced body fails with statusOnError, even failOpen', async () => {
    for (const failureMode of ['failClosed', 'failOpen'] as const) {
      const client = new FakeClient(script({ request_body: () => ({ requestBody: { response: { bodyMutation: { body: Buffer.from('much longer') } } } }) }));
      const { s, req } = session(client, config({ requestBodyMode: 'buffered' }, { failureMode, statusOnError: 502 }), context(), request('hello', [['content-length', '5']]));
      const e = await rejects(s.onRequest(req));
      assert.equal(e.status, 502);
      assert.match(e.message, /^ext_proc failed: invalid body mutation: .*content-length says 5/);
      s.finish();
    }
  });

  it('an unchanged buffered body keeps content-length; a bodyless request sends no body message; an empty body sends one', async () => {
    const client = new FakeClient(script());
    const a = session(client, config({ requestBodyMode: 'buffered', responseHeaderMode: 'skip' }), context(), request('abc', [['content-length', '3']]));
    await a.s.onRequest(a.req);
    assert.equal(a.req.headers.get('content-length'), '3');
    assert.equal(await text(a.req.body), 'abc');
    a.s.finish();
    const b = session(client, config({ requestBodyMode: 'buffered', responseHeaderMode: 'skip' }));
    await b.s.onRequest(b.req);
    assert.deepEqual(client.streams[1]!.sent.map(phaseName), ['request_headers']);
    b.s.finish();
    const c = session(client, config({ requestBodyMode: 'buffered', responseHeaderMode: 'skip' }), context(), request(''));
    await c.s.onRequest(c.req);
    const sent = client.streams[2]!.sent;
    assert.deepEqual(sent.map(phaseName), ['request_headers', 'request_body']);
    assert.equal(sent[0]!.requestHeaders!.endOfStream, false);
    assert.equal(sent[1]!.requestBody!.body!.length, 0);
    assert.equal(sent[1]!.requestBody!.endOfStream, true);
    c.s.finish();
  });

  it('over maxBufferSize: 413 on a request, 500 on a response', async () => {
    const client = new FakeClient(script());
    const a = session(client, config({ requestBodyMode: 'buffered' }), context({ maxBufferSize: 4 }), request('too long'));
    assert.equal((await rejects(a.s.onRequest(a.req))).status, 413);
    a.s.finish();
    const b = session(client, config({ responseBodyMode: 'buffered' }), context({ maxBufferSize: 4 }));
    await b.s.onRequest(b.req);
    assert.equal((await rejects(b.s.onResponse(response('too long')))).status, 500);
    b.s.finish();
    // Both are ext_proc failures in the access log (the metric is fed from the same publish).
    for (const [ctx, dir] of [[a.ctx, 'request'], [b.ctx, 'response']] as const) {
      const entry = ctx.log.extProc![0]!;
      assert.equal(entry.outcome, 'failed', dir);
      assert.match(entry.failureReason!, new RegExp(`^${dir} body is larger than maxBufferSize \\(4 bytes\\)`));
    }
  });

  it('bufferedPartial sends a prefix up to the limit and streams the rest untouched, without content-length', async () => {
    const client = new FakeClient(script({ request_body: () => ({ requestBody: { response: { bodyMutation: { body: Buffer.from('HELLO') } } } }) }));
    const { s, req } = session(client, config({ requestBodyMode: 'bufferedPartial', responseHeaderMode: 'skip' }), context({ maxBufferSize: 5 }), request('hello world', [['content-length', '11']]));
    await s.onRequest(req);
    assert.equal(await text(req.body), 'HELLO world');
    assert.equal(req.headers.has('content-length'), false);
    const body = client.streams[0]!.sent[1]!.requestBody!;
    assert.equal(Buffer.from(body.body!).toString(), 'hello');
    assert.equal(body.endOfStream, false);
    s.finish();
  });

  it('trailers go as their own message after the body, and their mutations apply', async () => {
    const client = new FakeClient(script({ response_trailers: () => ({ responseTrailers: { headerMutation: { setHeaders: [setH('x-t', 'mutated')] } } }) }));
    const { s, req } = session(client, config({ responseBodyMode: 'buffered', responseTrailerMode: 'send', requestHeaderMode: 'skip' }));
    await s.onRequest(req);
    const res = response(null);
    const ch = new BodyChannel();
    res.body = ch;
    ch.pushNoWait(Buffer.from('data'));
    ch.end(new HeaderList([['x-t', 'orig'], ['grpc-status', '0']]));
    await s.onResponse(res);
    assert.equal(await text(res.body), 'data');
    assert.deepEqual(res.body!.trailers()!.entries(), [['x-t', 'mutated'], ['grpc-status', '0']]);
    const sent = client.streams[0]!.sent;
    assert.deepEqual(sent.map(phaseName), ['response_headers', 'response_body', 'response_trailers']);
    assert.equal(sent[1]!.responseBody!.endOfStream, false, 'trailers follow');
    s.finish();
  });
});

describe('ext_proc session: immediate responses', { timeout: 10_000 }, () => {
  it('answers the client from a request-headers reply, with text/plain by default', async () => {
    const client = new FakeClient(script({ request_headers: () => ({ immediateResponse: { status: { code: 403 as never }, body: Buffer.from("denied") } }) }));
    const { s, req, ctx } = session(client);
    const out = await s.onRequest(req);
    assert.equal(out.kind, 'respond');
    if (out.kind !== 'respond') return;
    assert.equal(out.response.status, 403);
    assert.equal(out.response.headers.get('content-type'), 'text/plain');
    assert.equal(await text(out.response.body), 'denied');
    assert.equal(client.streams[0]!.closedSend, true, 'the stream is half-closed, not reset');
    s.finish();
    assert.equal(ctx.log.extProc![0]!.outcome, 'immediate_response');
  });

  it('replaces the upstream response from a buffered response-body reply', async () => {
    const client = new FakeClient(script({ response_body: () => ({ immediateResponse: { status: { code: 451 as never } } }) }));
    const { s, req } = session(client, config({ responseBodyMode: 'buffered' }));
    await s.onRequest(req);
    const out = await s.onResponse(response('secret'));
    assert.equal(out.kind === 'respond' && out.response.status, 451);
    s.finish();
  });
});

describe('ext_proc session: failures', { timeout: 10_000 }, () => {
  const grpcError: FakeScript = (_m, st) => st.end({ kind: 'grpc_status', code: 13, message: 'processor broke' });

  it('failClosed: a gRPC error gives statusOnError with a reason naming the phase', async () => {
    const { s, req, ctx } = session(new FakeClient(grpcError), config({}, { statusOnError: 503 }));
    const e = await rejects(s.onRequest(req));
    assert.equal(e.status, 503);
    assert.equal(e.code, 'ext_proc_failed');
    assert.match(e.message, /^ext_proc failed: the processor ended the stream with gRPC status 13 while request_headers was awaited: processor broke/);
    s.finish();
    assert.equal(ctx.log.extProc![0]!.outcome, 'failed');
  });

  it('failClosed: messageTimeout gives 504', async () => {
    const client = new FakeClient(script({ request_headers: () => 'none' }));
    const { s, req } = session(client, config({}, { messageTimeoutMs: 30 }));
    const e = await rejects(s.onRequest(req));
    assert.equal(e.status, 504);
    assert.equal(e.code, 'ext_proc_timeout');
    assert.match(e.message, /did not answer request_headers within messageTimeout \(30ms\)/);
    s.finish();
  });

  it('an empty reply is a protocol error with the fix in the reason', async () => {
    const client = new FakeClient(script({ request_body: () => ({}) }));
    const { s, req } = session(client, config({ requestBodyMode: 'bufferedPartial' }), context(), request('x'));
    const e = await rejects(s.onRequest(req));
    assert.match(e.message, /answered request_body with an empty response \(no oneof set\); in bufferedPartial mode it must send a BodyResponse/);
    s.finish();
  });

  it('a reply to the wrong phase is a protocol error', async () => {
    const client = new FakeClient(script({ request_headers: () => ({ responseHeaders: {} }) }));
    const { s, req } = session(client);
    assert.match((await rejects(s.onRequest(req))).message, /sent response_headers while request_headers was awaited/);
    s.finish();
  });

  it('failOpen: continues with the original request, header mutations and body restored, processor dropped', async () => {
    const client = new FakeClient(script({
      request_headers: () => ({ requestHeaders: { response: { headerMutation: { setHeaders: [setH('x-added', '1'), setH(':path', '/other')] } } } }),
      request_body: (st) => {
        st.end({ kind: 'reset', message: 'gone' });
        return 'none';
      },
    }));
    const { s, req, ctx } = session(client, config({ requestBodyMode: 'buffered' }, { failureMode: 'failOpen' }), context(), request('payload', [['content-length', '7']]));
    assert.deepEqual(await s.onRequest(req), { kind: 'continue' });
    assert.equal(req.headers.has('x-added'), false);
    assert.equal(req.path, '/p');
    assert.equal(s.routingChanged, false);
    assert.equal(await text(req.body), 'payload');
    const res = response('r');
    assert.deepEqual(await s.onResponse(res), { kind: 'continue' });
    assert.equal(client.streams[0]!.sent.length, 2, 'the response phase is not sent after fail-open');
    s.finish();
    assert.equal(ctx.log.extProc![0]!.outcome, 'fail_open');
    assert.equal(ctx.log.extProc![0]!.failOpen, true);
  });

  it('failOpen: a processor that cannot be reached is skipped', async () => {
    const client = new FakeClient((_m, st) => st.end({ kind: 'connect', message: 'ECONNREFUSED' }));
    const { s, req } = session(client, config({}, { failureMode: 'failOpen' }));
    assert.deepEqual(await s.onRequest(req), { kind: 'continue' });
    s.finish();
  });

  it('a processor closing OK means continue unmodified for the rest of the exchange', async () => {
    const client = new FakeClient((_m, st) => st.end({ kind: 'ok' }));
    const { s, req, ctx } = session(client, config({ requestBodyMode: 'buffered' }), context(), request('body'));
    assert.deepEqual(await s.onRequest(req), { kind: 'continue' });
    assert.equal(await text(req.body), 'body');
    assert.deepEqual(await s.onResponse(response()), { kind: 'continue' });
    s.finish();
    assert.equal(ctx.log.extProc![0]!.outcome, 'closed_by_processor');
  });

  it('a failure between the phases surfaces at the response phase', async () => {
    const client = new FakeClient(script({ request_headers: (st) => {
      st.reply({ requestHeaders: {} });
      st.end({ kind: 'grpc_status', code: 14, message: 'later' });
      return 'none';
    } }));
    const { s, req } = session(client);
    await s.onRequest(req);
    await new Promise((r) => setImmediate(r));
    assert.match((await rejects(s.onResponse(response()))).message, /gRPC status 14/);
    s.finish();
  });

  it('a client abort cancels the stream and releases the waiting phase', async () => {
    const ac = new AbortController();
    const client = new FakeClient(script({ request_headers: () => 'none' }));
    const { s, req } = session(client, config(), context({ signal: ac.signal }));
    const p = s.onRequest(req);
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await assert.rejects(p);
    assert.equal(client.streams[0]!.cancelled, true);
    s.finish();
  });
});
