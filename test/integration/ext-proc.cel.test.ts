/**
 * CEL-driven ext_proc fields end to end: requestAttributes / responseAttributes (first message of each
 * direction, under envoy.filters.http.ext_proc), metadataContext (every message), dynamic_metadata readable
 * later as extproc.<key>, and the conditional form choosing the processor.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reply, startProcessor, type TestProcessor } from '../helpers/ext-proc-server.js';
import { routesConfig } from '../helpers/gateway-fixtures.js';
import { startGateway } from '../helpers/start-gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { call, closeClients, PROTOS } from '../helpers/ext-proc-harness.js';
import type { ProcessingRequest } from '../../src/extproc/messages.js';
import { structToJson } from '../../src/extproc/struct.js';

const attrs = (m: ProcessingRequest) => structToJson(m.attributes?.['envoy.filters.http.ext_proc']);
const meta = (m: ProcessingRequest) => structToJson(m.metadataContext?.filterMetadata?.['tollgate.dev']);

describe('ext_proc CEL fields', { timeout: 60_000 }, () => {
  it('attributes, metadata_context, extproc.<key> and conditional processors', async (t) => {
    const up = await startUpstream();
    const named = (name: string): Promise<TestProcessor> =>
      startProcessor({
        onRequestHeaders: (msg) =>
          reply.headers('request', {
            set: [['x-proc', name], ['x-attr', JSON.stringify(attrs(msg))], ['x-meta', JSON.stringify(meta(msg))]],
            dynamicMetadata: { model: 'from-processor' },
          }),
        onResponseHeaders: (msg) => reply.headers('response', { set: [['x-resp-attr', JSON.stringify(attrs(msg))], ['x-resp-meta', JSON.stringify(meta(msg))]] }),
      });
    const [chat, other] = await Promise.all([named('chat'), named('other')]);
    const g = await startGateway(routesConfig(`
    - backends: [{host: "127.0.0.1:${up.port}"}]
      policies:
        extProc:
          conditional:
          - condition: 'request.path.startsWith("/v1/chat") && source.address.endsWith("127.0.0.1")'
            host: "${chat.target}"
            requestAttributes:
              request.path: request.path
              request.method: request.method
            responseAttributes:
              response.code: response.code
              model: extproc.model
            metadataContext:
              tollgate.dev:
                tenant: 'request.headers["x-tenant"]'
            processingOptions:
              requestBodyMode: none
              responseBodyMode: none
          - host: "${other.target}"
            processingOptions:
              requestBodyMode: none
              responseBodyMode: none
`));
    t.after(async () => {
      closeClients();
      await g.stop();
      await Promise.all([chat.stop(), other.stop(), up.close()]);
    });
    for (const proto of PROTOS) {
      const r = await call(proto, g.url(), { path: '/v1/chat/completions', headers: { 'x-tenant': 'acme' } });
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.text) as { headers: Record<string, string> };
      assert.equal(seen.headers['x-proc'], 'chat');
      assert.deepEqual(JSON.parse(seen.headers['x-attr']!), { 'request.path': '/v1/chat/completions', 'request.method': 'GET' });
      assert.deepEqual(JSON.parse(seen.headers['x-meta']!), { tenant: 'acme' });
      assert.deepEqual(JSON.parse(String(r.headers['x-resp-attr'])), { 'response.code': 200, model: 'from-processor' });
      assert.deepEqual(JSON.parse(String(r.headers['x-resp-meta'])), { tenant: 'acme' });

      const o = await call(proto, g.url(), { path: '/elsewhere' });
      const oseen = JSON.parse(o.text) as { headers: Record<string, string> };
      assert.equal(oseen.headers['x-proc'], 'other', 'the condition-less last entry is the fallback');
      assert.deepEqual(JSON.parse(oseen.headers['x-attr']!), {});
    }
  });
});
