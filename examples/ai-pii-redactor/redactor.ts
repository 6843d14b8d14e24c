/**
 * PII redactor: an ext_proc processor that rewrites the buffered request body so that e-mail addresses,
 * phone numbers and payment-card numbers in prompts never reach the model. The gateway recomputes
 * content-length. Configure the route with `requestBodyMode: buffered` (see config.yaml).
 */
import { fileURLToPath } from 'node:url';
import { portFromArgv, replies, serveProcessor, type ExchangeHandlers } from '../ai-kit/processor.js';
import { mapPromptTexts, parseObject } from '../ai-kit/openai-json.js';

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
// 13–19 digits, optionally grouped by spaces or dashes, then checked with Luhn so order numbers survive.
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
const PHONE = /(?<![\w+])\+?\d{1,3}?[ .-]?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b/g;

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

/** Handlers for one exchange: the buffered request body is rewritten when it contains PII. */
export function piiRedactor(redact: (s: string) => string = redactPii): () => ExchangeHandlers {
  return () => {
    const parts: Buffer[] = [];
    return {
      // The body may shrink: a buffered body mutation must not disagree with the client's content-length, so
      // drop it here (the gateway sets the right one before forwarding).
      requestHeaders: () => ({ requestHeaders: { response: { headerMutation: { removeHeaders: ['content-length'] } } } }),
      requestBody(chunk, endOfStream, fullDuplex) {
        parts.push(chunk);
        if (!endOfStream) return fullDuplex ? null : replies.continueBody('request');
        const whole = Buffer.concat(parts);
        const body = parseObject(whole);
        let out = whole;
        if (body !== undefined) {
          let changed = false;
          mapPromptTexts(body, (s) => {
            const r = redact(s);
            if (r !== s) changed = true;
            return r;
          });
          if (changed) out = Buffer.from(JSON.stringify(body));
        }
        if (fullDuplex) return replies.streamed('request', out, true);
        return out === whole ? replies.continueBody('request') : replies.replaceBody('request', out);
      },
    };
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const p = await serveProcessor(piiRedactor(), { port: portFromArgv() });
  console.log(`PII redactor listening on ${p.target}`);
}
