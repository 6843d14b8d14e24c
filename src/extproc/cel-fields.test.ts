import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FIELD_VARIABLES, compileCel } from '../cel/cel.js';
import type { ExtProcConfig } from '../config/model.js';
import { bufferBody } from '../http/body.js';
import type { RequestContext } from '../http/context.js';
import { HeaderList } from '../http/headers.js';
import type { GatewayRequest } from '../http/message.js';
import { FakeClient, passThrough } from './fake-stream.test-helper.js';
import { structToJson } from './struct.js';
import { ExtProcSession } from './session.js';
import { signalSource } from '../http/abort.js';
import { celActivation, toStructJson } from './cel-fields.js';

const config: ExtProcConfig = {
  target: { scheme: 'http', host: '127.0.0.1', port: 1, display: 'p', tls: undefined },
  failureMode: 'failClosed',
  processingOptions: {
    requestHeaderMode: 'send', responseHeaderMode: 'send', requestBodyMode: 'buffered', responseBodyMode: 'none',
    requestTrailerMode: 'skip', responseTrailerMode: 'skip', allowModeOverride: false,
  },
  messageTimeoutMs: 2000,
  statusOnError: 500,
  metadataContext: { 'tollgate.dev': { tenant: compileCel('request.headers["x-tenant"]'), path: compileCel('request.path'), missing: compileCel('request.headers["nope"]') } },
  requestAttributes: { 'request.method': compileCel('request.method'), 'seen.model': compileCel('extproc.model') },
  responseAttributes: { 'response.code': compileCel('response.code') },
};
const ctx = (): RequestContext => ({
  id: 'r', start: 0, listener: {} as never, route: undefined, backend: undefined, signal: new AbortController().signal, abort: signalSource(new AbortController().signal),
  maxBufferSize: 1024, traceparent: undefined, extprocMetadata: { model: 'm1' },
  log: { id: 'r', gateway: 'g', listener: 'l', method: 'POST', path: '/', authority: 'a', protocol: '1.1', remote: '' },
});

describe('ext_proc CEL attributes and metadata_context', { timeout: 5_000 }, () => {
  it('attributes go on the first message of each direction; metadata_context on every message; failing values are left out', async () => {
    const client = new FakeClient((m, s) => s.reply(passThrough(m)));
    const req: GatewayRequest = {
      method: 'POST', scheme: 'http', authority: 'a', path: '/v1/x', headers: new HeaderList([['x-tenant', 'acme']]),
      body: bufferBody('b'), httpVersion: '1.1', remoteAddress: '127.0.0.1', remotePort: 1,
    };
    const s = new ExtProcSession({ config, ctx: ctx(), req, client });
    await s.onRequest(req);
    await s.onResponse({ status: 201, headers: new HeaderList(), body: null });
    s.finish();
    const [h, b, r] = client.streams[0]!.sent;
    const attrs = (m: typeof h) => structToJson(m!.attributes?.['envoy.filters.http.ext_proc']);
    assert.deepEqual(attrs(h), { 'request.method': 'POST', 'seen.model': 'm1' });
    assert.deepEqual(Object.keys(b!.attributes ?? {}), [], 'only on the first message of the direction');
    assert.deepEqual(attrs(r), { 'response.code': 201 });
    for (const m of [h, b, r]) {
      assert.deepEqual(structToJson(m!.metadataContext!.filterMetadata!['tollgate.dev']), { tenant: 'acme', path: '/v1/x' });
    }
  });

  it('a CEL bytes value is sent as the string of its bytes (as Envoy prints a bytes attribute), not an index map', async () => {
    const client = new FakeClient((m, st) => st.reply(passThrough(m)));
    const req: GatewayRequest = {
      method: 'GET', scheme: 'http', authority: 'a', path: '/', headers: new HeaderList(),
      body: null, httpVersion: '1.1', remoteAddress: '127.0.0.1', remotePort: 1,
    };
    const bytesConfig: ExtProcConfig = {
      ...config,
      processingOptions: { ...config.processingOptions, requestBodyMode: 'none' },
      metadataContext: { ns: { b: compileCel('bytes("xyz")') } },
      requestAttributes: { bytes: compileCel('b"abc"'), nested: compileCel('{"k": [b"d", bytes(request.path + "e")]}'), big: compileCel('9007199254740993') },
      responseAttributes: undefined,
    };
    const s = new ExtProcSession({ config: bytesConfig, ctx: ctx(), req, client });
    await s.onRequest(req);
    s.finish();
    const [h] = client.streams[0]!.sent;
    assert.deepEqual(structToJson(h!.attributes?.['envoy.filters.http.ext_proc']), { bytes: 'abc', nested: { k: ['d', '/e'] }, big: 9007199254740992 });
    assert.deepEqual(structToJson(h!.metadataContext!.filterMetadata!['ns']), { b: 'xyz' });
    assert.equal(toStructJson(new Uint8Array([0x61, 0xff])), 'a\uFFFD', 'invalid UTF-8 cannot go in a protobuf string');
  });

  it('binds exactly the variables the config check allows (FIELD_VARIABLES)', () => {
    const req: GatewayRequest = {
      method: 'GET', scheme: 'http', authority: 'a', path: '/', headers: new HeaderList(),
      body: null, httpVersion: '1.1', remoteAddress: '127.0.0.1', remotePort: 1,
    };
    const act = celActivation(ctx(), req, { status: 200, headers: new HeaderList(), body: null });
    assert.deepEqual(Object.keys(act).sort(), [...FIELD_VARIABLES].sort());
  });
});
