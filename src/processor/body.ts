/**
 * Body helpers that work in every body mode, so a handler is written once: `bufferBody` hands the whole body to a
 * function, `mapChunks` rewrites each chunk as it passes. Both pick the right reply shape for the mode in effect
 * (full duplex → `streamed_response` chunks; buffered / streamed → body replies).
 */
import type { ProcessingResponse } from '../extproc/messages.js';
import { bodyReply, streamedChunk, type Direction } from './replies.js';
import type { BodyChunk, Handler, HandlerResult, ProcessorContext } from './types.js';

/**
 * What a body function returns: new bytes (string = UTF-8), `undefined` to keep the body as it was, or replies
 * to send instead (e.g. an `immediate(...)` to reject the request).
 */
export type BodyResult = Buffer | Uint8Array | string | ProcessingResponse | readonly ProcessingResponse[] | undefined;

const isReply = (r: BodyResult): r is ProcessingResponse | readonly ProcessingResponse[] =>
  typeof r === 'object' && r !== null && !(r instanceof Uint8Array);

const held = new WeakMap<ProcessorContext, { request: Buffer[]; response: Buffer[] }>();

function parts(ctx: ProcessorContext, dir: Direction): Buffer[] {
  let p = held.get(ctx);
  if (p === undefined) held.set(ctx, (p = { request: [], response: [] }));
  return p[dir];
}

/**
 * A body handler that collects the whole body, calls `fn(body, ctx, direction)` once, and sends the result:
 * - full duplex: nothing per chunk, then one `streamed_response` chunk with the result (before trailers, if any);
 * - buffered / bufferedPartial: one body reply (a replacement when the result differs; in buffered mode a
 *   `content-length` the headers carried is set to the new length, since the gateway still holds the headers);
 * - streamed: each chunk is cleared, and the last chunk's reply carries the whole result. In streamed mode the
 *   body must end with `end_of_stream` (a request with trailers would lose the held bytes), so prefer full duplex.
 */
export function bufferBody(fn: (body: Buffer, ctx: ProcessorContext, direction: Direction) => BodyResult | Promise<BodyResult>): Handler<BodyChunk> {
  return async (chunk, ctx): Promise<HandlerResult> => {
    const dir = chunk.direction;
    const mode = ctx.bodyMode(dir);
    const list = parts(ctx, dir);
    if (chunk.data.length > 0) list.push(chunk.data);
    if (!chunk.end) return mode === 'streamed' ? bodyReply(dir, { clearBody: true }) : null;
    const whole = list.length === 1 ? list[0]! : Buffer.concat(list);
    list.length = 0;
    const out = await fn(whole, ctx, dir);
    if (isReply(out)) return out;
    const bytes = out === undefined ? whole : out;
    if (ctx.fullDuplex(dir)) return streamedChunk(dir, bytes, chunk.endOfStream);
    if (mode === 'streamed') return bodyReply(dir, { body: bytes });
    return replaceBody(dir, whole, bytes, ctx);
  };
}

/**
 * A body reply that replaces `original` with `next`: a plain continue when nothing changed (the gateway keeps its
 * bytes and headers), and in buffered mode, where the gateway still holds the headers, a `content-length` set to
 * the new size if the headers carried one (a stale one would fail the exchange).
 */
function replaceBody(dir: Direction, original: Buffer, next: Uint8Array | string, ctx: ProcessorContext): ProcessingResponse {
  const buf = typeof next === 'string' ? Buffer.from(next, 'utf8') : Buffer.from(next.buffer, next.byteOffset, next.byteLength);
  if (buf.equals(original)) return bodyReply(dir);
  const headers = dir === 'request' ? ctx.requestHeaders : ctx.responseHeaders;
  const fix = ctx.bodyMode(dir) === 'buffered' && headers?.has('content-length') ? { set: { 'content-length': String(buf.length) } } : {};
  return bodyReply(dir, { body: buf, ...fix });
}

/**
 * A body handler that rewrites every chunk with `fn(data, chunk, ctx)` as it passes (no buffering): return new
 * bytes, or `undefined` to keep the chunk. In buffered mode the one chunk is the whole body (content-length is
 * corrected as in {@link bufferBody}). In full duplex `fn` is also called with the empty flush chunk before
 * trailers (`chunk.synthetic`), so a stateful transform can emit what it held back.
 */
export function mapChunks(
  fn: (data: Buffer, chunk: BodyChunk, ctx: ProcessorContext) => Buffer | Uint8Array | string | undefined | Promise<Buffer | Uint8Array | string | undefined>,
): Handler<BodyChunk> {
  return async (chunk, ctx): Promise<HandlerResult> => {
    const dir = chunk.direction;
    const out = await fn(chunk.data, chunk, ctx);
    if (ctx.fullDuplex(dir)) {
      const bytes = out === undefined ? chunk.data : out;
      if (chunk.synthetic && bytes.length === 0) return null;
      return streamedChunk(dir, bytes, chunk.endOfStream);
    }
    if (out === undefined) return bodyReply(dir);
    return ctx.bodyMode(dir) === 'streamed' ? bodyReply(dir, { body: out }) : replaceBody(dir, chunk.data, out, ctx);
  };
}
