/**
 * Streamed-response redactor: an ext_proc processor in full-duplex mode that rewrites the model's tokens
 * in flight. SSE events are re-assembled across chunks (a chunk may end mid-event), each `data:` JSON
 * chunk has its `delta.content` redacted, and the rewritten events go back as `streamed_response` chunks as
 * soon as they are complete, so time to first token stays close to the model's. Non-streaming JSON replies
 * are held until their end and redacted whole.
 *
 * Limitation, kept for clarity: a secret split across two deltas (`"sk-"` then `"abc"`) is not caught; a
 * production redactor would hold back a short tail of text between events.
 */
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { portFromArgv, replies, serveProcessor, type ExchangeHandlers } from '../ai-kit/processor.js';
import { mapCompletionTexts, parseObject } from '../ai-kit/openai-json.js';
import type { ProcessingRequest } from '../../src/extproc/messages.js';

/** What the default redactor hides in model output: e-mail addresses and API-key-like tokens. */
export function redactOutput(text: string): string {
  return text.replace(/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, '[EMAIL]').replace(/\bsk-[A-Za-z0-9_-]{8,}/g, '[KEY]');
}

/** Rewrites one SSE event block (without its blank-line terminator). */
function rewriteEvent(block: string, redact: (s: string) => string): string {
  const lines = block.split(/\r?\n/);
  const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, ''));
  const obj = data.length === 1 ? parseObject(Buffer.from(data[0]!)) : undefined;
  if (obj === undefined) return block; // [DONE], comments, or something we do not understand: untouched
  const others = lines.filter((l) => !l.startsWith('data:'));
  return [...others, `data: ${JSON.stringify(mapCompletionTexts(obj, redact))}`].join('\n');
}

function contentType(msg: ProcessingRequest): string {
  const h = msg.responseHeaders?.headers?.headers?.find((x) => x.key === 'content-type');
  return h?.rawValue ? Buffer.from(h.rawValue).toString('latin1') : (h?.value ?? '');
}

/** Handlers for one exchange. Configure `responseBodyMode: fullDuplexStreamed` (see config.yaml). */
export function streamRedactor(redact: (s: string) => string = redactOutput): () => ExchangeHandlers {
  return () => {
    let json = false;
    const decoder = new StringDecoder('utf8');
    let pending = '';
    const held: Buffer[] = [];
    return {
      responseHeaders(msg) {
        json = contentType(msg).toLowerCase().includes('application/json');
        // The body may change length: drop content-length so the gateway streams it.
        return { responseHeaders: { response: { headerMutation: { removeHeaders: ['content-length'] } } } };
      },
      responseBody(chunk, endOfStream, fullDuplex) {
        if (!fullDuplex) throw new Error('the stream redactor needs responseBodyMode: fullDuplexStreamed');
        if (json) {
          held.push(chunk);
          if (!endOfStream) return null;
          const whole = Buffer.concat(held);
          const obj = parseObject(whole);
          return replies.streamed('response', obj ? Buffer.from(JSON.stringify(mapCompletionTexts(obj, redact))) : whole, true);
        }
        pending += decoder.write(chunk);
        let out = '';
        for (let end = pending.search(/\r?\n\r?\n/); end >= 0; end = pending.search(/\r?\n\r?\n/)) {
          const sep = /\r?\n\r?\n/.exec(pending.slice(end))![0];
          out += `${rewriteEvent(pending.slice(0, end), redact)}\n\n`;
          pending = pending.slice(end + sep.length);
        }
        if (endOfStream) {
          out += pending + decoder.end();
          pending = '';
        }
        if (out === '' && !endOfStream) return null;
        return replies.streamed('response', Buffer.from(out), endOfStream);
      },
    };
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const p = await serveProcessor(streamRedactor(), { port: portFromArgv() });
  console.log(`stream redactor listening on ${p.target}`);
}
