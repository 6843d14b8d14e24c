/**
 * HTTP/2 upstream exchange over a pooled node:http2 session: request body streamed with backpressure,
 * request trailers via `waitForTrailers`, response trailers from the 'trailers' event.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { readableBody } from '../http/body.js';
import type { HeaderList } from '../http/headers.js';
import { headersFromObject } from '../http/hop-by-hop.js';
import type { Body, GatewayRequest, GatewayResponse } from '../http/message.js';
import { waitWritable } from '../server/respond.js';
import { upstreamBody, upstreamError } from './errors.js';
import { bodyless } from './forward-undici.js';

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = http2.constants;

/**
 * Streams `body` into the upstream stream, then sends its trailers (or an empty END_STREAM). The 'wantTrailers'
 * listener is there from the start: when a stream opened with `waitForTrailers` is closed mid-body (an abort),
 * node ends its writable side first, and with no listener it would send END_STREAM before the RST_STREAM, so
 * the upstream would take the cut body for a whole one. Until the body is complete the listener sends nothing.
 */
async function pump(stream: ClientHttp2Stream, body: Body): Promise<void> {
  let complete = false;
  stream.on('wantTrailers', () => {
    if (!complete) return; // cut off: the RST_STREAM that follows ends the stream, never an END_STREAM
    const trailers = body.trailers();
    try {
      stream.sendTrailers(trailers === undefined ? {} : trailers.toObject());
    } catch {
      stream.close(NGHTTP2_CANCEL);
    }
  });
  for await (const chunk of body) {
    if (stream.destroyed) return;
    if (!stream.write(chunk)) await waitWritable(stream);
  }
  complete = true;
  stream.end();
}

/** Sends `req` on `session`; resolves at the final response headers, the body streams afterwards. */
export function forwardH2(
  session: ClientHttp2Session,
  req: GatewayRequest,
  headers: HeaderList,
  upstreamScheme: 'http' | 'https',
  upstream: string,
  signal: AbortSignal,
): Promise<GatewayResponse> {
  return new Promise<GatewayResponse>((resolve, reject) => {
    const head: Record<string, string | string[]> = headers.toObject();
    head[':method'] = req.method;
    head[':path'] = req.path;
    head[':scheme'] = upstreamScheme;
    head[':authority'] = req.authority;
    delete head['host'];
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(head, { endStream: req.body === null, waitForTrailers: req.body !== null });
    } catch (err) {
      reject(upstreamError(err, upstream));
      return;
    }
    let responded = false;
    let streamError: unknown;
    const onAbort = (): void => {
      streamError = signal.reason;
      if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    stream.on('error', (err) => {
      streamError ??= err;
    });
    stream.once('close', () => {
      signal.removeEventListener('abort', onAbort);
      if (!responded) {
        const reason = streamError ?? new Error(`stream closed before response headers (code ${stream.rstCode ?? 0})`);
        reject(upstreamError(reason, upstream));
      }
    });
    if (req.body !== null) {
      pump(stream, req.body).catch((err: unknown) => {
        streamError ??= err;
        if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
      });
    }
    let trailers: HeaderList | undefined;
    stream.once('response', (h: IncomingHttpHeaders, flags: number) => {
      responded = true;
      const status = Number(h[':status']);
      const res: GatewayResponse = { status, headers: headersFromObject(h, false), body: null };
      const ended = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
      if (!ended && !bodyless(req.method, status, h['content-length'])) {
        stream.once('trailers', (t: IncomingHttpHeaders) => (trailers = headersFromObject(t, false)));
        const cl = h['content-length'];
        const inner = readableBody(stream, () => trailers, cl === undefined ? undefined : Number(cl));
        res.body = upstreamBody(
          inner,
          upstream,
          () => {
            // A reset with a non-error code after partial data must not look like a clean end.
            if (stream.rstCode !== undefined && stream.rstCode !== 0 && trailers === undefined) {
              throw upstreamError(new Error(`stream reset (code ${stream.rstCode})`), upstream);
            }
          },
          (err) => streamError ?? err,
        );
      } else if (!ended) {
        stream.resume();
      }
      resolve(res);
    });
  });
}
