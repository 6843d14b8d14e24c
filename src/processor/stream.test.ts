import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppendAction, ResponseStatus } from '../extproc/messages.js';
import { bufferBody, mapChunks } from './body.js';
import { GrpcCode, ProcessorError } from './errors.js';
import { headersReply, immediate, immediateJson, streamedChunk, continueAndReplace, bodyReply } from './replies.js';
import {
  bodyOf, headerEditsOf, replyPhase, requestBody, requestHeaders, requestTrailers, responseBody, responseHeaders,
  streamedBody, testProcessor,
} from './testing.js';

describe('pass-through defaults', { timeout: 10_000 }, () => {
  test('headers, buffered body and trailers get empty replies of the right phase', async () => {
    const h = testProcessor({}, { requestBodyMode: 'buffered' });
    assert.deepEqual(await h.send(requestHeaders({ ':path': '/' })), [{ requestHeaders: { response: {} } }]);
    assert.deepEqual(await h.send(requestBody('x', false)), [{ requestBody: { response: {} } }]);
    assert.deepEqual(await h.send(requestTrailers({ t: '1' })), [{ requestTrailers: {} }]);
    assert.deepEqual(await h.end(), { code: 0, message: '' });
  });

  test('full duplex echoes every chunk as streamed_response, and nothing for the flush before trailers', async () => {
    const h = testProcessor({}, { requestBodyMode: 'fullDuplexStreamed', responseBodyMode: 'fullDuplexStreamed' });
    await h.send(requestHeaders({ ':path': '/' }));
    const a = await h.send(requestBody('ab', false));
    const b = await h.send(requestBody('cd', true));
    assert.deepEqual(streamedBody([...a, ...b]), { data: Buffer.from('abcd'), endOfStream: true });
    await h.send(responseHeaders({ ':status': '200' }));
    await h.send(responseBody('x', false));
    const t = await h.send({ responseTrailers: { trailers: { headers: [] } } });
    assert.deepEqual(t.map(replyPhase), ['responseTrailers']);
  });
});

describe('context', { timeout: 10_000 }, () => {
  test('headers read raw_value or value, request headers are remembered, attributes and metadata are JSON', async () => {
    const seen: unknown[] = [];
    const h = testProcessor({
      onResponseHeaders: (hdrs, ctx) => {
        seen.push(ctx.requestHeaders?.get(':path'), ctx.requestHeaders?.get('X-A'), hdrs.map[':status'], ctx.attributes, ctx.metadataContext, ctx.bodyMode('response'));
        return undefined;
      },
    }, { responseBodyMode: 'streamed' });
    await h.send(requestHeaders([[':path', '/p'], ['x-a', '1'], ['x-a', '2']], { asValue: true, attributes: { 'envoy.filters.http.ext_proc': { 'request.path': '/p' } } }));
    assert.deepEqual(h.ctx.requestHeaders?.getAll('x-a'), ['1', '2']);
    await h.send(responseHeaders({ ':status': '201' }, { metadataContext: { ns: { k: 1 } } }));
    assert.deepEqual(seen, ['/p', '1', '201', { 'envoy.filters.http.ext_proc': { 'request.path': '/p' } }, { ns: { k: 1 } }, 'streamed']);
  });

  test('a factory gets fresh handlers per stream', async () => {
    let made = 0;
    const factory = () => { made++; return {}; };
    await testProcessor(factory).send(requestHeaders({}));
    await testProcessor(factory).send(requestHeaders({}));
    assert.equal(made, 2);
  });
});

describe('replies', { timeout: 10_000 }, () => {
  test('header edits are raw_value with append actions; Envoy-compatible append flags', () => {
    const r = headersReply('request', { set: { 'X-Set': 'v' }, append: [['x-app', 'a']], addIfAbsent: { 'x-add': 'b' }, remove: ['X-Gone'] });
    const opts = r.requestHeaders!.response!.headerMutation!.setHeaders!;
    assert.deepEqual(opts.map((o) => [o.header?.key, Buffer.from(o.header!.rawValue!).toString(), o.appendAction, o.append?.value]), [
      ['x-set', 'v', AppendAction.OVERWRITE_IF_EXISTS_OR_ADD, false],
      ['x-app', 'a', AppendAction.APPEND_IF_EXISTS_OR_ADD, true],
      ['x-add', 'b', AppendAction.ADD_IF_ABSENT, undefined],
    ]);
    assert.equal(opts[0]!.header!.value, undefined);
    assert.deepEqual(headerEditsOf(r), { set: { 'x-set': 'v' }, append: [['x-app', 'a']], addIfAbsent: { 'x-add': 'b' }, remove: ['x-gone'] });
  });

  test('immediate, continue-and-replace, mode override and dynamic metadata', () => {
    const im = immediate({ status: 401, headers: { 'www-authenticate': 'Bearer' }, body: 'no', grpcStatus: 16, details: 'why' });
    assert.equal(im.immediateResponse?.status?.code, 401);
    assert.equal(im.immediateResponse?.grpcStatus?.status, 16);
    assert.equal(bodyOf(im)?.toString(), 'no');
    assert.deepEqual(headerEditsOf(im).set, { 'www-authenticate': 'Bearer' });
    const j = immediateJson(403, { error: 'x' });
    assert.deepEqual(headerEditsOf(j).set, { 'content-type': 'application/json' });
    const cr = continueAndReplace('response', { body: 'new', modeOverride: { responseBody: 'buffered' }, dynamicMetadata: { a: { b: true } } });
    assert.equal(cr.responseHeaders?.response?.status, ResponseStatus.CONTINUE_AND_REPLACE);
    assert.equal(cr.modeOverride?.responseBodyMode, 2);
    assert.deepEqual(cr.dynamicMetadata, { fields: { a: { structValue: { fields: { b: { boolValue: true } } } } } });
    assert.equal(bodyOf(bodyReply('request', { clearBody: true }))?.length, 0);
    assert.equal(replyPhase(streamedChunk('request', 'x', true)), 'requestBody');
  });

  test('a mode_override sent on a headers reply changes the pass-through for later bodies', async () => {
    const h = testProcessor({ onRequestHeaders: () => headersReply('request', { modeOverride: { requestBody: 'fullDuplexStreamed' } }) });
    await h.send(requestHeaders({}));
    assert.deepEqual(streamedBody(await h.send(requestBody('z'))), { data: Buffer.from('z'), endOfStream: true });
  });
});

describe('body helpers', { timeout: 10_000 }, () => {
  const upper = bufferBody((b) => b.toString().toUpperCase());
  test('bufferBody in full duplex: one chunk at the end', async () => {
    const h = testProcessor({ onRequestBody: upper }, { requestBodyMode: 'fullDuplexStreamed' });
    await h.send(requestHeaders({}));
    assert.deepEqual(await h.send(requestBody('ab', false)), []);
    assert.deepEqual(streamedBody(await h.send(requestBody('cd', true))), { data: Buffer.from('ABCD'), endOfStream: true });
  });

  test('bufferBody in full duplex with trailers: flushes before the trailers reply, body not ended', async () => {
    const h = testProcessor({ onRequestBody: upper }, { requestBodyMode: 'fullDuplexStreamed' });
    await h.send(requestHeaders({}));
    await h.send(requestBody('ab', false));
    const out = await h.send(requestTrailers({ 'grpc-status': '0' }));
    assert.deepEqual(out.map(replyPhase), ['requestBody', 'requestTrailers']);
    assert.deepEqual(streamedBody(out), { data: Buffer.from('AB'), endOfStream: false });
  });

  test('bufferBody in buffered mode replaces only when changed; in streamed mode clears then replaces', async () => {
    const h = testProcessor({ onRequestBody: upper, onResponseBody: bufferBody(() => undefined) }, { requestBodyMode: 'buffered', responseBodyMode: 'buffered' });
    await h.send(requestHeaders({ 'content-length': '2' }));
    const [rb] = await h.send(requestBody('abc'));
    assert.equal(bodyOf(rb)?.toString(), 'ABC');
    assert.deepEqual(headerEditsOf(rb).set, { 'content-length': '3' });
    assert.deepEqual(await h.send(responseBody('same')), [{ responseBody: { response: {} } }]);
    const s = testProcessor({ onRequestBody: upper }, { requestBodyMode: 'streamed' });
    assert.equal(bodyOf((await s.send(requestBody('ab', false)))[0])?.length, 0);
    assert.equal(bodyOf((await s.send(requestBody('cd', true)))[0])?.toString(), 'ABCD');
  });

  test('bufferBody may answer with replies instead (an immediate response)', async () => {
    const h = testProcessor({ onRequestBody: bufferBody((b) => (b.includes('bad') ? immediate({ status: 400 }) : undefined)) }, { requestBodyMode: 'buffered' });
    assert.equal((await h.send(requestBody('a bad body')))[0]?.immediateResponse?.status?.code, 400);
  });

  test('mapChunks rewrites each chunk in full duplex and in streamed mode', async () => {
    const fd = testProcessor({ onResponseBody: mapChunks((d) => d.toString().replace(/a/g, 'b')) }, { responseBodyMode: 'fullDuplexStreamed' });
    const r = [...(await fd.send(responseBody('aa', false))), ...(await fd.send(responseBody('xa', true)))];
    assert.deepEqual(streamedBody(r), { data: Buffer.from('bbxb'), endOfStream: true });
    const st = testProcessor({ onResponseBody: mapChunks((d) => d.toString().replace(/a/g, 'b')) }, { responseBodyMode: 'streamed' });
    assert.equal(bodyOf((await st.send(responseBody('ca', false)))[0])?.toString(), 'cb');
  });
});

describe('stream endings', { timeout: 10_000 }, () => {
  test('a ProcessorError ends the stream with its status; other errors become INTERNAL', async () => {
    const h = testProcessor({ onRequestHeaders: () => { throw new ProcessorError(GrpcCode.PERMISSION_DENIED, 'nope'); } });
    assert.deepEqual(await h.send(requestHeaders({})), []);
    assert.deepEqual(await h.ended, { code: GrpcCode.PERMISSION_DENIED, message: 'nope' });
    const errors: unknown[] = [];
    const b = testProcessor({ onRequestHeaders: () => { throw new Error('secret detail'); } }, { onError: (e) => errors.push(e) });
    await b.send(requestHeaders({}));
    assert.deepEqual(await b.ended, { code: GrpcCode.INTERNAL, message: 'processor handler failed' });
    assert.equal(errors.length, 1);
  });

  test('ctx.end() closes OK; ctx.send goes out of band; the signal aborts at the end', async () => {
    let signal: AbortSignal | undefined;
    const h = testProcessor({
      onRequestHeaders: (_h, ctx) => {
        signal = ctx.signal;
        ctx.send(streamedChunk('request', 'early', false));
        return headersReply('request');
      },
      onRequestBody: (_b, ctx) => { ctx.end(); return null; },
    }, { requestBodyMode: 'fullDuplexStreamed' });
    assert.deepEqual((await h.send(requestHeaders({}))).map(replyPhase), ['requestBody', 'requestHeaders']);
    assert.equal(signal?.aborted, false);
    await h.send(requestBody('x'));
    assert.deepEqual(await h.ended, { code: 0, message: '' });
    assert.equal(signal?.aborted, true);
  });

  test('a message with no phase is INVALID_ARGUMENT', async () => {
    const h = testProcessor({});
    await h.send({});
    assert.equal((await h.ended).code, GrpcCode.INVALID_ARGUMENT);
  });

  test('observability mode: handlers run, nothing is sent', async () => {
    let ran = false;
    const h = testProcessor({ onRequestHeaders: () => { ran = true; return undefined; } });
    assert.deepEqual(await h.send({ ...requestHeaders({}), observabilityMode: true }), []);
    assert.equal(ran, true);
  });
});

test('mapChunks in buffered mode corrects content-length like bufferBody', { timeout: 5000 }, async () => {
  const h = testProcessor({ onRequestBody: mapChunks((d) => Buffer.concat([d, d])) }, { requestBodyMode: 'buffered' });
  await h.send(requestHeaders({ 'content-length': '2' }));
  const [r] = await h.send(requestBody('ab'));
  assert.equal(bodyOf(r)?.toString(), 'abab');
  assert.deepEqual(headerEditsOf(r).set, { 'content-length': '4' });
});
