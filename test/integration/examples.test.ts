/**
 * Every example processor in examples/ end to end through the real gateway, using the example's own
 * config.yaml (ports substituted): header injector (also started with its documented one-line command), auth
 * gate, JSON transformer, body router, and the chat-completions PII redactor (against the OpenAI mock).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bodyOf, headerEditsOf, replyPhase, requestBody, requestHeaders, responseBody, responseHeaders, testProcessor } from '../../src/processor/testing.js';
import { authGate, parseTokens } from '../../examples/auth-gate/index.js';
import { bodyRouter, choosePool } from '../../examples/body-router/index.js';
import { listenArgs } from '../../examples/shared/serve.js';
import { INJECTED, PROCESSED_BY, headerInjector } from '../../examples/header-injector/index.js';
import { jsonTransformer } from '../../examples/json-transformer/index.js';
import { chatPiiRedactor } from '../../examples/pii-redactor/index.js';
import { scopedGateway, scopedProcessor, scopedUpstream, startAiGateway } from '../helpers/gateway-fixtures.js';
import { runListeningScript } from '../helpers/listening-script.js';
import { readChatStream } from '../helpers/openai-client.js';
import { freePort } from '../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** An example's config.yaml with its documented addresses replaced (`from` → `to`, every occurrence). */
function exampleConfig(name: string, replace: Record<string, string>): string {
  let text = readFileSync(`${ROOT}/examples/${name}/config.yaml`, 'utf8').replace(/port: 3000\b/, 'port: {{PORT}}');
  for (const [from, to] of Object.entries(replace)) {
    assert.ok(text.includes(from), `examples/${name}/config.yaml mentions ${from}`);
    text = text.split(from).join(to);
  }
  return text;
}

describe('example logic in-process (the SDK test harness)', { timeout: 10_000 }, () => {
  test('auth gate: token table parsing and the three outcomes', async () => {
    assert.throws(() => parseTokens('justatoken'), /expected token=user/);
    const gate = authGate(parseTokens('t1=ann, t2=bob'));
    const [none] = await testProcessor(gate).send(requestHeaders({ ':path': '/' }));
    assert.equal(none?.immediateResponse?.status?.code, 401);
    const [bad] = await testProcessor(gate).send(requestHeaders({ authorization: 'Bearer t3' }));
    assert.equal(bad?.immediateResponse?.status?.code, 403);
    const [ok] = await testProcessor(gate).send(requestHeaders({ authorization: 'bearer t2' }));
    assert.deepEqual(headerEditsOf(ok), { set: { 'x-user': 'bob' }, append: [], addIfAbsent: {}, remove: ['authorization'] });
  });

  test('body router: pool choice, and in buffered mode the decision rides on the body reply', async () => {
    assert.equal(choosePool(Buffer.from('{"model":"large-model"}')), 'b');
    assert.equal(choosePool(Buffer.from('not json')), 'a');
    const h = testProcessor(bodyRouter, { requestBodyMode: 'buffered' });
    assert.deepEqual((await h.send(requestHeaders({ ':path': '/v1/x' }))).map(replyPhase), ['requestHeaders']);
    const [body] = await h.send(requestBody('{"model":"large-model"}'));
    assert.deepEqual(headerEditsOf(body).set, { 'x-route-to': 'b' });
    assert.equal(body?.requestBody?.response?.clearRouteCache, true);
  });

  test('JSON transformer: non-JSON passes untouched, JSON responses are wrapped', async () => {
    const h = testProcessor(jsonTransformer, { requestBodyMode: 'buffered', responseBodyMode: 'buffered' });
    await h.send(requestHeaders({ 'content-type': 'text/plain' }));
    assert.deepEqual(await h.send(requestBody('password=x')), [{ requestBody: { response: {} } }]);
    await h.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' }));
    const [r] = await h.send(responseBody('[1]'));
    assert.deepEqual(JSON.parse(bodyOf(r)!.toString()), { data: [1], meta: { transformedBy: 'json-transformer' } });
  });

  test('command-line arguments: --port / --host, bad ports are refused', () => {
    assert.deepEqual(listenArgs(['node', 'x', '--port', '9100'], 1), { port: 9100, host: '127.0.0.1' });
    assert.deepEqual(listenArgs(['node', 'x', '--host', '0.0.0.0'], 1), { port: 1, host: '0.0.0.0' });
    assert.throws(() => listenArgs(['node', 'x', '--port', 'abc'], 1), /--port must be a port number/);
  });
});

describe('examples end to end through the gateway', { timeout: 90_000 }, () => {
  test('header injector (started with its one-line command): the backend gets the header, the client gets one back', async (t) => {
    const up = await scopedUpstream(t);
    const ex = await runListeningScript(t, ROOT, 'examples/header-injector/index.ts', ['--port', String(await freePort())]);
    const gw = await scopedGateway(t, exampleConfig('header-injector', { '127.0.0.1:18080': `127.0.0.1:${up.port}`, '127.0.0.1:9001': ex.target }));
    const res = await fetch(`${gw.url()}/anything?x=1`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get(PROCESSED_BY.name), PROCESSED_BY.value);
    const seen = (await res.json()) as { path: string; headers: Record<string, string> };
    assert.equal(seen.headers[INJECTED.name], INJECTED.value);
    assert.equal(seen.headers['x-ext-proc-saw-path'], '/anything?x=1');
    assert.equal(seen.path, '/anything?x=1');
    assert.equal(await ex.stop(), 0);
  });

  test('auth gate: 401 without a token, 403 with a bad one, 200 with x-user and no credential upstream', async (t) => {
    const up = await scopedUpstream(t);
    const target = await scopedProcessor(t, authGate(parseTokens('good-token=alice')));
    const gw = await scopedGateway(t, exampleConfig('auth-gate', { '127.0.0.1:18080': `127.0.0.1:${up.port}`, '127.0.0.1:9002': target }));
    const none = await fetch(`${gw.url()}/x`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="tollgate"');
    assert.deepEqual(await none.json(), { error: 'missing bearer token' });
    const bad = await fetch(`${gw.url()}/x`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(bad.status, 403);
    assert.deepEqual(await bad.json(), { error: 'invalid token' });
    assert.equal(up.requests.length, 0);
    const ok = await fetch(`${gw.url()}/x`, { headers: { authorization: 'Bearer good-token' } });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0]!.headers['x-user'], 'alice');
    assert.equal(up.requests[0]!.headers['authorization'], undefined);
  });

  test('JSON transformer (buffered): secrets stripped upstream, response wrapped, bad JSON answered 400', async (t) => {
    const up = await scopedUpstream(t);
    const target = await scopedProcessor(t, jsonTransformer);
    const gw = await scopedGateway(t, exampleConfig('json-transformer', { '127.0.0.1:18080': `127.0.0.1:${up.port}`, '127.0.0.1:9003': target }));
    const res = await fetch(`${gw.url()}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'ann', password: 'hunter2', profile: { ssn: '1', city: 'Oslo' } }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const wrapped = JSON.parse(text) as { data: { body: string; headers: Record<string, string> }; meta: unknown };
    // The response grew: whatever length the client is told must be the new one.
    const length = res.headers.get('content-length');
    if (length !== null) assert.equal(length, String(Buffer.byteLength(text)));
    assert.deepEqual(wrapped.meta, { transformedBy: 'json-transformer' });
    assert.deepEqual(JSON.parse(wrapped.data.body), { user: 'ann', profile: { city: 'Oslo' }, transformedBy: 'json-transformer' });
    const seen = up.requests[0]!;
    assert.equal(seen.headers['content-length'], String(seen.bodyBytes));
    const bad = await fetch(`${gw.url()}/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: 'request body is not valid JSON' });
    assert.equal(up.requests.length, 1);
  });

  test('body router: the JSON body picks the backend; body and path reach it intact (a header alone re-routes)', async (t) => {
    const [a, b] = [await scopedUpstream(t), await scopedUpstream(t)];
    const target = await scopedProcessor(t, bodyRouter);
    const gw = await scopedGateway(t, exampleConfig('body-router', {
      '127.0.0.1:18081': `127.0.0.1:${a.port}`,
      '127.0.0.1:18082': `127.0.0.1:${b.port}`,
      '127.0.0.1:9004': target,
    }));
    const big = JSON.stringify({ model: 'large-model', messages: [] });
    const r1 = await fetch(`${gw.url()}/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    assert.equal(r1.status, 200);
    assert.equal(r1.headers.get('x-routed-to'), 'b');
    await r1.arrayBuffer();
    assert.equal(b.requests.length, 1);
    assert.equal(a.requests.length, 0);
    assert.equal(b.requests[0]!.path, '/v1/chat');
    assert.equal(b.requests[0]!.headers['x-route-to'], 'b');
    assert.equal(b.requests[0]!.body.toString(), big);
    const r2 = await fetch(`${gw.url()}/v1/chat`, { method: 'POST', body: JSON.stringify({ model: 'small-model' }) });
    assert.equal(r2.headers.get('x-routed-to'), 'a');
    await r2.arrayBuffer();
    const r3 = await fetch(`${gw.url()}/health`);
    assert.equal(r3.headers.get('x-routed-to'), 'a');
    await r3.arrayBuffer();
    assert.deepEqual(a.requests.map((r) => r.path), ['/v1/chat', '/health']);
    assert.equal(b.requests.length, 1);
  });

  test('PII redactor: the model sees placeholders; streamed and JSON answers are redacted on the way back', async (t) => {
    const target = await scopedProcessor(t, chatPiiRedactor());
    const yaml = exampleConfig('pii-redactor', {
      '                  name: openai\n': '                  name: openai\n                  hostOverride: "127.0.0.1:{{MOCK}}"\n',
      '127.0.0.1:9005': target,
    });
    const { mock, client } = await startAiGateway(t, yaml, {
      mock: { content: 'Write to bob@example.com', stream: { tokens: ['Call ', '+1 415-555-0100', ' or mail ', 'bob@example.com'] } },
      env: { OPEN_AI_APIKEY: 'sk-test-key' },
    });
    const plain = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'I am jane@corp.example, card 4111-1111-1111-1111' }] });
    assert.deepEqual(mock.requests.at(-1)!.body?.['messages'], [{ role: 'user', content: 'I am [EMAIL], card [CARD]' }]);
    assert.equal(plain.choices[0]?.message.content, 'Write to [EMAIL]');
    const { text } = await readChatStream(await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true }));
    assert.equal(text, 'Call [PHONE] or mail [EMAIL]');
  });
});
