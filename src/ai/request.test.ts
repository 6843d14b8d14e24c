import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { GatewayError } from '../errors.js';
import { bufferBody } from '../http/body.js';
import { AiBadRequestError, openAiErrorBody } from './errors.js';
import { readRequestBody, rewriteRequestBody } from './request.js';

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

test('an untouched request is forwarded byte for byte', () => {
  const raw = Buffer.from('{ "model" : "gpt-4o",  "messages": [] }');
  const r = rewriteRequestBody(raw, { type: 'completions', forcedModel: undefined });
  assert.equal(r.changed, false);
  assert.equal(r.body, raw);
  assert.equal(r.requestModel, 'gpt-4o');
  assert.equal(r.streaming, false);
});

test('the provider model overwrites the client model and other fields are kept', () => {
  const r = rewriteRequestBody(json({ model: 'client', messages: [{ role: 'user', content: 'hi' }], x_unknown: { a: 1 } }), {
    type: 'completions',
    forcedModel: 'forced',
  });
  assert.equal(r.changed, true);
  assert.deepEqual(JSON.parse(r.body.toString()), {
    model: 'forced',
    messages: [{ role: 'user', content: 'hi' }],
    x_unknown: { a: 1 },
  });
  assert.equal(r.requestModel, 'forced');
});

test('a forced model makes model optional for the client', () => {
  const r = rewriteRequestBody(json({ messages: [] }), { type: 'completions', forcedModel: 'm' });
  assert.equal(JSON.parse(r.body.toString()).model, 'm');
});

test('stream: true asks for usage unless the client said otherwise', () => {
  const add = rewriteRequestBody(json({ model: 'm', stream: true }), { type: 'completions', forcedModel: undefined });
  assert.deepEqual(JSON.parse(add.body.toString()).stream_options, { include_usage: true });
  assert.equal(add.streaming, true);
  const merge = rewriteRequestBody(json({ model: 'm', stream: true, stream_options: { x: 1 } }), { type: 'completions', forcedModel: undefined });
  assert.deepEqual(JSON.parse(merge.body.toString()).stream_options, { x: 1, include_usage: true });
  const keep = rewriteRequestBody(json({ model: 'm', stream: true, stream_options: { include_usage: false } }), { type: 'completions', forcedModel: undefined });
  assert.equal(keep.changed, false);
  const responses = rewriteRequestBody(json({ model: 'm', stream: true }), { type: 'responses', forcedModel: undefined });
  assert.equal(responses.changed, false, 'the Responses API has no include_usage');
  const notStreaming = rewriteRequestBody(json({ model: 'm', stream: false }), { type: 'completions', forcedModel: undefined });
  assert.equal(notStreaming.changed, false);
});

function badRequest(raw: string, param: string | null, code: string): void {
  assert.throws(
    () => rewriteRequestBody(Buffer.from(raw), { type: 'completions', forcedModel: undefined }),
    (err: unknown) => {
      assert.ok(err instanceof AiBadRequestError);
      assert.equal(err.code, 'ai_bad_request');
      assert.equal(err.status, 400);
      assert.equal(err.param, param);
      assert.equal(err.openAiCode, code);
      return true;
    },
  );
}

test('malformed JSON, non-object bodies and a missing model are 400s', () => {
  badRequest('', null, 'invalid_json');
  badRequest('{"model": "m",', null, 'invalid_json');
  badRequest('[1,2]', null, 'invalid_json');
  badRequest('"str"', null, 'invalid_json');
  badRequest('{"messages": []}', 'model', 'missing_model');
  badRequest('{"model": 5}', 'model', 'missing_model');
  badRequest('{"model": ""}', 'model', 'missing_model');
});

test('the JSON error never quotes the request body (prompts stay out of errors)', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 8, maxLength: 40 }).filter((s) => /^[A-Za-z]+$/.test(s)), (secret) => {
      try {
        rewriteRequestBody(Buffer.from(`${secret} is not json`), { type: 'completions', forcedModel: undefined });
        assert.fail('should throw');
      } catch (err) {
        assert.ok(err instanceof AiBadRequestError);
        assert.ok(!openAiErrorBody(err).includes(secret));
      }
    }),
    { numRuns: 50 },
  );
});

test('the error body has OpenAI shape', () => {
  const body = JSON.parse(openAiErrorBody(new AiBadRequestError('you must provide a model parameter', 'model', 'missing_model')));
  assert.deepEqual(body, {
    error: { message: 'you must provide a model parameter', type: 'invalid_request_error', param: 'model', code: 'missing_model' },
  });
  const generic = JSON.parse(openAiErrorBody(new GatewayError('upstream_connect', 'upstream unreachable')));
  assert.deepEqual(generic, { error: { message: 'upstream unreachable', type: 'api_error', param: null, code: 'upstream_connect' } });
});

test('readRequestBody enforces the limit and decompresses gzip and br within it', async () => {
  const plain = json({ model: 'm', pad: 'x'.repeat(100) });
  assert.deepEqual((await readRequestBody(bufferBody(plain), undefined, 1000)).bytes, plain);
  await assert.rejects(readRequestBody(bufferBody(plain), undefined, 10), (e: unknown) => e instanceof GatewayError && e.code === 'payload_too_large');
  const gz = await readRequestBody(bufferBody(zlib.gzipSync(plain)), 'gzip', 1000);
  assert.deepEqual(gz, { bytes: plain, decompressed: true });
  const br = await readRequestBody(bufferBody(zlib.brotliCompressSync(plain)), 'br', 1000);
  assert.deepEqual(br.bytes, plain);
  // A small compressed body must not expand past the limit (zip bombs).
  const bomb = zlib.gzipSync(Buffer.alloc(100_000));
  await assert.rejects(readRequestBody(bufferBody(bomb), 'gzip', 1000), (e: unknown) => e instanceof GatewayError && e.code === 'payload_too_large');
  await assert.rejects(readRequestBody(bufferBody(plain), 'gzip', 1000), (e: unknown) => e instanceof AiBadRequestError);
  await assert.rejects(readRequestBody(bufferBody(plain), 'zstd', 1000), (e: unknown) => e instanceof AiBadRequestError);
  assert.deepEqual((await readRequestBody(null, undefined, 10)).bytes.length, 0);
});
