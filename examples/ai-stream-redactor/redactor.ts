/**
 * Streamed-response redactor: an ext_proc processor in full-duplex mode that rewrites the model's tokens
 * in flight. SSE events are re-assembled across chunks (a chunk may end mid-event), each `data:` JSON
 * chunk has its `delta.content` redacted, and the rewritten events go back as `streamed_response` chunks as
 * soon as they are complete, so time to first token stays close to the model's. Non-streaming JSON replies
 * are held until their end and redacted whole.
 *
 * Limitation, kept for clarity: a secret split across two deltas (`"sk-"` then `"abc"`) is not caught; a
 * production redactor would hold back a short tail of text between events.
 *
 * Run: node --import tsx examples/ai-stream-redactor/redactor.ts --port 9000
 */
import { StringDecoder } from 'node:string_decoder';
import {
  bufferBody, GrpcCode, headersReply, ProcessorError, streamedChunk, type ProcessorHandlers,
} from '../../src/processor/index.js';
import { mapCompletionTexts, parseObject } from '../shared/openai-json.js';
import { isMain, serveFromCli } from '../shared/serve.js';

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

/**
 * The redactor's handlers, made once per exchange (each response has its own SSE parser state).
 * Configure `responseBodyMode: fullDuplexStreamed` (see config.yaml).
 */
export function streamRedactor(redact: (s: string) => string = redactOutput): () => ProcessorHandlers {
  return () => {
    let json = false;
    const decoder = new StringDecoder('utf8');
    let pending = '';
    const whole = bufferBody((body) => {
      const obj = parseObject(body);
      return obj ? JSON.stringify(mapCompletionTexts(obj, redact)) : undefined;
    });
    return {
      onResponseHeaders: (headers) => {
        json = (headers.get('content-type') ?? '').toLowerCase().includes('application/json');
        // The body may change length: drop content-length so the gateway streams it.
        return headersReply('response', { remove: ['content-length'] });
      },
      onResponseBody: (chunk, ctx) => {
        if (!ctx.fullDuplex('response')) throw new ProcessorError(GrpcCode.FAILED_PRECONDITION, 'the stream redactor needs responseBodyMode: fullDuplexStreamed');
        if (json) return whole(chunk, ctx);
        pending += decoder.write(chunk.data);
        let out = '';
        for (let end = pending.search(/\r?\n\r?\n/); end >= 0; end = pending.search(/\r?\n\r?\n/)) {
          const sep = /\r?\n\r?\n/.exec(pending.slice(end))![0];
          out += `${rewriteEvent(pending.slice(0, end), redact)}\n\n`;
          pending = pending.slice(end + sep.length);
        }
        if (chunk.end) {
          out += pending + decoder.end();
          pending = '';
        }
        if (out === '' && !chunk.endOfStream) return null;
        return streamedChunk('response', out, chunk.endOfStream);
      },
    };
  };
}

if (isMain(import.meta.url)) await serveFromCli('stream redactor', streamRedactor(), 9000);
