/**
 * Sends a GatewayRequest to one upstream and returns the response at its headers; bodies stream both ways.
 * Transport choice: HTTP/2 (node:http2 session pool) for gRPC and for HTTP/2 clients when the pipeline asks
 * for it; node:http for chunked HTTP/1.1 uploads (they may end with trailers); undici `dispatch` otherwise.
 */
import { GatewayError } from '../errors.js';
import { signalSource, type AbortSource } from '../http/abort.js';
import type { HeaderList } from '../http/headers.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { display, NotHttp2Error, type UpstreamTarget, type Upstreams } from './dispatchers.js';
import { upstreamError } from './errors.js';
import { forwardH2 } from './forward-h2.js';
import { forwardNodeHttp1 } from './forward-node-h1.js';
import { forwardUpgrade } from './forward-upgrade.js';
import { dispatchUndici, forwardUndici, type UpstreamReceiver } from './forward-undici.js';

/** Longest wait for response headers when no backendRequestTimeout is set (undici's default). */
const DEFAULT_HEADERS_TIMEOUT_MS = 300_000;

/** How to forward one request. */
export interface ForwardOptions {
  readonly target: UpstreamTarget;
  /** Use HTTP/2 to the upstream (h2c prior knowledge on plaintext). */
  readonly http2: boolean;
  /** When the upstream turns out not to speak HTTP/2, use HTTP/1.1 instead of failing (not for gRPC). */
  readonly http1Fallback: boolean;
  /** Time allowed until response headers (backendRequestTimeout); undefined = transport defaults. */
  readonly timeoutMs: number | undefined;
  /** Aborted on client abort or request timeout; its reason becomes the error. */
  readonly abort: AbortSource & { readonly signal: AbortSignal };
}

/** Flat header list for HTTP/1.1 upstreams: `host` first (the client's authority, as agentgateway keeps it). */
function h1Headers(req: GatewayRequest, target: UpstreamTarget): string[] {
  // node's server already answered `Expect: 100-continue`; undici refuses to send it on.
  return req.headers.flatInto(['host', req.authority === '' ? display(target) : req.authority], 'expect');
}

/** The request's headers for the node:http paths: a copy with `host` set (the client's authority) and no `expect`. */
function nodeH1Headers(req: GatewayRequest, name: string): HeaderList {
  const headers = req.headers.clone();
  // node's server already answered `Expect: 100-continue`.
  headers.delete('expect');
  headers.set('host', req.authority === '' ? name : req.authority);
  return headers;
}

/**
 * Forwards `req`; `receiver` gets the response head, or a GatewayError (upstream_connect / upstream_reset /
 * upstream_timeout). The common case (HTTP/1.1, known length, no backendRequestTimeout) goes straight to undici:
 * no timer, no AbortSignal, no promise, and the receiver is called in undici's own callback.
 */
export function forwardTo(ups: Upstreams, req: GatewayRequest, opts: ForwardOptions, receiver: UpstreamReceiver): void {
  const t = opts.target;
  const chunkedUpload = req.body !== null && req.body.length === undefined && t.scheme === 'http';
  if (opts.timeoutMs === undefined && !opts.http2 && !chunkedUpload && req.upgrade === undefined) {
    if (opts.abort.aborted) receiver.upstreamFailed(upstreamError(opts.abort.reason, display(t)));
    else dispatchUndici(ups.pool(t), req, h1Headers(req, t), t, opts.abort, receiver);
    return;
  }
  forwardWithDeadline(ups, req, opts, chunkedUpload).then(
    (res) => receiver.upstreamResponse(res),
    (err: unknown) => receiver.upstreamFailed(err),
  );
}

/** `forwardTo` as a promise of the response head. */
export function forward(ups: Upstreams, req: GatewayRequest, opts: ForwardOptions): Promise<GatewayResponse> {
  return new Promise((resolve, reject) => forwardTo(ups, req, opts, { upstreamResponse: resolve, upstreamFailed: reject }));
}

async function forwardWithDeadline(ups: Upstreams, req: GatewayRequest, opts: ForwardOptions, chunkedUpload: boolean): Promise<GatewayResponse> {
  const name = display(opts.target);
  let signal = opts.abort.signal;
  let timer: NodeJS.Timeout | undefined;
  // undici bounds the wait for response headers itself (300 s); the node:http and node:http2 paths get the
  // same bound here, so an upstream that accepts and never answers cannot hang a request forever.
  const timeoutMs = opts.timeoutMs ?? (opts.http2 || chunkedUpload || req.upgrade !== undefined ? DEFAULT_HEADERS_TIMEOUT_MS : undefined);
  if (timeoutMs !== undefined) {
    const ac = new AbortController();
    const parent = signal;
    if (parent.aborted) ac.abort(parent.reason);
    else parent.addEventListener('abort', () => ac.abort(parent.reason), { once: true });
    const ms = timeoutMs;
    timer = setTimeout(
      () => ac.abort(new GatewayError('upstream_timeout', `upstream timeout: no response within ${ms}ms from ${name}`)),
      ms,
    );
    signal = ac.signal;
  }
  try {
    if (signal.aborted) throw upstreamError(signal.reason, name);
    // An upgrade is HTTP/1.1's (HTTP/2 has none): its own connection, over node:http.
    if (req.upgrade !== undefined) return await forwardUpgrade(opts.target, req, nodeH1Headers(req, name), name, signal);
    if (opts.http2 && !(opts.http1Fallback && ups.knownHttp1Only(opts.target))) {
      const session = await ups.h2Session(opts.target).catch((err: unknown) => {
        if (err instanceof NotHttp2Error && opts.http1Fallback) return undefined;
        throw err;
      });
      if (session !== undefined) {
        if (req.authority === '') req.authority = name;
        return await forwardH2(session, req, req.headers, opts.target.scheme, name, signal);
      }
    }
    // A body of unknown length (chunked HTTP/1.1, or HTTP/2 without content-length) may end with trailers
    // (announcing them in `Trailer` is optional, and that header is hop-by-hop anyway), so it takes the
    // node:http path, which can send them.
    if (chunkedUpload) return await forwardNodeHttp1(ups.h1Agent, opts.target, req, nodeH1Headers(req, name), name, signal);
    return await forwardUndici(ups.pool(opts.target), req, h1Headers(req, opts.target), opts.target, signalSource(signal));
  } catch (err) {
    if (err instanceof NotHttp2Error) throw new GatewayError('upstream_reset', `upstream reset: ${err.message}`, { cause: err });
    throw upstreamError(err, name);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
