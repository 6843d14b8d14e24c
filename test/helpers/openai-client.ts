/**
 * The official OpenAI SDK as the AI tests use it: one way to build a client against a gateway (or the mock),
 * and one way to read a streamed chat completion.
 */
import OpenAI from 'openai';

/** An SDK client for `${baseUrl}/v1` that never retries (a retry would hide the first answer) and gives up after 10 s. */
export function sdkClient(baseUrl: string, apiKey = 'sk-client'): OpenAI {
  return new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey, maxRetries: 0, timeout: 10_000 });
}

/** Reads a streamed chat completion to its end: the concatenated delta text and the usage chunk, if any. */
export async function readChatStream(
  stream: AsyncIterable<OpenAI.ChatCompletionChunk>,
): Promise<{ text: string; usage: OpenAI.CompletionUsage | null | undefined }> {
  let text = '';
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const c of stream) {
    text += c.choices[0]?.delta.content ?? '';
    if (c.usage) usage = c.usage;
  }
  return { text, usage };
}
