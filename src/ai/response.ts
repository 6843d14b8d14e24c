/**
 * Watches an AI response on its way to the client without holding it back: every chunk is handed on as
 * soon as it is read, while a side parser picks out usage, the response model and the time to first
 * token. SSE streams are split into events; JSON bodies are kept (up to a bound) and parsed at the end.
 */
import type { AiLog } from '../http/context.js';
import type { Body } from '../http/message.js';
import { SseParser } from './sse.js';
import { extractUsageFromText, mergeUsage } from './usage.js';

const USAGE_OBJECT = /"usage"\s*:\s*\{/;

/** What the observer needs to know about the request. */
export interface ObserveOptions {
  /** Where the findings go (the request's `ctx.log.ai`). */
  readonly log: AiLog;
  /** performance.now() at request arrival; time to first token is measured from it. */
  readonly start: number;
  /** Bound on the bytes kept to parse a non-streaming JSON body. */
  readonly maxBuffer: number;
}

/**
 * Wraps an SSE body. The first `data:` event sets `timeToFirstTokenMs`; every event's JSON is scanned for
 * usage (the `include_usage` chunk, or the Responses API's `response.completed`). `[DONE]` is skipped, and
 * so is (unparsed, never held) an event larger than `maxBuffer`.
 */
export function observeSseBody(body: Body, opts: ObserveOptions): Body {
  const firstToken = (): void => {
    if (opts.log.timeToFirstTokenMs === undefined) {
      opts.log.timeToFirstTokenMs = roundMs(performance.now() - opts.start);
    }
  };
  const parser = new SseParser(
    (ev) => {
      firstToken();
      if (ev.data === '[DONE]') return;
      // Every chunk carries `"usage": null` once include_usage is on; only a usage object (or the first
      // chunk, for the model) is worth a JSON.parse.
      if (opts.log.responseModel !== undefined && !USAGE_OBJECT.test(ev.data)) return;
      mergeUsage(opts.log, extractUsageFromText(ev.data));
    },
    // An event over maxBufferSize (a streamed image, say) passes to the client but is not parsed; it is
    // still the stream's first output if nothing came before it. Parsing resumes with the next event.
    { maxEvent: opts.maxBuffer, onSkip: firstToken },
  );
  return wrapBody(body, (chunk) => parser.push(chunk), () => {}, undefined);
}

/** Wraps a JSON body: keeps up to `maxBuffer` bytes beside the stream and reads usage once it ends. */
export function observeJsonBody(body: Body, opts: ObserveOptions): Body {
  const parts: Buffer[] = [];
  let size = 0;
  let overflow = false;
  return wrapBody(
    body,
    (chunk) => {
      if (overflow) return;
      size += chunk.length;
      if (size > opts.maxBuffer) {
        overflow = true;
        parts.length = 0;
        return;
      }
      parts.push(chunk);
    },
    () => {
      if (overflow || parts.length === 0) return;
      mergeUsage(opts.log, extractUsageFromText(Buffer.concat(parts, size).toString('utf8')));
    },
    body.length,
  );
}

/**
 * A body that yields the inner body's chunks unchanged, calling `onChunk` for each and `onEnd` after the
 * last. If the consumer stops early, the inner iterator is closed too, so the upstream is aborted.
 */
function wrapBody(
  inner: Body,
  onChunk: (chunk: Buffer) => void,
  onEnd: () => void,
  length: number | undefined,
): Body {
  return {
    length,
    trailers: () => inner.trailers(),
    async *[Symbol.asyncIterator]() {
      for await (const chunk of inner) {
        try {
          onChunk(chunk);
        } catch {
          // Observation must never break the response.
        }
        yield chunk;
      }
      try {
        onEnd();
      } catch {
        // idem
      }
    },
  };
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
