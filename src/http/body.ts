/**
 * Body helpers: a bounded push→pull channel (for producers such as undici handlers or the ext_proc
 * full-duplex pump), and bodies made from buffers or node Readables.
 */
import type { Readable } from 'node:stream';
import { HeaderList } from './headers.js';
import type { Body } from './message.js';

const DEFAULT_HIGH_WATER = 64 * 1024;

/**
 * A synchronous consumer of a BodyChannel (`BodyChannel.pipeTo`): chunks are handed over as they arrive, in the
 * producer's own turn, with no promise per chunk. Exactly one of `end` or `error` is called, once.
 */
export interface ChannelSink {
  /** Takes a chunk; false means "full": nothing more is delivered until the sink calls `BodyChannel.resume()`. */
  write(chunk: Buffer): boolean;
  /** The body ended (with its trailers, if any). */
  end(trailers: HeaderList | undefined): void;
  /** The producer failed (`fail`); the sink gets the same error an iterating consumer would. */
  error(err: unknown): void;
}

/**
 * A bounded channel: the producer `push`es chunks and awaits room; the consumer iterates.
 * `end(trailers)` finishes it, `fail(err)` makes the consumer's iteration throw.
 * If the consumer stops iterating early (break/throw), `onCancel` runs so the producer can abort.
 */
export class BodyChannel implements Body {
  readonly length: number | undefined;
  #queue: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #error: unknown = undefined;
  #trailers: HeaderList | undefined;
  #wakeConsumer: (() => void) | undefined;
  #wakeProducer: (() => void) | undefined;
  #cancelled = false;
  #iterating = false;
  #sink: ChannelSink | undefined;
  /** The sink reported itself full and has not called `resume()` since. */
  #sinkFull = false;
  #flushing = false;
  readonly #highWater: number;
  /** Called once when the consumer abandons the body before its end. */
  onCancel: ((reason: unknown) => void) | undefined;
  /**
   * True when the body is complete once `length` bytes went through: nothing can follow them (no trailers, no
   * later word from a processor), so a writer may end its message with the last byte, before `end()` arrives.
   */
  readonly completeAtLength: boolean;

  constructor(opts: { highWaterMark?: number; length?: number; completeAtLength?: boolean } = {}) {
    this.#highWater = opts.highWaterMark ?? DEFAULT_HIGH_WATER;
    this.length = opts.length;
    this.completeAtLength = opts.completeAtLength === true && opts.length !== undefined;
  }

  /** True once end() or fail() was called, or the consumer cancelled. */
  get closed(): boolean {
    return this.#ended || this.#error !== undefined || this.#cancelled;
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Bytes queued and not yet consumed. */
  get buffered(): number {
    return this.#queued;
  }

  /** Queues a chunk. Resolves when the queue is below the high-water mark again. */
  push(chunk: Buffer): Promise<void> {
    return this.offer(chunk) ? Promise.resolve() : this.room();
  }

  /** Queues a chunk without waiting (the caller tracks `buffered` itself). */
  pushNoWait(chunk: Buffer): void {
    this.offer(chunk);
  }

  /**
   * Queues a chunk (a sink may take it at once); returns false when the queue is at or above the high-water mark,
   * so the producer should wait for `room()`. No promise is made either way.
   */
  offer(chunk: Buffer): boolean {
    if (this.closed) return true;
    const sink = this.#sink;
    if (sink !== undefined && this.#queued === 0 && !this.#sinkFull && !this.#flushing) {
      // The usual case of a piped body: nothing waits before this chunk, so it goes straight to the sink.
      if (chunk.length > 0 && !sink.write(chunk)) this.#sinkFull = true;
      return true;
    }
    if (chunk.length > 0) {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
    }
    this.#wake();
    return this.#queued < this.#highWater;
  }

  /** Resolves once the queue is below the high-water mark (at once when it already is, or the body closed). */
  room(): Promise<void> {
    if (this.#queued < this.#highWater || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wakeProducer = resolve;
    });
  }

  /**
   * Hands the body to `sink` instead of an iterator: what is queued now is written at once, and every later chunk,
   * the end or the failure in the producer's turn. A body is read once, by one of the two ways.
   */
  pipeTo(sink: ChannelSink): void {
    if (this.#iterating) throw new Error('body is already being read');
    this.#iterating = true;
    this.#sink = sink;
    this.#flush();
  }

  /** A sink that returned false from `write` can take chunks again. */
  resume(): void {
    if (!this.#sinkFull) return;
    this.#sinkFull = false;
    this.#flush();
  }

  /** The consumer gives up before the end (a piping sink's client went away): the producer is told via `onCancel`. */
  cancel(reason: unknown): void {
    this.#sink = undefined;
    if (this.closed) {
      this.#queue = [];
      this.#queued = 0;
      return;
    }
    this.#cancelled = true;
    this.#queue = [];
    this.#queued = 0;
    this.#releaseProducer();
    const cb = this.onCancel;
    this.onCancel = undefined;
    cb?.(reason);
  }

  /** Ends the body, optionally with trailers. */
  end(trailers?: HeaderList): void {
    if (this.closed) return;
    this.#ended = true;
    this.#trailers = trailers && trailers.size > 0 ? trailers : undefined;
    this.#wake();
  }

  /** Ends the body with an error: the consumer's iteration throws it. */
  fail(err: unknown): void {
    if (this.closed) return;
    this.#error = err ?? new Error('body failed');
    this.#queue = [];
    this.#queued = 0;
    this.#wake();
    this.#releaseProducer();
  }

  trailers(): HeaderList | undefined {
    return this.#trailers;
  }

  #wake(): void {
    if (this.#sink !== undefined) {
      this.#flush();
      return;
    }
    const w = this.#wakeConsumer;
    this.#wakeConsumer = undefined;
    w?.();
  }

  #releaseProducer(): void {
    const w = this.#wakeProducer;
    this.#wakeProducer = undefined;
    w?.();
  }

  /** Delivers to the sink until it is full or the queue is empty; then the end or the failure, once. */
  #flush(): void {
    const sink = this.#sink;
    if (sink === undefined || this.#flushing) return;
    this.#flushing = true;
    try {
      for (;;) {
        // A failure is delivered even to a full sink: the response is broken either way, so it ends now.
        if (this.#error !== undefined) {
          this.#sink = undefined;
          sink.error(this.#error);
          return;
        }
        if (this.#sinkFull) break;
        const chunk = this.#queue.shift();
        if (chunk === undefined) break;
        this.#queued -= chunk.length;
        if (!sink.write(chunk)) this.#sinkFull = true;
      }
      if (this.#queued < this.#highWater) this.#releaseProducer();
      if (!this.#sinkFull && this.#ended && this.#queue.length === 0 && this.#sink === sink) {
        this.#sink = undefined;
        sink.end(this.#trailers);
      }
    } finally {
      this.#flushing = false;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    if (this.#iterating) throw new Error('body is already being read');
    this.#iterating = true;
    let finished = false;
    try {
      for (;;) {
        if (this.#error !== undefined) throw this.#error;
        const chunk = this.#queue.shift();
        if (chunk !== undefined) {
          this.#queued -= chunk.length;
          if (this.#queued < this.#highWater) this.#releaseProducer();
          yield chunk;
          continue;
        }
        if (this.#ended) {
          finished = true;
          return;
        }
        await new Promise<void>((resolve) => {
          this.#wakeConsumer = resolve;
        });
      }
    } finally {
      // Stopped early (break, throw): the producer is told, unless the body had already ended or failed.
      if (!finished) this.cancel(new Error('body consumer cancelled'));
    }
  }
}

/** A body holding one buffer (possibly empty). */
export function bufferBody(data: Buffer | string, trailers?: HeaderList): Body {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return {
    length: buf.length,
    trailers: () => trailers,
    async *[Symbol.asyncIterator]() {
      if (buf.length > 0) yield buf;
    },
  };
}

/** `getTrailers`, with an empty list read as none. */
export function nonEmpty(getTrailers: () => HeaderList | undefined): () => HeaderList | undefined {
  return () => {
    const t = getTrailers();
    return t && t.size > 0 ? t : undefined;
  };
}

/**
 * A body over a node Readable (IncomingMessage, Http2Stream, Http2ServerRequest).
 * `getTrailers` is read after the stream ended. `keepOnCancel`: a consumer that stops early leaves the stream as it
 * is, instead of destroying it (an HTTP/1.1 request, whose destruction would close the connection under the
 * response: the server decides what happens to the rest of the upload).
 */
export function readableBody(stream: Readable, getTrailers: () => HeaderList | undefined, length?: number, keepOnCancel = false): Body {
  const body = {
    length,
    bytesRead: 0,
    trailers: nonEmpty(getTrailers),
    async *[Symbol.asyncIterator]() {
      for await (const c of keepOnCancel ? stream.iterator({ destroyOnReturn: false }) : stream) {
        const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
        body.bytesRead += chunk.length;
        yield chunk;
      }
    },
  };
  return body;
}

/** Reads a whole body into one buffer, failing with `onTooLarge()` past `limit` bytes. */
export async function readAll(body: Body, limit: number, onTooLarge: () => Error): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limit) throw onTooLarge();
    parts.push(chunk);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

export { HeaderList };
