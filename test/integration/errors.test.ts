/**
 * How failures reach the client: an ext_proc immediate response that arrives mid-body is sent as the
 * processor wrote it, and errors on AI routes use the OpenAI error format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reply } from '../helpers/ext-proc-server.js';
import { call, PROTOS, setupExtProc } from '../helpers/ext-proc-harness.js';
import { routesConfig, scopedGateway } from '../helpers/gateway-fixtures.js';
import { freePort } from '../helpers/ports.js';

for (const proto of PROTOS) {
  test(`HTTP/${proto}: an immediate response during the streamed request body is sent as the processor wrote it`, { timeout: 30_000 }, async (t) => {
    const s = await setupExtProc(t, {
      handlers: {
        // Headers continue (they go upstream), then the body is refused with a JSON answer.
        onRequestBody: () => reply.immediate({ status: 429, body: '{"error":"too big"}', set: [['content-type', 'application/json'], ['x-why', 'body']] }),
      },
    });
    const r = await call(proto, s.url, { method: 'POST', path: '/upload', body: ['{"a":', '1}'] });
    assert.equal(r.status, 429);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-why'], 'body');
    assert.equal(r.text, '{"error":"too big"}');
  });
}

test('an upstream connect error on an AI route is an OpenAI-format JSON error', { timeout: 30_000 }, async (t) => {
  const dead = await freePort();
  const gw = await scopedGateway(
    t,
    routesConfig(`
    - backends:
      - ai:
          name: openai
          provider:
            openAI:
              model: some-model
          hostOverride: "127.0.0.1:{{DEAD}}"
`),
    { vars: { DEAD: dead } },
  );
  const res = await fetch(gw.url() + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'some-model', messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 503);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as { error?: { message?: string; type?: string } };
  assert.match(body.error?.message ?? '', /upstream connect error/);
  assert.equal(typeof body.error?.type, 'string');
});
