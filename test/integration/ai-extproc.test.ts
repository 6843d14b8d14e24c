// ext_proc on LLM traffic (SPEC §3): the seed's first config, with hostOverride added, and a live processor
// that must see the client-format request (before the model override, without the backend key) and the
// streamed SSE response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ProcessingRequest } from '../../src/extproc/messages.js';
import { startProcessor } from '../helpers/ext-proc-server.js';
import { startAiGateway } from '../helpers/gateway-fixtures.js';
import { readChatStream } from '../helpers/openai-client.js';
import { freePort } from '../helpers/ports.js';

const KEY = `sk-seed-${randomBytes(10).toString('hex')}`;

/** The seed's first example, verbatim apart from the processor address and the added hostOverride. */
const SEED = `
binds:
- port: {{PORT}}
  listeners:
  - routes:
    - backends:
      - ai:
         name: openai
         provider:
           openAI:
             # Optional; overrides the model in requests
             model: gpt-3.5-turbo
         hostOverride: "127.0.0.1:{{MOCK}}"
      policies:
        backendAuth:
          key: "$OPEN_AI_APIKEY"
        extProc:
          host: "{{PROCESSOR}}"
          failureMode: failOpen
`;

function headerValue(msg: ProcessingRequest | undefined, name: string): string | undefined {
  const h = (msg?.requestHeaders ?? msg?.responseHeaders)?.headers?.headers ?? [];
  const hit = h.find((x) => x.key === name);
  if (hit === undefined) return undefined;
  return hit.rawValue !== undefined && hit.rawValue !== null ? Buffer.from(hit.rawValue).toString('latin1') : (hit.value ?? undefined);
}

function bodyText(msgs: readonly ProcessingRequest[], dir: 'requestBody' | 'responseBody'): string {
  return Buffer.concat(msgs.flatMap((m) => (m[dir]?.body ? [Buffer.from(m[dir].body)] : []))).toString('utf8');
}

test(
  'seed config: with the processor down, failOpen still serves the request, model overridden, key injected',
  { timeout: 30_000 },
  async (t) => {
    const dead = `127.0.0.1:${await freePort()}`; // nothing listens here
    const { mock, gw, client } = await startAiGateway(t, SEED, { vars: { PROCESSOR: dead }, env: { OPEN_AI_APIKEY: KEY } });

    const chat = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(chat.choices[0]?.message.content, 'Hello from the mock.');
    const seen = mock.requests.at(-1)!;
    assert.equal(seen.body?.['model'], 'gpt-3.5-turbo');
    assert.equal(seen.headers.authorization, `Bearer ${KEY}`);

    const { text } = await readChatStream(await client.chat.completions.create({ model: 'gpt-4o', messages: [], stream: true }));
    assert.equal(text, 'tok0 tok1 tok2 ');

    const line = JSON.parse(await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes('"failOpen":true'))) as Record<string, unknown>;
    assert.equal(line.status, 200);
    assert.ok(![...gw.stdout, ...gw.stderr].join('\n').includes(KEY));
  },
);

test(
  'seed config with a live processor: it sees the client-format request and the streamed response, never the key',
  { timeout: 30_000 },
  async (t) => {
    const proc = await startProcessor();
    t.after(() => proc.stop());
    const { mock, client } = await startAiGateway(t, SEED, { mock: { stream: { chunks: 4 } }, vars: { PROCESSOR: proc.target }, env: { OPEN_AI_APIKEY: KEY } });

    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const { text, usage } = await readChatStream(stream);
    assert.equal(text, 'tok0 tok1 tok2 tok3 ');
    assert.equal(usage?.completion_tokens, 4);

    const msgs = proc.received.at(-1)!;
    const reqHeaders = msgs.find((m) => m.requestHeaders);
    assert.equal(headerValue(reqHeaders, ':path'), '/v1/chat/completions');
    assert.equal(headerValue(reqHeaders, 'authorization'), 'Bearer sk-client', 'the processor sees the client credential, not the key');
    const sentBody = JSON.parse(bodyText(msgs, 'requestBody')) as Record<string, unknown>;
    assert.equal(sentBody['model'], 'gpt-4o', 'the processor sees the model before the override');
    assert.equal(sentBody['stream_options'], undefined, 'and before stream_options is added');
    const respBody = bodyText(msgs, 'responseBody');
    assert.match(respBody, /data: \{.*"tok0 "/);
    assert.match(respBody, /"usage":\{"prompt_tokens":11/);
    assert.match(respBody, /data: \[DONE\]/);
    for (const m of msgs) assert.ok(!JSON.stringify(m).includes(KEY), 'the key never reaches the processor');

    assert.equal(mock.requests.at(-1)?.body?.['model'], 'gpt-3.5-turbo');
    assert.equal(mock.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
  },
);
