/**
 * PII redactor for chat completions, both ways:
 * - the request body (buffered) has e-mails, phone numbers and card numbers in prompts replaced by placeholders
 *   before the model sees them;
 * - the response (full duplex) is redacted in flight: SSE token streams event by event, JSON replies whole.
 * It combines the two AI examples (ai-pii-redactor for the request, ai-stream-redactor for the response).
 *
 * Run: node --import tsx examples/pii-redactor/index.ts --port 9005
 */
import type { HandlersInput } from '../../src/processor/index.js';
import { piiRedactor, redactPii } from '../ai-pii-redactor/redactor.js';
import { redactOutput, streamRedactor } from '../ai-stream-redactor/redactor.js';
import { isMain, serveFromCli } from '../shared/serve.js';

/** Everything hidden in model output: the prompt-side PII plus API-key-like tokens. */
export const redactAll = (s: string): string => redactOutput(redactPii(s));

/** The processor: request handlers from the PII redactor, response handlers from a per-exchange stream redactor. */
export function chatPiiRedactor(): HandlersInput {
  const request = piiRedactor();
  const response = streamRedactor(redactAll);
  return () => ({ ...request, ...response() });
}

if (isMain(import.meta.url)) await serveFromCli('pii-redactor', chatPiiRedactor(), 9005);
