/**
 * HTTP/1.1 ⇄ GatewayRequest/GatewayResponse. No policy logic: convert, hand to the sink, write back.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { RequestAbort } from '../http/abort.js';
import { readableBody } from '../http/body.js';
import { headersFromRaw } from '../http/hop-by-hop.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { clientClosed, waitWritable, type HandledResponse, type RequestSink } from './respond.js';

/** Converts a node request; `body` is null when the message has neither content-length > 0 nor chunked. */
export function fromHttp1(req: IncomingMessage, scheme: 'http' | 'https'): GatewayRequest {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  const length = cl === undefined ? undefined : Number(cl);
  const hasBody = te !== undefined || (length !== undefined && length > 0);
  return {
    method: req.method ?? 'GET',
    scheme,
    authority: req.headers.host ?? '',
    path: req.url ?? '/',
    headers: headersFromRaw(req.rawHeaders),
    body: hasBody
      ? readableBody(req, () => (req.rawTrailers.length > 0 ? headersFromRaw(req.rawTrailers) : undefined), length)
      : null,
    httpVersion: '1.1',
    remoteAddress: req.socket.remoteAddress ?? '',
    remotePort: req.socket.remotePort ?? 0,
  };
}

function noBody(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * Writes head, body (with backpressure) and trailers (chunked only). A body that fails after the head was
 * sent destroys the socket, so the client sees a broken message rather than a clean, truncated one.
 */
export async function writeHttp1(res: ServerResponse, method: string, response: GatewayResponse): Promise<number> {
  const body = noBody(method, response.status) ? null : response.body;
  if (body === null && response.body !== null) cancel(response.body);
  res.writeHead(response.status, response.headers.toFlat());
  if (body === null) {
    res.end();
    return 0;
  }
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (!res.write(chunk)) await waitWritable(res);
  }
  const trailers = body.trailers();
  if (trailers !== undefined && trailers.size > 0 && !response.headers.has('content-length')) {
    res.addTrailers(trailers.entries());
  }
  res.end();
  return bytes;
}

/** Stops a body nobody will read, so its producer (e.g. the upstream) is released. */
export function cancel(body: AsyncIterable<Buffer>): void {
  const it = body[Symbol.asyncIterator]();
  void it.return?.().catch(() => undefined);
}

/** Per-server callbacks (made once per server, so a request allocates no closures for them). */
export interface Http1Hooks {
  /** True while the server drains (responses then close their connection). */
  draining(): boolean;
  /** Called once when the response closed (finished or not). */
  released(socket: Socket): void;
}

const kAbort = Symbol('tollgate.abort');
const kHooks = Symbol('tollgate.hooks');
const kSocket = Symbol('tollgate.socket');

/** A response with what its 'close' listener needs, so that listener is one shared function, not a closure. */
interface TrackedResponse extends ServerResponse {
  [kAbort]: RequestAbort;
  [kHooks]: Http1Hooks;
  [kSocket]: Socket;
}

/** A response closed (finished or not): abort the exchange when the client left early, and release the socket. */
function onResponseClose(this: TrackedResponse): void {
  if (!this.writableFinished) this[kAbort].abort(clientClosed());
  this[kHooks].released(this[kSocket]);
}

/** Serves one HTTP/1.1 request end to end. */
export function serveHttp1(req: IncomingMessage, res: ServerResponse, sink: RequestSink, scheme: 'http' | 'https', hooks: Http1Hooks): void {
  const abort = new RequestAbort();
  const tracked = res as TrackedResponse;
  tracked[kAbort] = abort;
  tracked[kHooks] = hooks;
  // `req.socket` now: node clears `res.socket` before 'close' is emitted.
  tracked[kSocket] = req.socket;
  // 'close' is emitted once per response.
  res.on('close', onResponseClose);
  let greq: GatewayRequest;
  try {
    greq = fromHttp1(req, scheme);
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('bad request\n');
    return;
  }
  respond(res, greq, sink.handle(greq, abort), abort, hooks).catch(() => res.destroy());
}

async function respond(res: ServerResponse, greq: GatewayRequest, handled: Promise<HandledResponse>, abort: RequestAbort, hooks: Http1Hooks): Promise<void> {
  const h = await handled;
  if (hooks.draining()) res.shouldKeepAlive = false;
  let bytes = 0;
  try {
    bytes = await writeHttp1(res, greq.method, h.response);
  } catch (err) {
    // Release whatever still produces the body (the upstream request, an ext_proc stream).
    abort.abort(err);
    if (!res.headersSent && !res.destroyed) {
      // The head itself was refused (e.g. an invalid header value): the client still gets an answer.
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end('invalid response from upstream\n');
    } else res.destroy();
    h.done(err, bytes);
    return;
  }
  h.done(undefined, bytes);
}
