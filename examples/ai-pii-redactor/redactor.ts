/**
 * PII redactor: an ext_proc processor that rewrites the request body so that e-mail addresses, phone numbers
 * and payment-card numbers in prompts never reach the model. Configure the route with
 * `requestBodyMode: buffered` (see config.yaml); the SDK's `bufferBody` sets the new content-length.
 *
 * Run: node --import tsx examples/ai-pii-redactor/redactor.ts --port 9000
 */
import { bufferBody, type ProcessorHandlers } from '../../src/processor/index.js';
import { mapPromptTexts, parseObject } from '../shared/openai-json.js';
import { isMain, serveFromCli } from '../shared/serve.js';

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
// 13–19 digits, optionally grouped by spaces or dashes, then checked with Luhn so order numbers survive.
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
// An optional +country code, then 3-3-4 digits: (415) 555-0100, 415-555-0100, 415.555.0100, 4155550100. A longer
// run of digits (an order number) does not match: the number must start and end its run.
const PHONE = /(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}\b/g;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Replaces PII in one text with placeholders. */
export function redactPii(text: string): string {
  return text
    .replace(EMAIL, '[EMAIL]')
    .replace(CARD, (m) => (luhn(m.replace(/\D/g, '')) ? '[CARD]' : m))
    .replace(PHONE, '[PHONE]');
}

/** Redacts the prompts of a request body; undefined when nothing changed (or it is not a JSON object). */
export function redactRequestBody(whole: Buffer, redact: (s: string) => string = redactPii): string | undefined {
  const body = parseObject(whole);
  if (body === undefined) return undefined;
  let changed = false;
  mapPromptTexts(body, (s) => {
    const r = redact(s);
    if (r !== s) changed = true;
    return r;
  });
  return changed ? JSON.stringify(body) : undefined;
}

/** The redactor's handlers: the request body is rewritten when it contains PII (any body mode). */
export function piiRedactor(redact: (s: string) => string = redactPii): ProcessorHandlers {
  return { onRequestBody: bufferBody((whole) => redactRequestBody(whole, redact)) };
}

if (isMain(import.meta.url)) await serveFromCli('PII redactor', piiRedactor(), 9000);
