/**
 * Prompt guard: an ext_proc processor that reads the buffered request body and answers the client itself
 * (ImmediateResponse, 403 in OpenAI's error format) when a prompt matches a deny pattern. Clean prompts
 * continue unchanged. Configure the route with `requestBodyMode: buffered` (see config.yaml).
 */
import { fileURLToPath } from 'node:url';
import { portFromArgv, replies, serveProcessor, type ExchangeHandlers } from '../ai-kit/processor.js';
import { parseObject, promptTexts } from '../ai-kit/openai-json.js';

/** Classic prompt-injection phrasings; replace with your own policy. */
export const DEFAULT_DENY: readonly RegExp[] = [
  /\bignore\s+(all\s+)?(the\s+)?(previous|prior|above)\s+instructions\b/i,
  /\breveal\s+(your|the)\s+system\s+prompt\b/i,
];

/** The error body the SDK turns into a PermissionDeniedError. */
export const BLOCKED = {
  error: { message: 'the prompt was blocked by the gateway prompt guard', type: 'invalid_request_error', param: 'messages', code: 'prompt_blocked' },
};

/** Handlers for one exchange. Works in buffered mode, and in full-duplex (it then holds the body to decide). */
export function promptGuard(deny: readonly RegExp[] = DEFAULT_DENY): () => ExchangeHandlers {
  return () => {
    const parts: Buffer[] = [];
    return {
      requestBody(chunk, endOfStream, fullDuplex) {
        parts.push(chunk);
        if (!endOfStream) return fullDuplex ? null : replies.continueBody('request');
        const whole = Buffer.concat(parts);
        const body = parseObject(whole);
        const blocked = body !== undefined && promptTexts(body).some((t) => deny.some((re) => re.test(t)));
        if (blocked) return replies.immediateJson(403, BLOCKED);
        return fullDuplex ? replies.streamed('request', whole, true) : replies.continueBody('request');
      },
    };
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const p = await serveProcessor(promptGuard(), { port: portFromArgv() });
  console.log(`prompt guard listening on ${p.target}`);
}
