/**
 * One `ExternalProcessor/Process` call on a raw node:http2 stream: gRPC request headers, length-prefixed framing
 * both ways, status from trailers (or trailers-only headers), and the mapping of every way a stream can end onto
 * exactly one `StreamEnd`. Raw http2 instead of @grpc/grpc-js: see docs/ext-proc-transport.md (measured cheaper).
 */
import http2 from 'node:http2';
import type { OpenOptions, ProcessorStream, StreamEnd, StreamHandlers } from './transport.js';
import type { ProcessingRequest, ProcessingResponse } from './messages.js';
import { encodeFramedRequest } from './request-encoder.js';
import { checkResponseHeaders, FrameDecoder, readGrpcStatus, type GrpcStatus } from './grpc-framing.js';
import type { H2Connection } from './h2-session.js';
import { callMetadata, PROCESS_PATH, USER_AGENT } from './call-metadata.js';
import { DETACHED, decodeReply, deliverReply, reportEnd, statusEnd } from './call-common.js';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** Names for RST_STREAM codes in messages (RFC 9113 §7). */
const RST_NAMES = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];


/** Per-call limits. */
export interface CallLimits {
  readonly maxReceiveBytes: number;
  /** For messages: the target as the user wrote it. */
  readonly display: string;
}

/** A Process call. Construct through `H2ProcessorClient.open`. */
export class H2Call implements ProcessorStream {
  #handlers: StreamHandlers;
  readonly #limits: CallLimits;
  readonly #conn: H2Connection;
  readonly #decoder: FrameDecoder;
  #stream: http2.ClientHttp2Stream | undefined;
  #ended = false;
  #sendClosed = false;
  #counted = false;
  #ready = false;
  #status: GrpcStatus | undefined;
  #problem: string | undefined;
  #error: string | undefined;
  #paused = false;
  /** Replies decoded while paused (a DATA chunk can hold several); delivered on `resume()`. */
  #held: ProcessingResponse[] = [];
  /** The call ended while replies were still held: report it once they were delivered. */
  #settleHeld = false;

  constructor(conn: H2Connection, handlers: StreamHandlers, limits: CallLimits, options: OpenOptions = {}) {
    this.#conn = conn;
    this.#handlers = handlers;
    this.#limits = limits;
    this.#decoder = new FrameDecoder(limits.maxReceiveBytes);
    const got = conn.acquire();
    if (!got.ok) {
      this.#endLater({ kind: 'connect', message: got.message });
      return;
    }
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': PROCESS_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': USER_AGENT,
    };
    for (const [k, v] of callMetadata(options)) headers[k] = v;
    try {
      this.#stream = got.session.request(headers, { endStream: false });
    } catch (err) {
      // Invalid metadata (e.g. a CR in a value) or a session that closed under us: report, never throw.
      this.#endLater({ kind: 'connect', message: `cannot open a stream to processor ${limits.display}: ${(err as Error).message}` });
      return;
    }
    conn.streamStarted();
    this.#counted = true;
    // On a connected session node assigns the stream id inside request() and emits 'ready' before we can listen.
    this.#ready = !this.#stream.pending;
    this.#wire(this.#stream);
  }

  /** Encodes and writes one message; false means wait for `drained()`. */
  send(msg: ProcessingRequest): boolean {
    const s = this.#stream;
    if (!s || this.#ended || this.#sendClosed || s.destroyed) return true;
    let frame: Buffer;
    try {
      frame = encodeFramedRequest(msg);
    } catch (err) {
      this.#abort(`failed to encode a ProcessingRequest: ${(err as Error).message}`);
      return true;
    }
    return s.write(frame);
  }

  /** Resolves once the stream can take more, or immediately when it is over (so callers never wait forever). */
  drained(): Promise<void> {
    const s = this.#stream;
    if (!s || this.#ended || s.destroyed || !s.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      s.on('drain', done);
      s.on('close', done);
    });
  }

  /** Half-closes our side. */
  closeSend(): void {
    if (this.#sendClosed) return;
    this.#sendClosed = true;
    const s = this.#stream;
    if (s && !s.destroyed && !this.#ended) s.end();
  }

  /** Sends RST_STREAM(CANCEL) and reports `cancelled` at once, unless the call already ended. */
  cancel(): void {
    if (this.#ended) return;
    this.#rst(NGHTTP2_CANCEL);
    this.#finish({ kind: 'cancelled' });
  }

  /**
   * Stops delivering replies and stops reading the stream: node then stops consuming the stream's HTTP/2
   * window, so the processor is held back after at most one window (1 MiB) instead of filling our memory.
   */
  pause(): void {
    if (this.#paused || this.#ended) return;
    this.#paused = true;
    const s = this.#stream;
    if (s && !s.destroyed) s.pause();
  }

  /** Delivers the replies held while paused, then reads the stream again. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    while (this.#held.length > 0 && !this.#paused && !this.#ended) this.#deliver(this.#held.shift()!);
    if (this.#paused || this.#ended) return; // a held reply paused us again, or ended the call
    if (this.#settleHeld) {
      this.#settleHeld = false;
      this.#settle();
      return;
    }
    const s = this.#stream;
    if (s && !s.destroyed) s.resume();
  }

  #wire(s: http2.ClientHttp2Stream): void {
    s.on('ready', () => { this.#ready = true; });
    s.on('response', (h) => {
      this.#conn.sawTraffic();
      this.#onResponse(h);
    });
    s.on('data', (chunk: Buffer) => {
      this.#conn.sawTraffic();
      this.#onData(chunk);
    });
    s.on('trailers', (h) => {
      this.#status ??= readGrpcStatus(h);
    });
    s.on('end', () => {
      if (this.#status || this.#problem) this.#settle();
    });
    s.on('error', (err: Error) => {
      this.#error ??= err.message;
    });
    s.on('close', () => {
      if (this.#counted) {
        this.#counted = false;
        this.#conn.streamEnded();
      }
      this.#settle();
    });
  }

  #onResponse(h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void {
    const trailersOnly = readGrpcStatus(h);
    // A trailers-only error from a real gRPC server may omit content-type; a 200 with grpc-status is still gRPC.
    if (trailersOnly && String(h[':status']) === '200') {
      this.#status = trailersOnly;
      return;
    }
    const problem = checkResponseHeaders(h);
    if (problem) this.#abort(problem);
  }

  #onData(chunk: Buffer): void {
    if (this.#ended || this.#problem) return;
    const r = this.#decoder.push(chunk);
    for (const bytes of r.messages) {
      if (this.#ended || this.#problem) return;
      const msg = decodeReply(bytes);
      if (typeof msg === 'string') return this.#abort(msg);
      // pause() can come from inside onMessage (the session's backlog went over its mark): hold the rest.
      if (this.#paused) this.#held.push(msg);
      else this.#deliver(msg);
    }
    if (r.error) this.#abort(r.error);
  }

  #deliver(msg: ProcessingResponse): void {
    const problem = deliverReply(this.#handlers, msg);
    if (problem !== undefined) this.#abort(problem);
  }

  /** Records a fatal problem, resets the stream, and ends the call as `reset`. */
  #abort(problem: string): void {
    if (this.#ended || this.#problem) return;
    this.#problem = problem;
    this.#rst(NGHTTP2_CANCEL);
    this.#settle();
  }

  #rst(code: number): void {
    const s = this.#stream;
    if (s && !s.destroyed && !s.closed) {
      try {
        s.close(code);
      } catch { /* already closing */ }
    }
  }

  /** Maps what we observed onto one StreamEnd. */
  #settle(): void {
    if (this.#ended) return;
    if (this.#held.length > 0 && !this.#problem) {
      // Every reply goes out before the end; a broken call (problem) drops what it held.
      this.#settleHeld = true;
      return;
    }
    const s = this.#stream;
    const who = `processor ${this.#limits.display}`;
    let end: StreamEnd;
    if (this.#problem) end = { kind: 'reset', message: this.#problem };
    else if (this.#status) end = statusEnd(this.#status, this.#decoder.pendingBytes, who); else if (!this.#ready) {
      if (s && !s.closed && !s.destroyed) return; // still connecting
      end = { kind: 'connect', message: `cannot connect to ${who}: ${this.#error ?? 'connection closed'}` };
    } else if (s?.rstCode === NGHTTP2_REFUSED_STREAM) {
      // The processor never saw this stream (e.g. GOAWAY raced with it): nothing was processed.
      end = { kind: 'connect', message: `the ${who} refused the stream (REFUSED_STREAM)` };
    } else if (s && s.rstCode !== undefined && s.rstCode !== NGHTTP2_NO_ERROR) {
      end = { kind: 'reset', message: `the ${who} reset the stream (${RST_NAMES[s.rstCode] ?? s.rstCode})${this.#error ? `: ${this.#error}` : ''}` };
    } else if (s && !s.closed && !s.destroyed) {
      return; // the body ended without trailers; 'close' decides
    } else {
      end = { kind: 'reset', message: `the ${who} closed the stream without a gRPC status${this.#error ? `: ${this.#error}` : ''}` };
    }
    // The processor is done: half-close instead of RST_STREAM. Servers count resets (HTTP/2 rapid-reset defence)
    // and node's closes a connection with GOAWAY(INTERNAL_ERROR) after about a thousand of them.
    if (s && !s.closed && !s.destroyed && !this.#problem && !s.writableEnded) s.end();
    this.#finish(end);
  }

  #endLater(end: StreamEnd): void {
    // Deliver after open() returned, so the caller holds the stream object before its onEnd runs.
    queueMicrotask(() => this.#finish(end));
  }

  #finish(end: StreamEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    // The HTTP/2 stream (and its listeners, which hold this call) can outlive the call by a while inside node;
    // let go of the session's handlers so a finished exchange is not kept alive, and promoted, with it.
    const handlers = this.#handlers;
    this.#handlers = DETACHED;
    reportEnd(handlers, end);
  }
}
