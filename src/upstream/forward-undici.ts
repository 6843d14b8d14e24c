/**
 * HTTP/1.1 upstream exchange over an undici Pool with a raw `dispatch()` handler (the cheapest undici
 * path, reference node-performance B1). Response data is pushed into a bounded BodyChannel; when it is
 * full the connection is paused (controller.pause) until the client side drains it.
 */
import type { Readable } from 'node:stream';
import { util, type Dispatcher } from 'undici';
import { BodyChannel } from '../http/body.js';
import { headersFromFlat } from '../http/hop-by-hop.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import type { AbortSource } from '../http/abort.js';
import { display, type UpstreamTarget } from './dispatchers.js';
import { upstreamError } from './errors.js';

const HIGH_WATER = 64 * 1024;

/** True when a response to `method` with this status/headers can carry no body. */
export function bodyless(method: string, status: number, contentLength: string | string[] | undefined): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || contentLength === '0';
}

/** Who gets the outcome of an upstream exchange: the response at its head, or the failure before it. Called once. */
export interface UpstreamReceiver {
  upstreamResponse(res: GatewayResponse): void;
  upstreamFailed(err: unknown): void;
}

/**
 * Sends `req` through `pool`; `receiver` gets the response at its head (in undici's callback, so a caller can
 * answer in the same turn), and the body streams afterwards. It may be called before this returns.
 */
export function dispatchUndici(
  pool: Dispatcher,
  req: GatewayRequest,
  headers: string[],
  target: UpstreamTarget,
  signal: AbortSource,
  receiver: UpstreamReceiver,
): void {
  const exchange = new UndiciExchange(req.method, target, signal, receiver);
  try {
    pool.dispatch(
      {
        path: req.path,
        method: req.method,
        headers,
        // undici accepts any AsyncIterable body (streamed, chunked when no content-length); its types don't say so.
        body: req.body as unknown as Readable | null,
      },
      exchange,
    );
  } catch (err) {
    exchange.onError(err as Error);
  }
}

/** `dispatchUndici` as a promise of the response head. */
export function forwardUndici(
  pool: Dispatcher,
  req: GatewayRequest,
  headers: string[],
  target: UpstreamTarget,
  signal: AbortSource,
): Promise<GatewayResponse> {
  return new Promise<GatewayResponse>((resolve, reject) => {
    dispatchUndici(pool, req, headers, target, signal, { upstreamResponse: resolve, upstreamFailed: reject });
  });
}

/**
 * The dispatch handler of one upstream exchange. A class (undici calls its methods on it) rather than an object of
 * closures: one allocation per request instead of seven.
 *
 * It implements undici's original handler interface (onConnect / onHeaders / onData / onComplete / onError), which
 * undici's HTTP/1.1 client calls directly. A handler with the newer controller interface (onRequestStart, …) is
 * wrapped per request in an adapter plus a controller, and has its headers, and its (usually empty) trailers,
 * parsed into objects first; here the raw header buffers go straight into the gateway's flat header list.
 */
class UndiciExchange implements Dispatcher.DispatchHandler {
  #abortUpstream: ((err?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #channel: BodyChannel | undefined;
  #started = false;
  #failed = false;
  readonly #cleanup: () => void;

  constructor(
    private readonly method: string,
    private readonly target: UpstreamTarget,
    private readonly signal: AbortSource,
    private readonly receiver: UpstreamReceiver,
  ) {
    this.#cleanup = signal.onAbort(this.#onAbort);
  }

  readonly #onAbort = (): void => this.#abortUpstream?.(this.signal.reason as Error);

  onConnect(abort: (err?: Error) => void): void {
    this.#abortUpstream = abort;
    if (this.signal.aborted) abort(this.signal.reason as Error);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true;
    this.#started = true;
    this.#resume = resume;
    const headers = headersFromFlat(decodeRaw(raw), false);
    const res: GatewayResponse = { status, headers, body: null };
    const cl = headers.get('content-length');
    if (!bodyless(this.method, status, cl)) {
      // An HTTP/1.1 body with a content-length carries no trailers: its last byte ends it.
      const channel = new BodyChannel(cl !== undefined ? { highWaterMark: HIGH_WATER, length: Number(cl), completeAtLength: true } : { highWaterMark: HIGH_WATER });
      channel.onCancel = (reason) => this.#abortUpstream?.(reason as Error);
      this.#channel = channel;
      res.body = channel;
    }
    this.receiver.upstreamResponse(res);
    return true;
  }

  onData(chunk: Buffer): boolean {
    const channel = this.#channel;
    if (channel === undefined || channel.offer(chunk)) return true;
    // Full: undici stops reading the connection until resume().
    void channel.room().then(() => this.#resume?.());
    return false;
  }

  onComplete(trailers: Buffer[] | string[] | null): void {
    this.#cleanup();
    this.#channel?.end(trailers !== null && trailers.length > 0 ? headersFromFlat(decodeRaw(trailers), false) : undefined);
  }

  onError(err: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#cleanup();
    const reason = this.signal.aborted && this.signal.reason !== undefined ? this.signal.reason : err;
    const gerr = upstreamError(reason, display(this.target));
    if (!this.#started) this.receiver.upstreamFailed(gerr);
    else this.#channel?.fail(gerr);
  }
}

/**
 * undici's raw header list ([name, value, …] as Buffers) as strings: names lower-cased (well-known names come
 * interned from undici's table), values latin1, as undici's own parser and node's rawHeaders decode them.
 */
function decodeRaw(raw: ReadonlyArray<Buffer | string>): string[] {
  const flat = new Array<string>(raw.length);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const v = raw[i + 1]!;
    flat[i] = util.headerNameToString(raw[i]!);
    flat[i + 1] = typeof v === 'string' ? v : (v as Buffer & LatinSliceable).latin1Slice(0, v.length);
  }
  return flat;
}

/**
 * Node's Buffer decoder behind `toString('latin1')`, called directly: `toString` first resolves the encoding and
 * checks the bounds, about half the cost of decoding a short header value (undici itself calls `utf8Slice` so).
 */
interface LatinSliceable {
  latin1Slice(start: number, end: number): string;
}
