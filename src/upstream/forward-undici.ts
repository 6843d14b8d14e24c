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

/** True when a response to `method` with this status/headers can carry no body. */
export function bodyless(method: string, status: number, contentLength: string | string[] | undefined): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || contentLength === '0';
}

/** Sends `req` through `pool`; resolves at response headers, the body streams afterwards. */
export function forwardUndici(
  pool: Dispatcher,
  req: GatewayRequest,
  headers: string[],
  target: UpstreamTarget,
  signal: AbortSource,
): Promise<GatewayResponse> {
  return new Promise<GatewayResponse>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let channel: BodyChannel | undefined;
    let started = false;
    const cleanup = signal.onAbort(() => controller?.abort(signal.reason as Error));
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (signal.aborted) c.abort(signal.reason as Error);
      },
      onResponseStart(c, status, raw) {
        if (status < 200) return;
        started = true;
        const h = raw as RawHeaders;
        const res: GatewayResponse = { status, headers: headersFromObject(h, false), body: null };
        if (!bodyless(req.method, status, h['content-length'])) {
          const cl = h['content-length'];
          channel = new BodyChannel(typeof cl === 'string' ? { highWaterMark: HIGH_WATER, length: Number(cl) } : { highWaterMark: HIGH_WATER });
          channel.onCancel = (reason) => c.abort(reason as Error);
          res.body = channel;
        }
        resolve(res);
      },
      onResponseData(c, chunk) {
        if (channel === undefined) return;
        const room = channel.push(chunk);
        if (channel.buffered >= HIGH_WATER) {
          c.pause();
          void room.then(() => c.resume());
        }
      },
      onResponseEnd(_c, trailers) {
        cleanup();
        const t = trailers as RawHeaders | null | undefined;
        channel?.end(t !== null && t !== undefined && Object.keys(t).length > 0 ? headersFromObject(t, false) : undefined);
      },
      onResponseError(_c, err) {
        cleanup();
        const reason = signal.aborted && signal.reason !== undefined ? signal.reason : err;
        const gerr = upstreamError(reason, display(target));
        if (!started) reject(gerr);
        else channel?.fail(gerr);
      },
    };
    pool.dispatch(
      {
        path: req.path,
        method: req.method,
        headers,
        // undici accepts any AsyncIterable body (streamed, chunked when no content-length); its types don't say so.
        body: req.body as unknown as Readable | null,
      },
      handler,
    );
  });
}
