import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AiLog } from '../http/context.js';
import { extractUsage, extractUsageFromText, mergeUsage } from './usage.js';

test('reads chat-completions usage and the response model', () => {
  assert.deepEqual(
    extractUsage({
      id: 'c1',
      model: 'gpt-4o-mini-2024-07-18',
      usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, prompt_tokens_details: { cached_tokens: 0 } },
    }),
    { responseModel: 'gpt-4o-mini-2024-07-18', inputTokens: 12, outputTokens: 5, totalTokens: 17 },
  );
});

test('reads embeddings usage (no completion tokens)', () => {
  assert.deepEqual(extractUsage({ object: 'list', model: 'emb', usage: { prompt_tokens: 8, total_tokens: 8 } }), {
    responseModel: 'emb',
    inputTokens: 8,
    totalTokens: 8,
  });
});

test('reads Responses API usage, also nested in a response.completed event, and derives a missing total', () => {
  assert.deepEqual(extractUsage({ model: 'm', usage: { input_tokens: 3, output_tokens: 4 } }), {
    responseModel: 'm',
    inputTokens: 3,
    outputTokens: 4,
    totalTokens: 7,
  });
  assert.deepEqual(
    extractUsage({ type: 'response.completed', response: { model: 'm2', usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 } } }),
    { responseModel: 'm2', inputTokens: 1, outputTokens: 2, totalTokens: 3 },
  );
});

test('a streamed chunk with usage null reports only the model', () => {
  assert.deepEqual(extractUsageFromText('{"model":"m","choices":[],"usage":null}'), { responseModel: 'm' });
});

test('ignores negative, fractional and non-numeric counts', () => {
  assert.deepEqual(extractUsage({ usage: { prompt_tokens: -1, completion_tokens: 1.5, total_tokens: '9' } }), {});
});

test('never throws on arbitrary input', () => {
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), fc.string()), (v) => {
      extractUsage(v);
      extractUsageFromText(typeof v === 'string' ? v : JSON.stringify(v));
    }),
  );
});

test('mergeUsage lets later reports win and keeps fields a report lacks', () => {
  const log: AiLog = { provider: 'openai' };
  mergeUsage(log, { responseModel: 'a' });
  mergeUsage(log, { inputTokens: 1, outputTokens: 2, totalTokens: 3 });
  assert.deepEqual(log, { provider: 'openai', responseModel: 'a', inputTokens: 1, outputTokens: 2, totalTokens: 3 });
});
