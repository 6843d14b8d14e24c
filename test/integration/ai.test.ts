// The OpenAI backend end to end: the official SDK → tollgate (real CLI, dist/) → the OpenAI mock.
// Port {{PORT}} forces the model and injects the backend key; port {{PLAIN}} does neither.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { sdkClient } from '../helpers/openai-client.js';
import { startOpenAiMock, type OpenAiMock } from '../helpers/openai-mock.js';
import { startGateway, type StartedGateway } from '../helpers/start-gateway.js';

const KEY = `sk-tollgate-test-${randomBytes(12).toString('hex')}`;

const CONFIG = `
binds:
- port: {{PORT}}
  listeners:
  - routes:
    - backends:
      - ai:
          name: openai
          provider:
            openAI:
              model: forced-model
          hostOverride: "127.0.0.1:{{MOCK}}"
      policies:
        backendAuth:
          key: "$OPEN_AI_APIKEY"
- port: {{PLAIN}}
  listeners:
  - routes:
    - backends:
      - ai:
          name: local
          provider:
            openAI: {}
          hostOverride: "127.0.0.1:{{MOCK}}"
`;

let mock: OpenAiMock;
let gw: StartedGateway;
let client: OpenAI;
let plain: OpenAI;

/** The access-log line of the request whose path carries `?t=<tag>`. */
async function accessLine(tag: string): Promise<Record<string, unknown>> {
  const line = await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes(`t=${tag}`));
  return JSON.parse(line) as Record<string, unknown>;
}

describe('OpenAI backend through tollgate with the official SDK', { timeout: 60_000 }, () => {
  before(async () => {
    mock = await startOpenAiMock({ stream: { chunks: 3 } });
    gw = await startGateway(CONFIG, { vars: { MOCK: mock.port }, env: { OPEN_AI_APIKEY: KEY } });
    client = sdkClient(gw.url(gw.ports.PORT), 'sk-client-own-key');
    plain = sdkClient(gw.url(gw.ports.PLAIN), 'sk-client-own-key');
  });
  after(async () => {
    await gw?.stop();
    await mock?.close();
  });

  test('chat completion: model forced, key injected, usage in the access log', async () => {
    const chat = await client.chat.completions.create(
      { model: 'gpt-client-choice', messages: [{ role: 'user', content: 'hello' }] },
      { query: { t: 'chat1' } },
    );
    assert.equal(chat.choices[0]?.message.content, 'Hello from the mock.');
    assert.equal(chat.model, 'forced-model');
    const seen = mock.requests.at(-1)!;
    assert.equal(seen.path, '/v1/chat/completions?t=chat1');
    assert.equal(seen.body?.['model'], 'forced-model');
    assert.deepEqual(seen.body?.['messages'], [{ role: 'user', content: 'hello' }]);
    assert.equal(seen.headers.authorization, `Bearer ${KEY}`);
    assert.equal(seen.headers.host, `127.0.0.1:${mock.port}`);
    const log = await accessLine('chat1');
    assert.equal(log.status, 200);
    assert.deepEqual(log.ai, {
      provider: 'openai',
      requestModel: 'forced-model',
      streaming: false,
      responseModel: 'forced-model',
      inputTokens: 11,
      outputTokens: 3,
      totalTokens: 14,
    });
  });

  test('streaming: tokens arrive chunk by chunk, include_usage is added, usage and TTFT recorded', async () => {
    let release!: () => void;
    mock.stream.gate = new Promise<void>((r) => (release = r));
    try {
      const stream = await client.chat.completions.create(
        { model: 'x', messages: [{ role: 'user', content: 'count' }], stream: true },
        { query: { t: 'stream1' } },
      );
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        // The mock holds everything after the first chunk until we have it: a buffering gateway never gets here.
        if (text === '') release();
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(text, 'tok0 tok1 tok2 ');
      assert.equal(usage?.total_tokens, 14);
    } finally {
      mock.stream.gate = undefined;
      release();
    }
    assert.deepEqual(mock.requests.at(-1)?.body?.['stream_options'], { include_usage: true });
    const log = await accessLine('stream1');
    const ai = log.ai as Record<string, unknown>;
    assert.equal(ai.streaming, true);
    assert.equal(ai.requestModel, 'forced-model');
    assert.equal(ai.inputTokens, 11);
    assert.equal(ai.outputTokens, 3);
    assert.equal(typeof ai.timeToFirstTokenMs, 'number');
    assert.ok((ai.timeToFirstTokenMs as number) <= (log.durationMs as number));
  });

  test('streaming: an event over maxBufferSize passes whole, and usage, model and TTFT still come from the rest', async () => {
    const metric = async (): Promise<number> => {
      const text = await (await fetch(`${gw.statsUrl}/metrics`)).text();
      const m = /tollgate_gen_ai_client_token_usage_count\{gen_ai_token_type="input",request_model="forced-model",response_model="forced-model"[^}]*\} (\d+)/.exec(text);
      return m === null ? 0 : Number(m[1]);
    };
    const counted = await metric();
    // 3 MB in one `data:` line (maxBufferSize is 2 MiB by default), as the stream's first event: a streamed image, say.
    const big = 'x'.repeat(3_000_000);
    mock.stream.tokens = [big, 'after'];
    try {
      const stream = await client.chat.completions.create(
        { model: 'x', messages: [{ role: 'user', content: 'draw' }], stream: true },
        { query: { t: 'streambig' } },
      );
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(text.length, big.length + 'after'.length, 'the client gets every byte');
      assert.equal(usage?.total_tokens, 13);
    } finally {
      mock.stream.tokens = undefined;
    }
    const log = await accessLine('streambig');
    const ai = log.ai as Record<string, unknown>;
    assert.equal(ai.streaming, true);
    assert.equal(ai.responseModel, 'forced-model');
    assert.equal(ai.inputTokens, 11);
    assert.equal(ai.outputTokens, 2);
    assert.equal(typeof ai.timeToFirstTokenMs, 'number');
    assert.equal(await metric(), counted + 1, 'the usage reached the metrics');
  });

  test('embeddings and models pass through', async () => {
    const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b', 'c'] });
    assert.equal(emb.data.length, 3);
    assert.equal(mock.requests.at(-1)?.path, '/v1/embeddings');
    assert.equal(mock.requests.at(-1)?.body?.['model'], 'forced-model');
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['gpt-4o-mini', 'gpt-3.5-turbo', 'text-embedding-3-small']);
    assert.equal(mock.requests.at(-1)?.method, 'GET');
    assert.equal(mock.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
    const one = await client.models.retrieve('gpt-4o-mini');
    assert.equal(one.id, 'gpt-4o-mini');
  });

  test('upstream 4xx/5xx reach the SDK as APIError with status and message', async () => {
    const cases = [
      { status: 400, type: 'invalid_request_error', cls: OpenAI.BadRequestError },
      { status: 401, type: 'authentication_error', cls: OpenAI.AuthenticationError },
      { status: 429, type: 'rate_limit_error', cls: OpenAI.RateLimitError },
      { status: 500, type: 'server_error', cls: OpenAI.InternalServerError },
      { status: 503, type: 'server_error', cls: OpenAI.InternalServerError },
    ] as const;
    for (const c of cases) {
      mock.failNext({ status: c.status, message: `scripted ${c.status}`, type: c.type, code: `code_${c.status}` });
      await assert.rejects(client.chat.completions.create({ model: 'm', messages: [] }), (e: unknown) => {
        assert.ok(e instanceof c.cls, `status ${c.status} gave ${String(e)}`);
        assert.equal(e.status, c.status);
        assert.match(e.message, new RegExp(`scripted ${c.status}`));
        assert.equal(e.code, `code_${c.status}`);
        assert.equal(e.type, c.type);
        return true;
      });
    }
  });

  test('a client abort mid-stream aborts the upstream request', async () => {
    mock.stream.chunks = 10_000;
    mock.stream.delayMs = 10;
    try {
      const ac = new AbortController();
      const aborted = mock.nextAbort();
      const stream = await client.chat.completions.create({ model: 'm', messages: [], stream: true }, { signal: ac.signal });
      let seen = 0;
      for await (const _chunk of stream) {
        if (++seen === 3) ac.abort();
      }
      assert.equal(await aborted, '/v1/chat/completions');
      // Chunks already parsed with the third may still be yielded; the stream must stop well short of the end.
      assert.ok(seen >= 3 && seen < 100, `saw ${seen} chunks`);
    } finally {
      mock.stream.chunks = 3;
      mock.stream.delayMs = 0;
    }
  });

  test('malformed JSON and a missing model get a 400 in OpenAI error format', async () => {
    const before = mock.requests.length;
    const res = await fetch(`${gw.url(gw.ports.PORT)}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client-own-key' },
      body: '{"model": "m", "messages": [',
    });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const text = await res.text();
    const body = JSON.parse(text) as { error: Record<string, unknown> };
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(body.error.code, 'invalid_json');
    assert.equal(body.error.param, null);
    assert.match(String(body.error.message), /not valid JSON/);
    assert.ok(!text.includes(KEY));

    // Without a forced model the client must send one; the SDK surfaces the gateway's 400.
    await assert.rejects(plain.chat.completions.create({ messages: [] } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, 'model');
      assert.match(e.message, /model/);
      return true;
    });
    assert.equal(mock.requests.length, before, 'rejected requests never reach the provider');
  });

  test('without backendAuth the client key and model pass through', async () => {
    const chat = await plain.chat.completions.create({ model: 'client-model', messages: [] });
    assert.equal(chat.model, 'client-model');
    assert.equal(mock.requests.at(-1)?.headers.authorization, 'Bearer sk-client-own-key');
  });

  test('gen-AI metrics carry tokens by type and model', async () => {
    await client.chat.completions.create({ model: 'm', messages: [] }, { query: { t: 'metrics1' } });
    await accessLine('metrics1');
    const text = await (await fetch(`${gw.statsUrl}/metrics`)).text();
    assert.match(text, /tollgate_gen_ai_client_token_usage_count\{gen_ai_token_type="input",request_model="forced-model",response_model="forced-model"[^}]*\} [1-9]/);
    assert.match(text, /tollgate_gen_ai_client_token_usage_sum\{gen_ai_token_type="output",request_model="forced-model",response_model="forced-model"[^}]*\} [1-9]/);
    assert.match(text, /tollgate_gen_ai_server_time_to_first_token_seconds_count\{request_model="forced-model"[^}]*\} [1-9]/);
  });

  test('the backend key never appears in logs, config_dump or error bodies', async () => {
    // An upstream error body and a gateway error body, then everything the process printed.
    mock.failNext({ status: 500, message: 'boom' });
    await assert.rejects(client.chat.completions.create({ model: 'm', messages: [] }), (e: unknown) => !String(e).includes(KEY));
    const bad = await fetch(`${gw.url(gw.ports.PORT)}/v1/chat/completions`, { method: 'POST', body: 'nope' });
    assert.ok(!(await bad.text()).includes(KEY));
    const dump = await (await fetch(`${gw.adminUrl}/config_dump`)).text();
    assert.ok(dump.includes('openai'), 'config_dump lists the backend');
    assert.ok(!dump.includes(KEY), 'config_dump must redact the key');
    await accessLine('chat1');
    const printed = [...gw.stdout, ...gw.stderr].join('\n');
    assert.ok(printed.length > 0);
    assert.ok(!printed.includes(KEY), 'the key leaked into the gateway output');
    assert.ok(!printed.includes(KEY.slice(8)), 'a fragment of the key leaked');
  });
});
