// The OpenAI mock speaks well enough for the official SDK (checked directly, without the gateway), so the
// gateway tests in ai.test.ts fail only for the gateway's own faults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { readChatStream, sdkClient } from '../helpers/openai-client.js';
import { startOpenAiMock } from '../helpers/openai-mock.js';

test('the official SDK talks to the mock directly: chat, stream with usage, embeddings, models, errors, abort', { timeout: 20_000 }, async (t) => {
  const mock = await startOpenAiMock({ stream: { chunks: 4 } });
  t.after(() => mock.close());
  const client = sdkClient(mock.url);

  const chat = await client.chat.completions.create({ model: 'm1', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(chat.choices[0]?.message.content, 'Hello from the mock.');
  assert.equal(chat.usage?.total_tokens, 15);
  assert.equal(mock.requests.at(-1)?.headers.authorization, 'Bearer sk-client');

  const stream = await client.chat.completions.create({
    model: 'm1',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const { text, usage } = await readChatStream(stream);
  assert.equal(text, 'tok0 tok1 tok2 tok3 ');
  assert.equal(usage?.completion_tokens, 4);

  const emb = await client.embeddings.create({ model: 'e', input: ['a', 'b'] });
  assert.equal(emb.data.length, 2);
  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  assert.ok(models.includes('gpt-4o-mini'));

  mock.failNext({ status: 429, message: 'slow down', type: 'rate_limit_error', code: 'rate_limit_exceeded' });
  await assert.rejects(client.chat.completions.create({ model: 'm', messages: [] }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.match(e.message, /slow down/);
    return true;
  });

  mock.stream.chunks = 1000;
  mock.stream.delayMs = 20;
  const ac = new AbortController();
  const aborted = mock.nextAbort();
  const s2 = await client.chat.completions.create({ model: 'm', messages: [], stream: true }, { signal: ac.signal });
  // The SDK ends the iteration quietly on abort.
  let seen = 0;
  for await (const _c of s2) {
    seen++;
    ac.abort();
  }
  assert.equal(seen, 1);
  assert.equal(await aborted, '/v1/chat/completions');
});
