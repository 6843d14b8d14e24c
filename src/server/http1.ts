/**
 * HTTP/1.1 ⇄ GatewayRequest/GatewayResponse. No policy logic: convert (http1-request.ts), hand to the sink, write
 * back.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayError } from '../errors.js';
import { RequestAbort } from '../http/abort.js';
import { BodyChannel, type ChannelSink } from '../http/body.js';
import type { HeaderList } from '../http/headers.js';
import type { Body, GatewayRequest } from '../http/message.js';
import { fromHttp1, refusalOf } from './http1-request.js';
import { dropRestOfUpload, lingerOnClose } from './linger.js';
import type { Rejection } from './rejected.js';
import { clientClosed, waitWritable, type HandledResponse, type RequestSink } from './respond.js';

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
  /** A request refused before it became an exchange (rejected.ts). */
  rejected(socket: Socket, r: Rejection): void;
}

const kActive = Symbol('tollgate.active');

/**
 * One request's response with what its writer needs, so the pipeline delivers to it without a closure. Its own
 * object rather than properties added to node's ServerResponse, whose hidden class would then change per request
 * in node's own code.
 */
class Http1Exchange {
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly abort: RequestAbort,
    readonly hooks: Http1Hooks,
    /** `req.socket` at arrival: node detaches `res.socket` once the response finished. */
    readonly socket: WatchedSocket,
    readonly method: string,
  ) {}
}

/** A connection with the exchanges still running on it (more than one when the client pipelines). */
interface WatchedSocket extends Socket {
  [kActive]?: Http1Exchange[];
}

/**
 * Watches the connection rather than the response: when the client goes away, every exchange still running on it
 * is aborted. A response's own 'close' does not do for that: node never emits it for a pipelined request whose
 * response is still queued behind an earlier one, so that exchange (an SSE stream, say) would run on unseen.
 */
function watch(x: Http1Exchange, socket: WatchedSocket): void {
  let active = socket[kActive];
  if (active === undefined) {
    active = socket[kActive] = [];
    socket.once('close', onSocketClose);
  }
  active.push(x);
}

function onSocketClose(this: WatchedSocket): void {
  const active = this[kActive];
  if (active === undefined || active.length === 0) return;
  this[kActive] = [];
  for (const x of active) x.abort.abort(clientClosed());
}

/** The exchange `x` ended: off the connection's list, the socket released, the exchange told. */
function ended(x: Http1Exchange, h: HandledResponse, err: unknown, bytes: number, status?: number): void {
  const socket = x.socket;
  const active = socket[kActive];
  const i = active === undefined ? -1 : active.indexOf(x);
  if (i >= 0) {
    // Almost always the only (or last) one: pop, which allocates nothing, where splice returns a new array.
    if (i === active!.length - 1) active!.pop();
    else active!.splice(i, 1);
    x.hooks.released(socket);
  }
  h.done(err, bytes, status);
  // The response is over and the upload is not: whatever still forwards it (an upstream that answered early and
  // stopped reading) is released, and the rest is read and dropped; on a connection that stays open, that lets the
  // client finish its upload and send its next request. The exchange is logged already: no log or metric changes.
  if (!x.req.complete && uploadUnfinished(x.req)) {
    x.abort.abort(new Error('the response ended before the upload'));
    if (x.res.shouldKeepAlive) dropRestOfUpload(x.req, socket, false);
  }
}

/** Serves one HTTP/1.1 request end to end. */
export function serveHttp1(req: IncomingMessage, res: ServerResponse, sink: RequestSink, scheme: 'http' | 'https', hooks: Http1Hooks): void {
  const abort = new RequestAbort();
  const socket = req.socket as WatchedSocket;
  let greq: GatewayRequest;
  try {
    greq = fromHttp1(req, scheme);
  } catch (err) {
    const { status, reason } = refusalOf(err);
    // A head tollgate refuses says nothing good of what may follow it on the connection.
    res.shouldKeepAlive = false;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${reason}\n`);
    hooks.rejected(socket, { status, reason, method: req.method, path: req.url });
    hooks.released(socket);
    return;
  }
  const x = new Http1Exchange(req, res, abort, hooks, socket, greq.method);
  watch(x, socket);
  sink.handle(greq, abort, deliverHttp1, x);
}

/**
 * Writes a handled response: head, body (with backpressure) and trailers (chunked only). A body that fails after
 * the head was sent destroys the socket, so the client sees a broken message rather than a clean, truncated one.
 * A body from a BodyChannel (the upstream's) is written as it arrives, in the producer's turn; others are iterated.
 */
function deliverHttp1(x: Http1Exchange, h: HandledResponse): void {
  const res = x.res;
  try {
    const response = h.response;
    // Draining; or an error answered before the client finished its upload (a 413 over maxBufferSize, a processor's
    // denial): the rest of that upload is never forwarded, so the connection cannot carry another request. Say so,
    // and linger when closing it, so that the client gets to read the answer.
    if (response.status >= 400 && uploadUnfinished(x.req)) {
      res.shouldKeepAlive = false;
      lingerOnClose(x.req, x.socket);
    } else if (x.hooks.draining()) res.shouldKeepAlive = false;
    const body = noBody(x.method, response.status) ? null : response.body;
    if (body === null && response.body !== null) cancel(response.body);
    // RFC 9110 8.6: a 204 (or 1xx) carries no content-length; a 304's and a HEAD's describe the body they omit.
    if (body === null && (response.status === 204 || response.status < 200)) response.headers.delete('content-length');
    if (body instanceof BodyChannel) {
      const cl = response.headers.get('content-length');
      // The head's declared length, when the body is known to be complete at it (see Http1Sink.write).
      const endAt = cl !== undefined && body.completeAtLength && body.length === Number(cl) ? body.length! : -1;
      const sink = new Http1Sink(x, h, body, cl === undefined, endAt);
      body.pipeTo(sink);
      // The sink writes the head with the first chunk, which on the plain path follows in the same parse (or the
      // channel already held it). A head still waiting when that parse is over goes out on its own, as the upstream
      // sent it (an SSE stream's head before its first event, a long poll), once the I/O of this poll was handled:
      // a first chunk that arrived in the same poll still shares the head's write (checkPendingHeads).
      if (sink.headPending && pendingHeads.push(sink) === 1) void RESOLVED.then(checkPendingHeads);
      return;
    }
    // writeHead copies the pairs out at once, so the list's own array will do.
    res.writeHead(response.status, response.headers.flatView() as string[]);
    if (body === null) {
      res.end();
      ended(x, h, undefined, 0);
    } else {
      writeIterated(x, h, body, !response.headers.has('content-length')).catch(() => res.destroy());
    }
  } catch (err) {
    writeFailed(x, h, err, 0);
  }
}

/**
 * The write failed: release the body's producer; answer with an error if no head was written yet (the head was
 * refused, or the body failed before its first byte), else break the message.
 */
function writeFailed(x: Http1Exchange, h: HandledResponse, err: unknown, bytes: number): void {
  const res = x.res;
  // Release whatever still produces the body (the upstream request, an ext_proc stream).
  x.abort.abort(err);
  if (!res.headersSent && !res.destroyed) {
    // The client still gets an answer: the body's failure (an upstream that broke off before its first byte), or
    // 502 for a head node refused (e.g. an invalid header value).
    const g = err instanceof GatewayError && err.status >= 500 ? err : undefined;
    const status = g?.status ?? 502;
    res.shouldKeepAlive = false;
    if (uploadUnfinished(x.req)) lingerOnClose(x.req, x.socket);
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${g?.message ?? 'invalid response from upstream'}\n`);
    ended(x, h, err, 0, status);
    return;
  }
  res.destroy();
  ended(x, h, err, bytes);
}

/** Adds the body's trailers (a chunked response only: with content-length there is nowhere to put them) and ends. */
function finish(res: ServerResponse, trailers: HeaderList | undefined, chunked: boolean): void {
  if (trailers !== undefined && trailers.size > 0 && chunked) res.addTrailers(trailers.entries());
  res.end();
}

async function writeIterated(x: Http1Exchange, h: HandledResponse, body: Body, chunked: boolean): Promise<void> {
  const res = x.res;
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      if (!res.write(chunk)) await waitWritable(res);
    }
    finish(res, body.trailers(), chunked);
  } catch (err) {
    writeFailed(x, h, err, bytes);
    return;
  }
  ended(x, h, undefined, bytes);
}

/**
 * Sinks whose head waited for a first chunk at the end of the turn that delivered it. Checked in one microtask (a
 * static function: no closure per request): on the plain path the first chunk arrives in the same parse as the
 * head, so the check finds nothing to do, and only a head still waiting then gets an immediate of its own.
 */
const pendingHeads: Http1Sink[] = [];
/**
 * Its `then` queues the check as a plain V8 microtask. node's `queueMicrotask` makes an AsyncResource and a bound
 * function per call, several times the cost of the check itself.
 */
const RESOLVED = Promise.resolve();

function checkPendingHeads(): void {
  // setImmediate only queues: nothing can push here while this runs.
  for (const sink of pendingHeads) if (sink.headPending) setImmediate(flushHead, sink);
  pendingHeads.length = 0;
}

function flushHead(sink: Http1Sink): void {
  sink.flushHead();
}

/** Writes a BodyChannel's chunks as they arrive; a full socket pauses the channel until 'drain'. */
class Http1Sink implements ChannelSink {
  #bytes = 0;
  #over = false;
  #onDrain: (() => void) | undefined;
  /**
   * The response head is written with the first chunk (or the end), in one write, or on its own at the end of the
   * turn it arrived in (`flushHead`). Until then a body that fails can still be answered with an error status.
   */
  headPending = true;

  constructor(
    private readonly x: Http1Exchange,
    private readonly h: HandledResponse,
    private readonly channel: BodyChannel,
    private readonly chunked: boolean,
    /** The content-length the head declared, when the channel is complete at that length (else -1). */
    private readonly endAt: number,
  ) {}

  /** Writes the head now, unless a chunk or the end did. */
  flushHead(): void {
    if (!this.headPending || this.#over) return;
    try {
      this.#head();
      this.x.res.flushHeaders();
    } catch (err) {
      this.#fail(err);
    }
  }

  #head(): void {
    this.headPending = false;
    const response = this.h.response;
    // writeHead copies the pairs out at once, so the list's own array will do.
    this.x.res.writeHead(response.status, response.headers.flatView() as string[]);
  }

  write(chunk: Buffer): boolean {
    if (this.#over) return true;
    const res = this.x.res;
    if (this.headPending) {
      try {
        this.#head();
      } catch (err) {
        this.#fail(err);
        return true;
      }
    }
    this.#bytes += chunk.length;
    if (this.#bytes === this.endAt) {
      // The last byte the head declared, of a body that is complete there (an HTTP/1.1 upstream's with a
      // content-length): the response ends with this chunk. One `end(chunk)` writes head and body at once, where
      // `write` then `end` corks the socket and uncorks it a tick later. The channel's own end (and a failure of
      // the upstream connection after its last byte) then finds the sink done.
      try {
        res.end(chunk);
      } catch (err) {
        this.#fail(err);
        return true;
      }
      this.#over = true;
      ended(this.x, this.h, undefined, this.#bytes);
      return true;
    }
    if (res.write(chunk)) return true;
    this.#wait();
    return false;
  }

  end(trailers: HeaderList | undefined): void {
    if (this.#over) return;
    try {
      if (this.headPending) this.#head();
      finish(this.x.res, trailers, this.chunked);
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.#over = true;
    ended(this.x, this.h, undefined, this.#bytes);
  }

  error(err: unknown): void {
    this.#fail(err);
  }

  /** Waits for 'drain', or 'close' when the client goes away first (it must never wait on a dead peer). */
  #wait(): void {
    const res = this.x.res;
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
    writeFailed(this.x, this.h, err, this.#bytes);
  }
}
