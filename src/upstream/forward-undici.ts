/**
 * HTTP/1.1 upstream exchange over an undici Pool with a raw `dispatch()` handler (the cheapest undici
 * path, reference node-performance B1). Response data is pushed into a bounded BodyChannel; when it is
 * full the connection is paused (controller.pause) until the client side drains it.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { BodyChannel } from '../http/body.js';
import { headersFromObject } from '../http/hop-by-hop.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import type { AbortSource } from '../http/abort.js';
import { display, type UpstreamTarget } from './dispatchers.js';
import { upstreamError } from './errors.js';

const HIGH_WATER = 64 * 1024;

type RawHeaders = Record<string, string | string[] | undefined>;

/** True when `o` has an own enumerable key (without building the key array `Object.keys` would). */
function hasAny(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

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
    exchange.onResponseError(undefined, err as Error);
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
 */
class UndiciExchange implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | undefined;
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

  readonly #onAbort = (): void => this.#controller?.abort(this.signal.reason as Error);

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.#controller = c;
    if (this.signal.aborted) c.abort(this.signal.reason as Error);
  }

  onResponseStart(c: Dispatcher.DispatchController, status: number, raw: Record<string, string | string[] | undefined>): void {
    if (status < 200) return;
    this.#started = true;
    const h = raw as RawHeaders;
    const res: GatewayResponse = { status, headers: headersFromObject(h, false), body: null };
    if (!bodyless(this.method, status, h['content-length'])) {
      const cl = h['content-length'];
      const channel = new BodyChannel(typeof cl === 'string' ? { highWaterMark: HIGH_WATER, length: Number(cl) } : { highWaterMark: HIGH_WATER });
      channel.onCancel = (reason) => c.abort(reason as Error);
      this.#channel = channel;
      res.body = channel;
    }
    this.receiver.upstreamResponse(res);
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    const channel = this.#channel;
    if (channel === undefined) return;
    if (!channel.offer(chunk)) {
      c.pause();
      void channel.room().then(() => c.resume());
    }
  }

  onResponseEnd(_c: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    this.#cleanup();
    const t = trailers as RawHeaders | null | undefined;
    this.#channel?.end(t !== null && t !== undefined && hasAny(t) ? headersFromObject(t, false) : undefined);
  }

  onResponseError(_c: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#cleanup();
    const reason = this.signal.aborted && this.signal.reason !== undefined ? this.signal.reason : err;
    const gerr = upstreamError(reason, display(this.target));
    if (!this.#started) this.receiver.upstreamFailed(gerr);
    else this.#channel?.fail(gerr);
  }
}
