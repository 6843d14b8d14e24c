/**
 * HTTP/2 streams ⇄ GatewayRequest/GatewayResponse. No policy logic: convert, hand to the sink, write back.
 */
import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { RequestAbort } from '../http/abort.js';
import { readableBody } from '../http/body.js';
import type { HeaderList } from '../http/headers.js';
import { headersFromObject } from '../http/hop-by-hop.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { cancel } from './http1.js';
import { clientClosed, waitWritable, type HandledResponse, type RequestSink } from './respond.js';

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_PROTOCOL_ERROR } = http2.constants;

/** Converts a stream's request headers; `body` is null when END_STREAM came with the HEADERS frame. */
export function fromHttp2(stream: ServerHttp2Stream, h: IncomingHttpHeaders, flags: number, scheme: 'http' | 'https'): GatewayRequest {
  const method = h[':method'];
  const path = h[':path'];
  if (method === undefined || path === undefined) throw new Error('missing :method or :path');
  let trailers: HeaderList | undefined;
  const ended = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
  if (!ended) stream.once('trailers', (t: IncomingHttpHeaders) => (trailers = headersFromObject(t, false)));
  const cl = h['content-length'];
  const socket = stream.session?.socket;
  return {
    method,
    scheme,
    authority: h[':authority'] ?? (typeof h.host === 'string' ? h.host : ''),
    path,
    headers: headersFromObject(h, true),
    body: ended ? null : readableBody(stream, () => trailers, cl === undefined ? undefined : Number(cl)),
    httpVersion: '2',
    remoteAddress: socket?.remoteAddress ?? '',
    remotePort: socket?.remotePort ?? 0,
  };
}

function headObject(response: GatewayResponse): Record<string, string | string[] | number> {
  const o: Record<string, string | string[] | number> = response.headers.toObject();
  o[':status'] = response.status;
  return o;
}

/**
 * Writes head, body (with backpressure) and trailers. A body that fails after the head was sent resets
 * the stream (RST_STREAM INTERNAL_ERROR), never ends it cleanly.
 */
export async function writeHttp2(stream: ServerHttp2Stream, method: string, response: GatewayResponse): Promise<number> {
  const body = method === 'HEAD' || response.status === 204 || response.status === 304 ? null : response.body;
  if (body === null && response.body !== null) cancel(response.body);
  if (stream.destroyed) throw new Error('client closed the stream');
  if (body === null) {
    stream.respond(headObject(response), { endStream: true });
    return 0;
  }
  stream.respond(headObject(response), { waitForTrailers: true });
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (!stream.write(chunk)) await waitWritable(stream);
  }
  const trailers = body.trailers();
  await new Promise<void>((resolve, reject) => {
    let sent = false;
    stream.once('wantTrailers', () => {
      try {
        // An empty trailer set makes node end the stream with an empty END_STREAM DATA frame.
        stream.sendTrailers(trailers === undefined ? {} : trailers.toObject());
        sent = true;
        resolve();
      } catch (err) {
        reject(err);
      }
    });
    stream.once('close', () => (sent ? resolve() : reject(new Error('client closed the stream'))));
    stream.end();
  });
  return bytes;
}

/** What the writer of one stream needs (the pipeline hands it back with the response). */
interface Http2Target {
  readonly stream: ServerHttp2Stream;
  readonly abort: RequestAbort;
  method: string;
  /** The response was written or abandoned: a later 'close' is not the client leaving early. */
  finished: boolean;
}

/** Serves one HTTP/2 stream end to end. */
export function serveHttp2(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, sink: RequestSink, scheme: 'http' | 'https'): void {
  const abort = new RequestAbort();
  const target: Http2Target = { stream, abort, method: '', finished: false };
  stream.once('close', () => {
    if (!target.finished) abort.abort(clientClosed());
  });
  stream.on('error', () => undefined);
  let greq: GatewayRequest;
  try {
    greq = fromHttp2(stream, headers, flags, scheme);
  } catch {
    stream.close(NGHTTP2_PROTOCOL_ERROR);
    return;
  }
  target.method = greq.method;
  sink.handle(greq, abort, deliverHttp2, target);
}

function deliverHttp2(t: Http2Target, handled: HandledResponse): void {
  respondHttp2(t, handled).catch(() => t.stream.destroy());
}

async function respondHttp2(t: Http2Target, handled: HandledResponse): Promise<void> {
  const stream = t.stream;
  let bytes = 0;
  try {
    bytes = await writeHttp2(stream, t.method, handled.response);
  } catch (err) {
    t.finished = true;
    // Release whatever still produces the body (the upstream request, an ext_proc stream).
    t.abort.abort(err);
    if (!stream.headersSent && !stream.destroyed) {
      // The head itself was refused (e.g. an invalid header value): the client still gets an answer.
      stream.respond({ ':status': 502, 'content-type': 'text/plain; charset=utf-8' });
      stream.end('invalid response from upstream\n');
    } else if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
    handled.done(err, bytes);
    return;
  }
  t.finished = true;
  handled.done(undefined, bytes);
}
