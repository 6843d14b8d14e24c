import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFramedRequest } from './request-encoder.js';
import { frameMessage } from './grpc-framing.js';
import { HeaderList } from '../http/headers.js';
import { requestHeaderMap, responseHeaderMap, trailerMap } from './headers-out.js';
import { encodeRequest, pb, type HeaderValue, type ProcessingRequest } from './messages.js';

type BodySendModeValue = NonNullable<NonNullable<ProcessingRequest['protocolConfig']>['requestBodyMode']>;

/** What the generated codec frames: the oracle the direct encoder must match byte for byte. */
const generic = (msg: ProcessingRequest): Buffer => frameMessage(encodeRequest(msg));

const text = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ minLength: 40, maxLength: 300 }));
const headerValue = fc.record(
  { key: text, value: text, rawValue: fc.uint8Array({ maxLength: 200 }) },
  { requiredKeys: [] },
);
const headerMap = fc.record({ headers: fc.array(headerValue, { maxLength: 20 }) }, { requiredKeys: [] });
const httpHeaders = fc.record({ headers: headerMap, endOfStream: fc.boolean() }, { requiredKeys: [] });
const httpBody = fc.record(
  { body: fc.uint8Array({ maxLength: 400 }), endOfStream: fc.boolean(), endOfStreamWithoutMessage: fc.boolean(), grpcMessageCompressed: fc.boolean() },
  { requiredKeys: [] },
);
const httpTrailers = fc.record({ trailers: headerMap }, { requiredKeys: [] });
const mode = fc.integer({ min: 0, max: 4 });
const protocolConfig = fc.record(
  { requestBodyMode: mode, responseBodyMode: mode, sendBodyWithoutWaitingForHeaderResponse: fc.boolean() },
  { requiredKeys: [] },
);
const request = fc.record(
  {
    requestHeaders: httpHeaders,
    responseHeaders: httpHeaders,
    requestBody: httpBody,
    responseBody: httpBody,
    requestTrailers: httpTrailers,
    responseTrailers: httpTrailers,
    protocolConfig,
  },
  { requiredKeys: [] },
);

test('writes what the generated codec writes, for every message shape the session sends', { timeout: 20_000 }, () => {
  fc.assert(
    fc.property(request, (msg) => {
      assert.deepEqual(encodeFramedRequest(msg), generic(msg));
    }),
    { numRuns: 2000 },
  );
});

test('a single phase with a body or headers matches and decodes back', { timeout: 20_000 }, () => {
  fc.assert(
    fc.property(fc.oneof(
      fc.record({ requestBody: httpBody }),
      fc.record({ responseBody: httpBody, protocolConfig: fc.option(protocolConfig, { nil: null }) }),
      fc.record({ requestHeaders: httpHeaders, protocolConfig }),
      fc.record({ responseTrailers: httpTrailers }),
    ), (msg) => {
      const out = encodeFramedRequest(msg);
      assert.deepEqual(out, generic(msg));
      assert.equal(out.readUInt32BE(1), out.length - 5);
      pb.ProcessingRequest.decode(out.subarray(5));
    }),
    { numRuns: 1000 },
  );
});

test('lengths that need 2, 3 and 4 varint bytes, at every nesting level', () => {
  for (const n of [0, 1, 42, 43, 127, 128, 129, 16383, 16384, 70_000, 2_100_000]) {
    const big = 'x'.repeat(n);
    const raw = Buffer.alloc(n, 0xe9);
    const cases: ProcessingRequest[] = [
      { requestHeaders: { headers: { headers: [{ key: big, rawValue: raw }] }, endOfStream: true } },
      { responseHeaders: { headers: { headers: [{ key: 'k', value: `é${big}` }, { key: 'a', rawValue: Buffer.alloc(0) }] } } },
      { requestBody: { body: raw, endOfStream: false } },
      { responseBody: { body: raw }, protocolConfig: { requestBodyMode: 2 } },
      { requestTrailers: { trailers: { headers: [{ key: 'grpc-status', value: big }] } } },
    ];
    for (const msg of cases) assert.deepEqual(encodeFramedRequest(msg), generic(msg), `size ${n}`);
  }
});

test('default values are written when set, as the generated codec does; null and undefined are left out', () => {
  const msgs: ProcessingRequest[] = [
    { requestHeaders: { headers: { headers: [{ key: '', value: '', rawValue: new Uint8Array(0) }] }, endOfStream: false } },
    { requestHeaders: { headers: { headers: [{ key: 'a', value: null, rawValue: undefined } as unknown as HeaderValue] }, endOfStream: null } },
    { requestBody: { body: new Uint8Array(0), endOfStream: false, endOfStreamWithoutMessage: false } },
    { requestBody: {} },
    { requestHeaders: {}, protocolConfig: { requestBodyMode: 0, responseBodyMode: 0, sendBodyWithoutWaitingForHeaderResponse: false } },
    { requestHeaders: null, responseHeaders: { headers: { headers: [] } } },
  ];
  for (const msg of msgs) assert.deepEqual(encodeFramedRequest(msg), generic(msg));
});

test('the shapes it does not write itself go through the generated codec unchanged', () => {
  const attrs = { 'envoy.filters.http.ext_proc': { fields: { 'request.path': { stringValue: '/x' } } } };
  const msgs: ProcessingRequest[] = [
    { requestHeaders: { headers: { headers: [{ key: 'a', rawValue: Buffer.from('b') }] } }, attributes: attrs },
    { requestHeaders: { headers: { headers: [] }, attributes: attrs } },
    { requestBody: { body: Buffer.from('x') }, metadataContext: { filterMetadata: { ns: { fields: {} } } } },
    { responseBody: { body: Buffer.from('x') }, observabilityMode: false },
    { requestHeaders: { headers: { headers: [{ key: 'a', rawValue: [1, 2, 3] as unknown as Uint8Array }] } } },
    { protocolConfig: { requestBodyMode: -1 as BodySendModeValue } },
  ];
  for (const msg of msgs) assert.deepEqual(encodeFramedRequest(msg), generic(msg));
});

test('a message the generated codec rejects is rejected the same way', () => {
  const bad = { requestHeaders: { headers: { headers: [null] } } } as unknown as ProcessingRequest;
  assert.throws(() => generic(bad));
  assert.throws(() => encodeFramedRequest(bad));
});

test('one encode does not leak into the next (the scratch buffer is reused)', () => {
  const long: ProcessingRequest = { requestHeaders: { headers: { headers: [{ key: 'k', value: 'v'.repeat(300_000) }] } } };
  const short: ProcessingRequest = { responseHeaders: { headers: { headers: [{ key: 'a', rawValue: Buffer.from('b') }] }, endOfStream: true } };
  const first = encodeFramedRequest(long);
  const second = encodeFramedRequest(short);
  assert.deepEqual(second, generic(short));
  assert.deepEqual(first, generic(long));
  assert.deepEqual(encodeFramedRequest(long), first);
});

test('header maps made from header lists are written from their strings, as the generated codec writes them', { timeout: 20_000 }, () => {
  const latin1 = fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString('latin1'));
  const name = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
  const list = fc.array(fc.tuple(name, fc.oneof(latin1, fc.string({ maxLength: 300 }))), { maxLength: 15 });
  fc.assert(
    fc.property(list, latin1, fc.integer({ min: 100, max: 599 }), fc.boolean(), (entries, path, status, eos) => {
      const headers = new HeaderList(entries);
      const msgs: ProcessingRequest[] = [
        { requestHeaders: { headers: requestHeaderMap({ method: 'GET', scheme: 'http', authority: 'a.test', path: `/${path}`, headers }), endOfStream: eos } },
        { responseHeaders: { headers: responseHeaderMap({ status, headers }) }, protocolConfig: { requestBodyMode: 1 } },
        { responseTrailers: { trailers: trailerMap(headers) } },
      ];
      for (const msg of msgs) assert.deepEqual(encodeFramedRequest(msg), generic(msg));
    }),
    { numRuns: 1000 },
  );
});

test('a lone surrogate is written as U+FFFD, valid UTF-8 a strict decoder accepts', () => {
  const msg: ProcessingRequest = { requestHeaders: { headers: { headers: [{ key: 'k', value: 'a\ud800b' }] } } };
  const out = encodeFramedRequest(msg);
  assert.ok(out.includes(Buffer.from('a\ufffdb', 'utf8')));
  const back = pb.ProcessingRequest.decode(out.subarray(5));
  assert.equal(back.requestHeaders?.headers?.headers?.[0]?.value, 'a\ufffdb');
  // Everything else in the message is as the generated codec writes it.
  const same: ProcessingRequest = { requestHeaders: { headers: { headers: [{ key: 'k', value: 'a\ufffdb' }] } } };
  assert.deepEqual(out, generic(same));
});
