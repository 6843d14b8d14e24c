/**
 * Helpers for processors that read or rewrite the text of OpenAI requests and responses: chat `messages`
 * (string content or `{type: 'text', text}` parts), the Responses API `input`, legacy `prompt`, and the
 * assistant text of chat responses (`message.content`) and stream chunks (`delta.content`).
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Applies `fn` to every user-visible text in a content value (string or array of parts). */
function mapContent(content: unknown, fn: (s: string) => string): unknown {
  if (typeof content === 'string') return fn(content);
  if (!Array.isArray(content)) return content;
  return content.map((part: unknown) => {
    if (typeof part === 'string') return fn(part);
    if (isObj(part) && typeof part['text'] === 'string') return { ...part, text: fn(part['text']) };
    return part;
  });
}

/** Applies `fn` to every prompt text of a request body (mutates and returns it). */
export function mapPromptTexts(body: Json, fn: (s: string) => string): Json {
  if (Array.isArray(body['messages'])) {
    body['messages'] = body['messages'].map((m: unknown) => (isObj(m) ? { ...m, content: mapContent(m['content'], fn) } : m));
  }
  if (body['input'] !== undefined) {
    const input = body['input'];
    body['input'] = Array.isArray(input)
      ? input.map((item: unknown) => (isObj(item) ? { ...item, content: mapContent(item['content'], fn) } : mapContent(item, fn)))
      : mapContent(input, fn);
  }
  if (body['prompt'] !== undefined) body['prompt'] = mapContent(body['prompt'], fn);
  return body;
}

/** Every prompt text of a request body, in order. */
export function promptTexts(body: Json): string[] {
  const out: string[] = [];
  mapPromptTexts(structuredClone(body), (s) => {
    out.push(s);
    return s;
  });
  return out;
}

/** Applies `fn` to the assistant text of a chat completion or a stream chunk (mutates and returns it). */
export function mapCompletionTexts(obj: Json, fn: (s: string) => string): Json {
  if (!Array.isArray(obj['choices'])) return obj;
  for (const choice of obj['choices'] as unknown[]) {
    if (!isObj(choice)) continue;
    for (const key of ['message', 'delta']) {
      const m = choice[key];
      if (isObj(m) && typeof m['content'] === 'string') m['content'] = fn(m['content']);
    }
  }
  return obj;
}

/** Parses a JSON object body; undefined when it is not one. */
export function parseObject(bytes: Buffer): Json | undefined {
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
