/**
 * HTTP/1.1 ⇄ GatewayRequest/GatewayResponse. No policy logic: convert, hand to the sink, write back.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayError } from '../errors.js';
import { RequestAbort } from '../http/abort.js';
import { BodyChannel, readableBody, type ChannelSink } from '../http/body.js';
import type { HeaderList } from '../http/headers.js';
import { headersFromRaw } from '../http/hop-by-hop.js';
import type { Body, GatewayRequest } from '../http/message.js';
import { clientClosed, waitWritable, type HandledResponse, type RequestSink } from './respond.js';

/** Converts a node request; `body` is null when the message has neither content-length > 0 nor chunked. */
export function fromHttp1(req: IncomingMessage, scheme: 'http' | 'https'): GatewayRequest {
  const te = req.headers['transfer-encoding'];
  // node's parser takes any list that ends in chunked; a coding before it would reach the upstream undone.
  if (te !== undefined && te !== 'chunked' && te.trim().toLowerCase() !== 'chunked') {
    throw new GatewayError('bad_request', `transfer-encoding "${te}" is not supported (only chunked)`, { status: 501 });
  }
  const cl = req.headers['content-length'];
  const length = cl === undefined ? undefined : Number(cl);
  const hasBody = te !== undefined || (length !== undefined && length > 0);
  const peer = peerOf(req.socket);
  // RFC 9112 3.2: more than one Host is a 400 (node keeps the first one; a server behind may read another).
  if (hostCount(req.rawHeaders) > 1) throw new GatewayError('bad_request', 'more than one Host header');
  const headers = headersFromRaw(req.rawHeaders);
  let path = req.url ?? '/';
  let authority = req.headers.host ?? '';
  if (path.charCodeAt(0) !== 0x2f) {
    // RFC 9112 3.2.2: absolute-form (a proxy-style request) names the host in the target, and that wins over Host.
    // Routing, processors and the upstream all see origin-form, as Envoy and agentgateway convert it.
    const target = absoluteForm(path);
    path = target.path;
    authority = target.authority;
  }
  return {
    method: req.method ?? 'GET',
    scheme,
    authority,
    path,
    headers,
    body: hasBody
      ? readableBody(req, () => (req.rawTrailers.length > 0 ? headersFromRaw(req.rawTrailers) : undefined), length)
      : null,
    httpVersion: '1.1',
    remoteAddress: peer.address,
    remotePort: peer.port,
  };
}

function hostCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) n++;
  }
  return n;
}

/** `http(s)://authority/path?query` split into its authority and origin-form path, without normalizing the path. */
function absoluteForm(target: string): { authority: string; path: string } {
  const m = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(target);
  const authority = m?.[1] ?? '';
  if (m === null || authority === '' || authority.includes('@')) {
    throw new GatewayError('bad_request', `request target must be a path or an http(s) URL with a host, got ${JSON.stringify(target.slice(0, 64))}`);
  }
  const rest = m[2]!;
  return { authority, path: rest === '' ? '/' : rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest };
}

const kPeer = Symbol('tollgate.peer');

/** The client's address and port, read once per connection (node's getters go through `getpeername` bookkeeping). */
function peerOf(socket: Socket & { [kPeer]?: { address: string; port: number } }): { address: string; port: number } {
  let peer = socket[kPeer];
  if (peer === undefined) {
    const address = socket.remoteAddress;
    // Unknown while the socket is closing: not kept, so a later request on it is not stuck with the blank.
    if (address === undefined) return { address: '', port: socket.remotePort ?? 0 };
    socket[kPeer] = peer = { address, port: socket.remotePort ?? 0 };
  }
  return peer;
}

function noBody(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * The request has a body the client is still sending. (A request without one is not `complete` yet either when the
 * gateway answers in the request's own turn.)
 */
function uploadUnfinished(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

/** Stops a body nobody will read, so its producer (e.g. the upstream) is released. */
export function cancel(body: AsyncIterable<Buffer>): void {
  // A channel's producer is told directly (returning a generator that never started would skip its `finally`).
  if (body instanceof BodyChannel) {
    body.cancel(new Error('response body not sent'));
    return;
  }
  const it = body[Symbol.asyncIterator]();
  void it.return?.().catch(() => undefined);
}

/** Per-server callbacks (made once per server, so a request allocates no closures for them). */
export interface Http1Hooks {
  /** True while the server drains (responses then close their connection). */
  draining(): boolean;
  /** Called once when the exchange on this socket ended (its response written or abandoned), unless the socket closed first. */
  released(socket: Socket): void;
}

const kAbort = Symbol('tollgate.abort');
const kHooks = Symbol('tollgate.hooks');
const kSocket = Symbol('tollgate.socket');
const kMethod = Symbol('tollgate.method');
const kActive = Symbol('tollgate.active');

/** A response with what its writer needs, so the pipeline delivers to it without a closure. */
interface TrackedResponse extends ServerResponse {
  [kAbort]: RequestAbort;
  [kHooks]: Http1Hooks;
  [kSocket]: WatchedSocket;
  [kMethod]: string;
}

/** A connection with the exchanges still running on it (more than one when the client pipelines). */
interface WatchedSocket extends Socket {
  [kActive]?: TrackedResponse[];
}

/**
 * Watches the connection rather than the response: when the client goes away, every exchange still running on it
 * is aborted. A response's own 'close' does not do for that: node never emits it for a pipelined request whose
 * response is still queued behind an earlier one, so that exchange (an SSE stream, say) would run on unseen.
 */
function watch(res: TrackedResponse, socket: WatchedSocket): void {
  let active = socket[kActive];
  if (active === undefined) {
    active = socket[kActive] = [];
    socket.once('close', onSocketClose);
  }
  active.push(res);
}

function onSocketClose(this: WatchedSocket): void {
  const active = this[kActive];
  if (active === undefined || active.length === 0) return;
  this[kActive] = [];
  for (const res of active) res[kAbort].abort(clientClosed());
}

/** The exchange on `res` ended: off the connection's list, the socket released, the exchange told. */
function ended(res: TrackedResponse, h: HandledResponse, err: unknown, bytes: number): void {
  const socket = res[kSocket];
  const active = socket[kActive];
  const i = active === undefined ? -1 : active.indexOf(res);
  if (i >= 0) {
    // Almost always the only (or last) one: pop, which allocates nothing, where splice returns a new array.
    if (i === active!.length - 1) active!.pop();
    else active!.splice(i, 1);
    res[kHooks].released(socket);
  }
  h.done(err, bytes);
}

/** Serves one HTTP/1.1 request end to end. */
export function serveHttp1(req: IncomingMessage, res: ServerResponse, sink: RequestSink, scheme: 'http' | 'https', hooks: Http1Hooks): void {
  const abort = new RequestAbort();
  const tracked = res as TrackedResponse;
  const socket = req.socket as WatchedSocket;
  tracked[kAbort] = abort;
  tracked[kHooks] = hooks;
  // `req.socket` now: node detaches `res.socket` once the response finished.
  tracked[kSocket] = socket;
  tracked[kMethod] = req.method ?? 'GET';
  let greq: GatewayRequest;
  try {
    greq = fromHttp1(req, scheme);
  } catch (err) {
    const g = err instanceof GatewayError ? err : undefined;
    res.writeHead(g?.status ?? 400, { 'content-type': 'text/plain; charset=utf-8' }).end(`${g?.message ?? 'bad request'}\n`);
    hooks.released(socket);
    return;
  }
  watch(tracked, socket);
  sink.handle(greq, abort, deliverHttp1, tracked);
}

/**
 * Writes a handled response: head, body (with backpressure) and trailers (chunked only). A body that fails after
 * the head was sent destroys the socket, so the client sees a broken message rather than a clean, truncated one.
 * A body from a BodyChannel (the upstream's) is written as it arrives, in the producer's turn; others are iterated.
 */
function deliverHttp1(res: TrackedResponse, h: HandledResponse): void {
  try {
    const response = h.response;
    // Draining; or an error answered before the client finished its upload (a 413 over maxBufferSize, a processor's
    // denial): the rest of that upload is never read, so the connection cannot carry another request. Say so.
    if (res[kHooks].draining() || (response.status >= 400 && uploadUnfinished(res.req))) res.shouldKeepAlive = false;
    const body = noBody(res[kMethod], response.status) ? null : response.body;
    if (body === null && response.body !== null) cancel(response.body);
    // RFC 9110 8.6: a 204 (or 1xx) carries no content-length; a 304's and a HEAD's describe the body they omit.
    if (body === null && (response.status === 204 || response.status < 200)) response.headers.delete('content-length');
    // writeHead copies the pairs out at once, so the list's own array will do.
    res.writeHead(response.status, response.headers.flatView() as string[]);
    if (body === null) {
      res.end();
      ended(res, h, undefined, 0);
    } else if (body instanceof BodyChannel) {
      const cl = response.headers.get('content-length');
      // The head's declared length, when the body is known to be complete at it (see Http1Sink.write).
      const endAt = cl !== undefined && body.completeAtLength && body.length === Number(cl) ? body.length! : -1;
      body.pipeTo(new Http1Sink(res, h, body, cl === undefined, endAt));
    } else {
      writeIterated(res, h, body, !response.headers.has('content-length')).catch(() => res.destroy());
    }
  } catch (err) {
    writeFailed(res, h, err, 0);
  }
}

/** The write failed: release the body's producer, answer 502 if the head was refused, else break the message. */
function writeFailed(res: TrackedResponse, h: HandledResponse, err: unknown, bytes: number): void {
  // Release whatever still produces the body (the upstream request, an ext_proc stream).
  res[kAbort].abort(err);
  if (!res.headersSent && !res.destroyed) {
    // The head itself was refused (e.g. an invalid header value): the client still gets an answer.
    res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end('invalid response from upstream\n');
  } else res.destroy();
  ended(res, h, err, bytes);
}

/** Adds the body's trailers (a chunked response only: with content-length there is nowhere to put them) and ends. */
function finish(res: TrackedResponse, trailers: HeaderList | undefined, chunked: boolean): void {
  if (trailers !== undefined && trailers.size > 0 && chunked) res.addTrailers(trailers.entries());
  res.end();
}

async function writeIterated(res: TrackedResponse, h: HandledResponse, body: Body, chunked: boolean): Promise<void> {
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      if (!res.write(chunk)) await waitWritable(res);
    }
    finish(res, body.trailers(), chunked);
  } catch (err) {
    writeFailed(res, h, err, bytes);
    return;
  }
  ended(res, h, undefined, bytes);
}

/** Writes a BodyChannel's chunks as they arrive; a full socket pauses the channel until 'drain'. */
class Http1Sink implements ChannelSink {
  #bytes = 0;
  #over = false;
  #onDrain: (() => void) | undefined;

  constructor(
    private readonly res: TrackedResponse,
    private readonly h: HandledResponse,
    private readonly channel: BodyChannel,
    private readonly chunked: boolean,
    /** The content-length the head declared, when the channel is complete at that length (else -1). */
    private readonly endAt: number,
  ) {}

  write(chunk: Buffer): boolean {
    if (this.#over) return true;
    this.#bytes += chunk.length;
    if (this.#bytes === this.endAt) {
      // The last byte the head declared, of a body that is complete there (an HTTP/1.1 upstream's with a
      // content-length): the response ends with this chunk. One `end(chunk)` writes head and body at once, where
      // `write` then `end` corks the socket and uncorks it a tick later. The channel's own end (and a failure of
      // the upstream connection after its last byte) then finds the sink done.
      try {
        this.res.end(chunk);
      } catch (err) {
        this.#fail(err);
        return true;
      }
      this.#over = true;
      ended(this.res, this.h, undefined, this.#bytes);
      return true;
    }
    if (this.res.write(chunk)) return true;
    this.#wait();
    return false;
  }

  end(trailers: HeaderList | undefined): void {
    if (this.#over) return;
    try {
      finish(this.res, trailers, this.chunked);
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.#over = true;
    ended(this.res, this.h, undefined, this.#bytes);
  }

  error(err: unknown): void {
    this.#fail(err);
  }

  /** Waits for 'drain', or 'close' when the client goes away first (it must never wait on a dead peer). */
  #wait(): void {
    const res = this.res;
    if (res.destroyed) {
      // 'close' may already have fired; fail outside the channel's delivery loop.
      queueMicrotask(() => this.#fail(new Error('client closed the connection')));
      return;
    }
    const onDrain = (this.#onDrain ??= () => {
      res.removeListener('drain', onDrain);
      res.removeListener('close', onDrain);
      if (res.destroyed) this.#fail(new Error('client closed the connection'));
      else this.channel.resume();
    });
    res.once('drain', onDrain);
    res.once('close', onDrain);
  }

  #fail(err: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.channel.cancel(err);
    writeFailed(this.res, this.h, err, this.#bytes);
  }
}
