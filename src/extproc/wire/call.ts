/**
 * One `ExternalProcessor/Process` call on our own HTTP/2 framing (WireConnection): length-prefixed gRPC messages
 * both ways, the status from trailers (or trailers-only headers), pause/resume through HTTP/2 flow control, and
 * the mapping of every way a stream can end onto exactly one `StreamEnd` — the same contract, and the same
 * messages, as the node:http2 transport's H2Call.
 */
import type { OpenOptions, ProcessorStream, StreamEnd, StreamHandlers } from '../transport.js';
import type { ProcessingRequest, ProcessingResponse } from '../messages.js';
import { encodeFramedRequest } from '../request-encoder.js';
import { checkResponseHeaders, FrameDecoder, readGrpcStatus, type GrpcStatus } from '../grpc-framing.js';
import { callMetadata } from '../call-metadata.js';
import { DETACHED, decodeReply, deliverReply, reportEnd, statusEnd } from '../call-common.js';
import { ErrorCode } from './frames.js';
import { encodeLiteral } from './hpack.js';
import type { HeaderMap, StreamLoss, StreamSink, WireConnection, WireStream } from './connection.js';
import type { WireLink } from './link.js';


/** Per-call limits and the constant part of the request's header block. */
export interface WireCallConfig {
  readonly maxReceiveBytes: number;
  /** For messages: the target as the user wrote it. */
  readonly display: string;
  /**
   * The HPACK-encoded request headers every call sends (method, path, authority, content-type, te, user-agent);
   * undefined when the target's host cannot be written in a header (every call then ends `connect`).
   */
  readonly headerBlock: Buffer | undefined;
}

/** A Process call. Construct through `WireProcessorClient.open`. */
export class WireCall implements ProcessorStream, StreamSink {
  #handlers: StreamHandlers;
  readonly #config: WireCallConfig;
  readonly #link: WireLink;
  readonly #decoder: FrameDecoder;
  #conn: WireConnection | undefined;
  #stream: WireStream | undefined;
  #ended = false;
  #counted = false;
  #gotHeaders = false;
  #remoteEnded = false;
  #status: GrpcStatus | undefined;
  #problem: string | undefined;
  #loss: StreamEnd | undefined;
  #paused = false;
  /** Replies decoded while paused (one DATA frame can hold several); delivered on `resume()`. */
  #held: ProcessingResponse[] = [];
  /** DATA received while paused, not yet decoded (its window is given back only once it is). */
  #raw: Buffer[] = [];
  #lateCheck = false;
  #pumping = false;

  constructor(link: WireLink, handlers: StreamHandlers, config: WireCallConfig, options?: OpenOptions) {
    this.#link = link;
    this.#handlers = handlers;
    this.#config = config;
    this.#decoder = new FrameDecoder(config.maxReceiveBytes);
    if (config.headerBlock === undefined) {
      this.#endLater({ kind: 'connect', message: `cannot connect to processor ${config.display}: its host name cannot be sent in an HTTP/2 :authority header` });
      return;
    }
    const got = link.acquire();
    if (!got.ok) {
      this.#endLater({ kind: 'connect', message: got.message });
      return;
    }
    const md = callMetadata(options);
    let block = config.headerBlock;
    if (md.length > 0) block = Buffer.concat([block, ...md.map(([k, v]) => encodeLiteral(k, v))]);
    this.#conn = got.conn;
    this.#stream = got.conn.open(this, block);
    link.streamStarted(got.conn);
    this.#counted = true;
  }

  // ---- ProcessorStream ----

  /** Encodes and writes one message; false means wait for `drained()`. */
  send(msg: ProcessingRequest): boolean {
    const s = this.#stream;
    if (!s || this.#ended) return true;
    let framed: Buffer;
    try {
      framed = encodeFramedRequest(msg);
    } catch (err) {
      this.#abort(`failed to encode a ProcessingRequest: ${(err as Error).message}`);
      return true;
    }
    return this.#conn!.write(s, framed);
  }

  /** Resolves once the stream can take more, or immediately when it is over (so callers never wait forever). */
  drained(): Promise<void> {
    const s = this.#stream;
    if (!s || this.#ended) return Promise.resolve();
    return this.#conn!.drained(s);
  }

  /** Half-closes our side. */
  closeSend(): void {
    const s = this.#stream;
    if (s && !this.#ended) this.#conn!.end(s);
  }

  /** Sends RST_STREAM(CANCEL) and reports `cancelled` at once, unless the call already ended. */
  cancel(): void {
    if (this.#ended) return;
    if (this.#stream) this.#conn!.reset(this.#stream, ErrorCode.Cancel);
    this.#finish({ kind: 'cancelled' });
  }

  /** Stops delivering replies and stops giving the stream's window back, so the processor is held after one window. */
  pause(): void {
    if (!this.#ended) this.#paused = true;
  }

  /** Delivers what was held while paused, then reads on. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#pump();
  }

  /**
   * Delivers held replies, then held DATA, in order, until paused again. Not re-entrant: a handler that pauses and
   * resumes inside `onMessage` leaves the delivery to the loop already running, so no reply is skipped or reordered.
   */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#paused && !this.#ended) {
        if (this.#held.length > 0) this.#deliver(this.#held.shift()!);
        else if (this.#raw.length > 0) this.#decode(this.#raw.shift()!);
        else break;
      }
    } finally {
      this.#pumping = false;
    }
    if (!this.#paused && !this.#ended && (this.#remoteEnded || this.#loss)) this.#settle();
  }

  // ---- StreamSink ----

  onHeaders(h: HeaderMap, endStream: boolean): void {
    if (this.#ended) return;
    if (!this.#gotHeaders) {
      this.#gotHeaders = true;
      const trailersOnly = readGrpcStatus(h);
      // A trailers-only error from a real gRPC server may omit content-type; a 200 with grpc-status is still gRPC.
      if (trailersOnly && h[':status'] === '200') this.#status = trailersOnly;
      else {
        const problem = checkResponseHeaders(h);
        if (problem) return this.#abort(problem);
      }
    } else {
      this.#status ??= readGrpcStatus(h);
    }
    if (endStream) {
      this.#remoteEnded = true;
      this.#settle();
    }
  }

  onData(payload: Buffer, endStream: boolean): void {
    if (this.#ended || this.#problem) return;
    // Held DATA is copied: the payload is a view of a whole socket read, which it would otherwise keep alive.
    if (this.#paused || this.#pumping || this.#raw.length > 0 || this.#held.length > 0) this.#raw.push(Buffer.from(payload));
    else this.#decode(payload);
    if (endStream) {
      this.#remoteEnded = true;
      this.#settle();
    }
  }

  onLost(loss: StreamLoss): void {
    if (this.#ended) return;
    const who = `processor ${this.#config.display}`;
    switch (loss.kind) {
      case 'unconnected': this.#loss = { kind: 'connect', message: `cannot connect to ${who}: ${loss.message}` }; break;
      case 'refused': this.#loss = { kind: 'connect', message: `the ${who} refused the stream (${loss.message})` }; break;
      case 'reset': this.#loss = { kind: 'reset', message: `the ${who} reset the stream (${loss.message})` }; break;
      case 'lost': this.#loss = { kind: 'reset', message: `the ${who} closed the stream without a gRPC status: ${loss.message}` }; break;
      case 'closed': this.#loss = { kind: 'connect', message: `the client for ${who} is closed` }; break;
      case 'protocol': this.#loss = { kind: 'reset', message: `the ${who} ${loss.message}` }; break;
    }
    this.#stream = undefined; // the connection has forgotten it
    this.#settle();
  }

  // ---- internals ----

  #decode(chunk: Buffer): void {
    const r = this.#decoder.push(chunk);
    for (const bytes of r.messages) {
      if (this.#ended || this.#problem) return;
      const msg = decodeReply(bytes);
      if (typeof msg === 'string') return this.#abort(msg);
      // pause() can come from inside onMessage (the session's backlog went over its mark): hold the rest.
      if (this.#paused) this.#held.push(msg);
      else this.#deliver(msg);
    }
    if (r.error) return this.#abort(r.error);
    if (this.#stream && !this.#ended) this.#conn!.consumed(this.#stream, chunk.length);
  }

  #deliver(msg: ProcessingResponse): void {
    const problem = deliverReply(this.#handlers, msg);
    if (problem !== undefined) this.#abort(problem);
  }

  /** Records a fatal problem, resets the stream, and ends the call as `reset`. */
  #abort(problem: string): void {
    if (this.#ended || this.#problem) return;
    this.#problem = problem;
    if (this.#stream) this.#conn!.reset(this.#stream, ErrorCode.Cancel);
    this.#stream = undefined;
    this.#settle();
  }

  /** Maps what we observed onto one StreamEnd, once every reply was delivered. */
  #settle(): void {
    if (this.#ended) return;
    // Replies still held go out first (resume() settles then); a paused call with nothing held ends at once.
    if (!this.#problem && (this.#held.length > 0 || this.#raw.length > 0 || this.#pumping)) return;
    const who = `processor ${this.#config.display}`;
    let end: StreamEnd;
    if (this.#problem) end = { kind: 'reset', message: this.#problem };
    else if (this.#status) end = statusEnd(this.#status, this.#decoder.pendingBytes, who); else if (this.#loss) end = this.#loss;
    else if (this.#remoteEnded) {
      // No status: a RST_STREAM often follows in the same read, and names the cause better; give it a turn.
      if (!this.#lateCheck) {
        this.#lateCheck = true;
        setImmediate(() => this.#settle());
        return;
      }
      end = { kind: 'reset', message: `the ${who} closed the stream without a gRPC status` };
    } else return;
    // The processor is done: half-close instead of RST_STREAM. Servers count resets (HTTP/2 rapid-reset defence)
    // and node's closes a connection with GOAWAY(INTERNAL_ERROR) after about a thousand of them.
    if (this.#stream) this.#conn!.endNow(this.#stream);
    this.#finish(end);
  }

  #endLater(end: StreamEnd): void {
    // Deliver after open() returned, so the caller holds the stream object before its onEnd runs.
    queueMicrotask(() => this.#finish(end));
  }

  #finish(end: StreamEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#held = [];
    this.#raw = [];
    if (this.#counted) {
      this.#counted = false;
      this.#link.streamEnded();
    }
    // Let go of the session's handlers so a finished exchange is not kept alive by anything still holding the call.
    const handlers = this.#handlers;
    this.#handlers = DETACHED;
    reportEnd(handlers, end);
  }
}
