/**
 * Prompt guard: an ext_proc processor that reads the request body and answers the client itself
 * (ImmediateResponse, 403 in OpenAI's error format) when a prompt matches a deny pattern. Clean prompts
 * continue unchanged. Works in buffered mode (see config.yaml) and in full duplex (the body is held to decide).
 *
 * Run: node --import tsx examples/ai-prompt-guard/guard.ts --port 9000
 */
import { bufferBody, immediateJson, type ProcessorHandlers } from '../../src/processor/index.js';
import { parseObject, promptTexts } from '../shared/openai-json.js';
import { isMain, serveFromCli } from '../shared/serve.js';

/** Classic prompt-injection phrasings; replace with your own policy. */
export const DEFAULT_DENY: readonly RegExp[] = [
  /\bignore\s+(all\s+)?(the\s+)?(previous|prior|above)\s+instructions\b/i,
  /\breveal\s+(your|the)\s+system\s+prompt\b/i,
];

/** The error body the OpenAI SDK turns into a PermissionDeniedError. */
export const BLOCKED = {
  error: { message: 'the prompt was blocked by the gateway prompt guard', type: 'invalid_request_error', param: 'messages', code: 'prompt_blocked' },
};

/** The guard's handlers. */
export function promptGuard(deny: readonly RegExp[] = DEFAULT_DENY): ProcessorHandlers {
  return {
    onRequestBody: bufferBody((whole) => {
      const body = parseObject(whole);
      const blocked = body !== undefined && promptTexts(body).some((t) => deny.some((re) => re.test(t)));
      return blocked ? immediateJson(403, BLOCKED, { details: 'prompt guard: deny pattern matched' }) : undefined;
    }),
  };
}

if (isMain(import.meta.url)) await serveFromCli('prompt guard', promptGuard(), 9000);
