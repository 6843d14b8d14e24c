/**
 * HTTP/2 streams ⇄ GatewayRequest/GatewayResponse. No policy logic: convert, hand to the sink, write back.
 */
import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { RequestAbort } from '../http/abort.js';
import { nonEmpty } from '../http/body.js';
import type { HeaderList } from '../http/headers.js';
import { headersFromObject } from '../http/hop-by-hop.js';
import type { Body, GatewayRequest, GatewayResponse } from '../http/message.js';
import { cancel } from './http1.js';
import { clientClosed, waitWritable, type HandledResponse, type RequestSink } from './respond.js';

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_PROTOCOL_ERROR } = http2.constants;

/** Streams whose unfinished upload the gateway stopped (RST_STREAM NO_ERROR after a complete response). */
const cutUploads = new WeakSet<ServerHttp2Stream>();
/** Streams whose request body a consumer is waiting on right now (it asked for the next chunk). */
const pulledUploads = new WeakSet<ServerHttp2Stream>();

function uploadCut(): Error {
  return new Error('request body cut off: the response was complete before the client finished sending it');
}

/**
 * The request body of a stream. Unlike iterating the stream itself, a consumer that stops early (a body over
 * maxBufferSize, an ext_proc 413) does not destroy it: that would reset the stream with CANCEL before the error
 * response goes out on it. The writer ends the request side once the response is complete (`endRequestSide`);
 * node then ends the readable side as if the body were complete, so a consumer still reading it gets an error
 * instead: a cut body must never reach an upstream as a whole one.
 */
function streamBody(stream: ServerHttp2Stream, getTrailers: () => HeaderList | undefined, length: number | undefined): Body & { bytesRead: number } {
  const body = {
    length,
    bytesRead: 0,
    trailers: nonEmpty(getTrailers),
    async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
      pulledUploads.add(stream);
      try {
        for await (const c of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer | string>) {
          const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c);
          body.bytesRead += chunk.length;
          pulledUploads.delete(stream);
          yield chunk;
          pulledUploads.add(stream);
        }
      } finally {
        pulledUploads.delete(stream);
      }
      if (cutUploads.has(stream)) throw uploadCut();
    },
  };
  return body;
}

/** Converts a stream's request headers; `body` is null when END_STREAM came with the HEADERS frame. */
export function fromHttp2(stream: ServerHttp2Stream, h: IncomingHttpHeaders, flags: number, scheme: 'http' | 'https'): GatewayRequest {
  const method = h[':method'];
  const path = h[':path'];
  if (method === undefined || path === undefined) throw new Error('missing :method or :path');
  // RFC 9113 8.3.1: :path is origin-form here (a URL in it would be matched literally by routing: a path rule
  // could be bypassed, as with HTTP/1.1's absolute form). Anything else is a malformed request.
  if (path.charCodeAt(0) !== 0x2f) throw new Error(':path must start with /');
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
    body: ended ? null : streamBody(stream, () => trailers, cl === undefined ? undefined : Number(cl)),
    httpVersion: '2',
    remoteAddress: socket?.remoteAddress ?? '',
    remotePort: socket?.remotePort ?? 0,
  };
}

function headObject(response: GatewayResponse): Record<string, string | string[] | number> {
  const o: Record<string, string | string[] | number> = response.headers.toObject();
  const status = response.status;
  // A 204 (or 1xx) has no content, and a 304's content-length describes a body it never carries: an HTTP/2 client
  // checks content-length against the DATA it gets, and rejects a non-zero one with no DATA (PROTOCOL_ERROR).
  if (status === 204 || status === 304 || status < 200) delete o['content-length'];
  o[':status'] = status;
  return o;
}

/** Bytes of a response body handed to the stream so far, also when the write fails part way (access log). */
export interface WriteProgress {
  bytes: number;
}

/**
 * Writes head, body (with backpressure) and trailers. A body that fails after the head was sent resets
 * the stream (RST_STREAM INTERNAL_ERROR), never ends it cleanly. `progress.bytes` counts the body bytes written.
 */
export async function writeHttp2(stream: ServerHttp2Stream, method: string, response: GatewayResponse, progress: WriteProgress = { bytes: 0 }): Promise<number> {
  const body = method === 'HEAD' || response.status === 204 || response.status === 304 ? null : response.body;
  if (body === null && response.body !== null) cancel(response.body);
  if (stream.destroyed) throw new Error('client closed the stream');
  if (body === null) {
    stream.respond(headObject(response), { endStream: true });
    return 0;
  }
  stream.respond(headObject(response), { waitForTrailers: true });
  for await (const chunk of body) {
    progress.bytes += chunk.length;
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
  return progress.bytes;
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
  const progress: WriteProgress = { bytes: 0 };
  try {
    await writeHttp2(stream, t.method, handled.response, progress);
  } catch (err) {
    t.finished = true;
    // Release whatever still produces the body (the upstream request, an ext_proc stream).
    t.abort.abort(err);
    if (!stream.headersSent && !stream.destroyed) {
      // The head itself was refused (e.g. an invalid header value): the client still gets an answer.
      stream.respond({ ':status': 502, 'content-type': 'text/plain; charset=utf-8' });
      stream.end('invalid response from upstream\n');
      endRequestSide(t);
    } else if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
    handled.done(err, progress.bytes);
    return;
  }
  t.finished = true;
  endRequestSide(t);
  handled.done(undefined, progress.bytes);
}

/**
 * The response is complete (ended, or its END_STREAM queued) but the client may still be sending a body that
 * nothing will read (the gateway answered early: a 413, an ext_proc immediate response, an upstream that
 * replied before reading it all). Left alone, the stream would stay open with its upload stalled on flow
 * control. RFC 9113 §8.1: after a complete response, RST_STREAM(NO_ERROR) asks the client to stop sending.
 * A client that already ended its side needs nothing: the stream closes by itself.
 */
function endRequestSide(t: Http2Target): void {
  const stream = t.stream;
  if (stream.endAfterHeaders || stream.readableEnded || stream.destroyed) return;
  // Not now: this may run inside node's nghttp2 callbacks (the 'wantTrailers' handler and its microtasks, a PING
  // ACK), where a reset fails ("Stream was already closed or invalid"). And after a PING round trip when it can:
  // its ACK says the client has read what came before, the response included (curl 7.x fails a transfer whose
  // RST_STREAM arrives in the same read as the response). Either way node flushes the frames still pending (the
  // END_STREAM) before it sends the RST_STREAM, so the response is complete on the wire first.
  if (!pingThen(stream.session, () => setImmediate(resetUnfinishedUpload, t))) setImmediate(resetUnfinishedUpload, t);
}

/** Sends a PING and calls `then` on its ACK (or failure); false when no PING could be sent. */
function pingThen(session: http2.Http2Session | undefined, then: () => void): boolean {
  if (session === undefined || session.destroyed) return false;
  try {
    return session.ping(then);
  } catch {
    return false;
  }
}

function resetUnfinishedUpload(t: Http2Target): void {
  const stream = t.stream;
  if (stream.destroyed || stream.closed || stream.state.remoteClose === 1) return;
  // A consumer waiting for the next chunk still forwards the body (an upstream that answered early and reads on):
  // the upload is not stalled, so it is left to finish rather than cut, which the upstream could take for a whole
  // body (node's close(code) on an upstream stream ends it cleanly before the reset).
  if (pulledUploads.has(stream)) return;
  cutUploads.add(stream);
  stream.close(NGHTTP2_NO_ERROR);
  // Whatever still holds the body (an upstream that answered early and stopped reading) is released: its request
  // is aborted rather than left waiting. The exchange is already over, so this changes no log or metric.
  t.abort.abort(uploadCut());
  // node destroys a closed stream (and so lets its session close) only once its readable side was read to the
  // end, and the unread rest of the upload is nobody's now: drop it.
  const discard = (): void => {
    while (stream.read() !== null);
  };
  stream.on('readable', discard);
  discard();
}
