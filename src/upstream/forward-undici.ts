/**
 * HTTP/1.1 upstream exchange over an undici Pool with a raw `dispatch()` handler (the cheapest undici
 * path, reference node-performance B1). Response data is pushed into a bounded BodyChannel; when it is
 * full the connection is paused (controller.pause) until the client side drains it.
 */
import diagnostics from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { util, type Dispatcher } from 'undici';
import { BodyChannel } from '../http/body.js';
import { headersFromFlat } from '../http/hop-by-hop.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import type { AbortSource } from '../http/abort.js';
import { display, type UpstreamTarget } from './dispatchers.js';
import { upstreamError } from './errors.js';

const HIGH_WATER = 64 * 1024;

/**
 * Set while an upstream connection's 'error' or 'end' listeners run, when that connection was reset; else undefined.
 *
 * A response with neither content-length nor chunked encoding ends when the connection does: a FIN completes it,
 * a reset (RST) cuts it off, and a cut body must not reach the client as a clean end (SPEC: nothing is silently
 * truncated). Neither undici nor node tells the handler which one it was:
 * - undici 7 (client-h1.js `onHttpSocketError`) finishes such a body on ECONNRESET exactly as on a FIN ("On Mac OS,
 *   we get an ECONNRESET even if there is a full body"): `parser.finish()` calls `onComplete`, never `onError`.
 * - libuv reports a reset that arrives in the same poll as the body's last bytes as EOF (`uv__stream_io`: POLLHUP
 *   after a partial read), so node emits 'end', not 'error', and undici completes the body from `onHttpSocketEnd`.
 *   The socket is then CLOSED, not CLOSE_WAIT as after a FIN, so `getpeername` fails (ENOTCONN) where after a FIN
 *   it succeeds; node shuts the write side down in its own 'end' listener, after which a FIN looks closed too, so
 *   the check runs before it.
 * undici calls `onComplete` synchronously inside its 'error' / 'end' listener. So each upstream connection gets a
 * listener just before node's and undici's that notes a reset, and one after them that clears it: an `onComplete`
 * that runs while this is set was caused by the connection being reset. Content-length and chunked bodies
 * complete from parsed bytes, outside those listeners, so only close-delimited ones can see it. Per connection
 * (undici's public `undici:client:connected` channel, published after undici added its listeners); nothing per
 * request.
 */
let resetWith: Error | undefined;

function noteError(err: Error): void {
  resetWith = err;
  // The listener after undici's clears it; this also does if any listener in between threw, so no later request
  // can ever see a stale reset.
  queueMicrotask(clearReset);
}

interface PeerHandle {
  getpeername?(out: object): number;
}

function noteEnd(this: Socket): void {
  const handle = (this as unknown as { _handle?: PeerHandle | null })._handle;
  if (typeof handle?.getpeername !== 'function' || handle.getpeername({}) === 0) return;
  resetWith = Object.assign(new Error('read ECONNRESET (reset after the last bytes)'), { code: 'ECONNRESET' });
  queueMicrotask(clearReset);
}

function clearReset(): void {
  resetWith = undefined;
}

diagnostics.subscribe('undici:client:connected', (message) => {
  const socket = (message as { socket?: Socket }).socket;
  if (socket === undefined || typeof socket.prependListener !== 'function') return;
  socket.prependListener('error', noteError);
  socket.on('error', clearReset);
  socket.prependListener('end', noteEnd);
  socket.on('end', clearReset);
});

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
    // A close-delimited body that the connection's reset, not its FIN, ended (see `resetWith`).
    if (resetWith !== undefined) {
      this.onError(resetWith);
      return;
    }
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
