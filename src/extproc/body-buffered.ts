/**
 * Reading bodies for the buffered body modes: the whole body (bounded), or a prefix up to a limit with the
 * untouched remainder kept as a Body that continues the same iteration. Also `cancelBody`, to abandon an
 * upstream body that will never be forwarded.
 */
import type { HeaderList } from '../http/headers.js';
import type { Body } from '../http/message.js';

/** A whole body read into memory, with its trailers; `tooLarge` when it passed the limit. */
export type WholeBody =
  | { readonly tooLarge: false; readonly data: Buffer; readonly trailers: HeaderList | undefined }
  | { readonly tooLarge: true };

/**
 * Reads the whole body, stopping as soon as it passes `limit` bytes. The rest is left unread rather than
 * cancelled: cancelling a request body can reset the HTTP/2 stream the 413 still has to go out on.
 */
export async function readWhole(body: Body, limit: number, cancelOnOverflow = false): Promise<WholeBody> {
  const parts: Buffer[] = [];
  let total = 0;
  const it = body[Symbol.asyncIterator]();
  for (;;) {
    const r = await it.next();
    if (r.done === true) break;
    total += r.value.length;
    if (total > limit) {
      // An upstream response that will never be relayed is released (its connection freed) instead.
      if (cancelOnOverflow) void it.return?.().catch(() => undefined);
      return { tooLarge: true };
    }
    parts.push(r.value);
  }
  return { tooLarge: false, data: parts.length === 1 ? parts[0]! : Buffer.concat(parts, total), trailers: body.trailers() };
}

/** A prefix of a body: `complete` when the body ended within the limit (then `rest` is empty). */
export interface PrefixBody {
  readonly prefix: Buffer;
  readonly complete: boolean;
  /** Trailers, known only when `complete`. */
  readonly trailers: HeaderList | undefined;
  /** The bytes after the prefix, read lazily from the same source; its trailers are the source's. */
  readonly rest: Body;
}

/**
 * Reads up to `limit` bytes. A chunk that crosses the limit is split. The body counts as complete only
 * when its end is seen, so a body of exactly `limit` bytes is complete, not partial.
 */
export async function readPrefix(body: Body, limit: number): Promise<PrefixBody> {
  const it = body[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let total = 0;
  let overflow: Buffer | undefined;
  for (;;) {
    const r = await it.next();
    if (r.done === true) {
      return { prefix: Buffer.concat(parts, total), complete: true, trailers: body.trailers(), rest: emptyRest(body) };
    }
    const chunk = r.value;
    if (total + chunk.length > limit) {
      const keep = limit - total;
      parts.push(chunk.subarray(0, keep));
      total += keep;
      overflow = chunk.subarray(keep);
      break;
    }
    parts.push(chunk);
    total += chunk.length;
  }
  const first = overflow;
  const rest: Body = {
    length: undefined,
    trailers: () => body.trailers(),
    async *[Symbol.asyncIterator]() {
      let finished = false;
      try {
        if (first.length > 0) yield first;
        for (;;) {
          const r = await it.next();
          if (r.done === true) {
            finished = true;
            return;
          }
          yield r.value;
        }
      } finally {
        // Abandoning the remainder abandons the source, so an upstream or client read stops too.
        if (!finished) await it.return?.();
      }
    },
  };
  return { prefix: Buffer.concat(parts, total), complete: false, trailers: undefined, rest };
}

function emptyRest(body: Body): Body {
  return { length: 0, trailers: () => body.trailers(), async *[Symbol.asyncIterator]() {} };
}

/** A body made of a processed prefix followed by the untouched remainder. */
export function concatBody(prefix: Buffer, rest: Body): Body {
  return {
    length: undefined,
    trailers: () => rest.trailers(),
    async *[Symbol.asyncIterator]() {
      if (prefix.length > 0) yield prefix;
      yield* rest;
    },
  };
}

/**
 * Abandons a body that will never be forwarded (an upstream response replaced by an immediate response):
 * starting and leaving the iteration runs the producer's cancel path, which aborts the upstream read.
 */
export function cancelBody(body: Body | null): void {
  if (body === null) return;
  void (async () => {
    try {
      for await (const _ of body) break;
    } catch {
      // The body failing while we abandon it is fine: nobody reads it.
    }
  })();
}
