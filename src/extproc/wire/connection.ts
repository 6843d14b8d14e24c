/**
 * One client HTTP/2 connection on a socket we own: the connection preface, SETTINGS, PING, GOAWAY, RST_STREAM,
 * both directions of flow control, HPACK-decoded HEADERS/CONTINUATION, and odd stream ids in order.
 *
 * It is the part of HTTP/2 a gRPC client needs and nothing else (no server push, no priorities, no dynamic-table
 * encoding). Doing this ourselves instead of through node:http2 removes the per-stream Duplex, AsyncResource and
 * header-object machinery that dominated the ext_proc path's CPU (docs/ext-proc-transport.md has the numbers).
 *
 * Writes made during one tick go out in one `writev` (the socket is corked until the next tick).
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  DEFAULT_MAX_FRAME, DEFAULT_WINDOW, ErrorCode, Flag, FrameReader, FrameType, MAX_WINDOW, PREFACE, Setting, errorName,
  frame, goaway, parseGoaway, parseSettings, rstStream, settings, streamIdProblem, unpad, windowUpdate, writeFrameHeader,
  type Frame,
} from './frames.js';
import { HeaderBlocks, type BlockResult } from './header-block.js';
import { CONNECTION_WINDOW, FLOOD_BYTES, MAX_HEADER_LIST, SOCKET_HIGH_WATER, STREAM_HIGH_WATER, STREAM_WINDOW } from './limits.js';
import { Pings, pingAck } from './pings.js';
import { SendFlow } from './send.js';
import { WireStream, wake, type ConnectionEvents, type DialOptions, type HeaderMap, type StreamLoss, type StreamSink } from './stream.js';

export { WireStream, type ConnectionEvents, type DialOptions, type HeaderMap, type StreamLoss, type StreamSink };

export class WireConnection {
  readonly #events: ConnectionEvents;
  readonly #socket: net.Socket;
  readonly #reader = new FrameReader(DEFAULT_MAX_FRAME);
  readonly #headerBlocks = new HeaderBlocks();
  readonly #streams = new Map<number, WireStream>();
  /** Streams whose HEADERS wait for a free slot under the peer's MAX_CONCURRENT_STREAMS. */
  readonly #waiting: WireStream[] = [];
  readonly #send = new SendFlow({
    write: (buf) => this.#write(buf),
    localEnded: (s) => this.#localEnded(s),
    needsDrain: (s) => this.needsDrain(s),
  });
  #nextId = 1;
  #open = 0;
  #ready = false;
  #draining = false;
  #closed = false;
  #error: string | undefined;
  #corked = false;
  // Peer settings.
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxStreams = Number.POSITIVE_INFINITY;
  #recvUnacked = 0;
  readonly #pings = new Pings();
  #connectTimer: NodeJS.Timeout | undefined;
  #goawayCode: number | undefined;
  #reported = false;

  constructor(opts: DialOptions, events: ConnectionEvents) {
    this.#events = events;
    const t = opts.target;
    if (t.scheme === 'https') {
      const o: tls.ConnectionOptions = { host: t.host, port: t.port, ALPNProtocols: ['h2'] };
      if (!net.isIP(t.host)) o.servername = t.host;
      if (t.tls?.insecure) o.rejectUnauthorized = false;
      if (t.tls?.caCert) o.ca = t.tls.caCert;
      this.#socket = tls.connect(o);
      this.#socket.once('secureConnect', () => this.#onConnect());
    } else {
      this.#socket = net.connect({ host: t.host, port: t.port });
      this.#socket.once('connect', () => this.#onConnect());
    }
    this.#socket.setNoDelay(true);
    this.#connectTimer = setTimeout(() => {
      if (!this.#ready) this.#fail(`connect timed out after ${opts.connectTimeoutMs} ms`);
    }, opts.connectTimeoutMs);
    this.#connectTimer.unref();
    this.#socket.on('data', (chunk: Buffer) => this.#onBytes(chunk));
    this.#socket.on('error', (err: Error) => this.#fail(err.message));
    this.#socket.on('close', () => this.#onSocketClose());
    this.#socket.on('drain', () => this.#wakeDrainWaiters());
    // The preface and our SETTINGS go first; they wait in the socket until it connects.
    this.#write(PREFACE);
    this.#write(settings([[Setting.EnablePush, 0], [Setting.InitialWindowSize, STREAM_WINDOW], [Setting.MaxHeaderListSize, MAX_HEADER_LIST]]));
    this.#write(windowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW));
  }

  /** True once the server's SETTINGS arrived. */
  get ready(): boolean {
    return this.#ready;
  }

  /** True when new streams may be opened here. */
  get usable(): boolean {
    return !this.#draining && !this.#closed;
  }

  /** Keeps the process alive while streams are active, and lets it exit when none are. */
  ref(on: boolean): void {
    if (on) this.#socket.ref();
    else this.#socket.unref();
  }

  /**
   * Starts a stream whose HEADERS carry `block` (an HPACK block). It is sent now, or once the peer's stream limit
   * allows. The caller must check `usable` first.
   */
  open(sink: StreamSink, block: Buffer): WireStream {
    const s = new WireStream(sink, block, this.#peerInitialWindow);
    // Until the peer's SETTINGS arrive we know neither its stream limit nor its windows: streams sent blind
    // would be refused over the limit (nghttp2 does), so the first calls on a new connection wait for them.
    if (!this.#ready || this.#open >= this.#peerMaxStreams) this.#waiting.push(s);
    else this.#start(s);
    return s;
  }

  /** Queues DATA for a stream (sent as flow control allows). Returns false when the writer should wait. */
  write(s: WireStream, data: Buffer): boolean {
    if (s.closed || s.localEnded || s.endQueued) return true;
    if (data.length > 0) {
      s.queue.push(data);
      s.queued += data.length;
      if (s.id !== 0) this.#send.flush(s);
    }
    return !this.needsDrain(s);
  }

  /** Half-closes our side (END_STREAM after whatever is queued). */
  end(s: WireStream): void {
    if (s.closed || s.localEnded || s.endQueued) return;
    s.endQueued = true;
    if (s.id !== 0) this.#send.flush(s);
  }

  /**
   * Half-closes our side now, dropping anything flow control still holds: the peer already ended the call, so
   * what we had not sent can no longer matter, and END_STREAM (unlike RST_STREAM) does not count against the
   * peer's reset-flood limits.
   */
  endNow(s: WireStream): void {
    if (s.closed || s.localEnded) return;
    s.queue = [];
    s.queued = 0;
    this.#send.forget(s);
    s.endQueued = true;
    if (s.id !== 0) this.#send.flush(s);
    else this.#forget(s);
  }

  /** Resets a stream (RST_STREAM with `code`) and forgets it. The sink hears nothing more. */
  reset(s: WireStream, code: number): void {
    if (s.closed) return;
    if (s.id !== 0 && !(s.localEnded && s.remoteEnded)) this.#write(rstStream(s.id, code));
    this.#forget(s);
  }

  /** True when the stream (or the socket) holds enough that its writer should wait for `drained`. */
  needsDrain(s: WireStream): boolean {
    return !s.closed && (s.queued > STREAM_HIGH_WATER || this.#socket.writableLength > SOCKET_HIGH_WATER);
  }

  /** Resolves when the stream's writer may continue (or the stream is over). */
  drained(s: WireStream): Promise<void> {
    if (!this.needsDrain(s)) return Promise.resolve();
    return new Promise((resolve) => (s.drainWaiters ??= []).push(resolve));
  }

  /** Gives `n` processed bytes of a stream's window back to the peer (in batches of half the window). */
  consumed(s: WireStream, n: number): void {
    if (s.closed || s.remoteEnded || n === 0) return;
    s.recvUnacked += n;
    if (s.recvUnacked >= STREAM_WINDOW / 2) {
      this.#write(windowUpdate(s.id, s.recvUnacked));
      s.recvWindow += s.recvUnacked;
      s.recvUnacked = 0;
    }
  }

  /** Sends a PING; `done(true)` when answered, `done(false)` if the connection goes first. */
  ping(done: (ok: boolean) => void): void {
    if (this.#closed) {
      done(false);
      return;
    }
    this.#write(this.#pings.send(done));
  }

  /** Takes no new streams; closes the socket once the open ones are done (at once when `force`). */
  close(force: boolean): void {
    if (this.#closed) return;
    if (force) {
      this.#fail('the ext_proc client was closed');
      return;
    }
    // Tell the processor no new streams come (as node:http2 does); the open ones finish.
    if (this.#ready) this.#write(goaway(0, ErrorCode.NoError));
    this.#drain({ kind: 'closed', message: 'closed' });
    this.#closeIfIdle();
  }

  /** Fails the connection: every stream is lost with `message`, and the socket is destroyed. */
  destroy(message: string): void {
    this.#fail(message);
  }

  // ---- sending ----

  #write(buf: Buffer): void {
    if (this.#closed) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    this.#socket.write(buf);
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  #start(s: WireStream): void {
    if (this.#nextId > MAX_WINDOW) {
      // Stream ids are spent: this connection takes no more; the link dials a new one.
      s.closed = true;
      queueMicrotask(() => s.sink.onLost({ kind: 'refused', message: 'the connection ran out of stream ids' }));
      this.#drain({ kind: 'refused', message: 'the connection ran out of stream ids' });
      return;
    }
    s.id = this.#nextId;
    this.#nextId += 2;
    this.#open++;
    this.#streams.set(s.id, s);
    this.#send.headers(s);
    if (s.queued > 0 || s.endQueued) this.#send.flush(s);
    if (this.#nextId > MAX_WINDOW) this.#drain();
  }

  /** Starts waiting streams while the peer's limit allows (never after GOAWAY or on a closed connection). */
  #startWaiting(): void {
    while (this.#waiting.length > 0 && this.#ready && this.#open < this.#peerMaxStreams && !this.#closed && !this.#draining) {
      this.#start(this.#waiting.shift()!);
    }
  }

  #localEnded(s: WireStream): void {
    s.localEnded = true;
    this.#send.forget(s);
    if (s.drainWaiters) wake(s);
    if (s.remoteEnded) this.#forget(s);
  }

  #wakeDrainWaiters(): void {
    for (const s of this.#streams.values()) if (s.drainWaiters && !this.needsDrain(s)) wake(s);
  }

  /** The stream is over on both sides (or reset): forget it and let a waiting stream start. */
  #forget(s: WireStream): void {
    if (s.closed) return;
    s.closed = true;
    this.#send.forget(s);
    if (s.drainWaiters) wake(s);
    if (s.id === 0) {
      const i = this.#waiting.indexOf(s);
      if (i >= 0) this.#waiting.splice(i, 1);
      return;
    }
    this.#streams.delete(s.id);
    this.#open--;
    this.#startWaiting();
    this.#closeIfIdle();
  }

  // ---- receiving ----

  #onConnect(): void {
    const s = this.#socket as tls.TLSSocket;
    if (typeof s.alpnProtocol === 'string' && s.alpnProtocol !== 'h2') {
      this.#fail(`the processor's TLS server negotiated ${s.alpnProtocol}, not h2 (ALPN)`);
    }
  }

  #onBytes(chunk: Buffer): void {
    if (this.#closed) return;
    this.#events.onTraffic();
    const problem = this.#reader.push(chunk, this.#onFrame);
    if (problem) {
      // Before the peer's SETTINGS, garbage usually means the peer does not speak HTTP/2 at all (an HTTP/1.1 server).
      this.#protocolError(ErrorCode.FrameSizeError, this.#ready ? problem : 'the processor did not start with a SETTINGS frame (is it an HTTP/2 gRPC server?)');
    }
  }

  readonly #onFrame = (f: Frame): boolean => {
    if (this.#closed) return false;
    if ((f.type === FrameType.Ping || f.type === FrameType.Settings) && this.#socket.writableLength > FLOOD_BYTES) {
      this.#protocolError(ErrorCode.EnhanceYourCalm, `the processor keeps sending ${f.type === FrameType.Ping ? 'PING' : 'SETTINGS'} frames without reading our answers (flood)`);
      return false;
    }
    if (!this.#ready && f.type !== FrameType.Settings) {
      this.#protocolError(ErrorCode.ProtocolError, 'the processor did not start with a SETTINGS frame (is it an HTTP/2 gRPC server?)');
      return false;
    }
    if (this.#headerBlocks.pending && f.type !== FrameType.Continuation) {
      this.#protocolError(ErrorCode.ProtocolError, 'a header block was interrupted by another frame');
      return false;
    }
    const problem = streamIdProblem(f, this.#nextId);
    if (problem) {
      this.#protocolError(ErrorCode.ProtocolError, problem);
      return false;
    }
    switch (f.type) {
      case FrameType.Data: this.#onData(f); break;
      case FrameType.Headers: this.#onHeaderBlock(this.#headerBlocks.headers(f)); break;
      case FrameType.Continuation: this.#onHeaderBlock(this.#headerBlocks.continuation(f)); break;
      case FrameType.RstStream: this.#onRst(f); break;
      case FrameType.Settings: this.#onSettings(f); break;
      case FrameType.Ping: this.#onPing(f); break;
      case FrameType.Goaway: this.#onGoaway(f); break;
      case FrameType.WindowUpdate: this.#onWindowUpdate(f); break;
      case FrameType.PushPromise: this.#protocolError(ErrorCode.ProtocolError, 'the processor sent PUSH_PROMISE although push is disabled'); break;
      default: break; // PRIORITY and unknown types are ignored (RFC 9113 §5.5)
    }
    return !this.#closed;
  };

  #onData(f: Frame): void {
    const len = f.payload.length;
    this.#recvUnacked += len;
    if (this.#recvUnacked >= CONNECTION_WINDOW / 2) {
      this.#write(windowUpdate(0, this.#recvUnacked));
      this.#recvUnacked = 0;
    }
    const s = this.#streams.get(f.streamId);
    if (!s || s.remoteEnded) return; // a stream we reset or finished: its bytes count for the connection only
    const body = unpad(f, false);
    if (!body) return this.#protocolError(ErrorCode.ProtocolError, 'a DATA frame with invalid padding');
    if (!s.gotHeaders) return this.#protocolError(ErrorCode.ProtocolError, `DATA on stream ${s.id} before its response HEADERS`);
    s.recvWindow -= len;
    if (s.recvWindow < 0) return this.#protocolError(ErrorCode.FlowControlError, `the processor overran stream ${s.id}'s flow-control window`);
    // Padding is never delivered, so give it back now.
    if (len > body.length) this.consumed(s, len - body.length);
    const end = (f.flags & Flag.EndStream) !== 0;
    if (end) this.#remoteEnded(s);
    s.sink.onData(body, end);
    if (end && s.localEnded) this.#forget(s);
  }

  #onHeaderBlock(r: BlockResult): void {
    if (r.kind === 'partial') return;
    if (r.kind === 'error') return this.#protocolError(r.code, r.message);
    if (r.kind === 'too-large') return this.#streamTooLarge(r.streamId);
    const s = this.#streams.get(r.streamId);
    if (!s || s.remoteEnded) return;
    const map: HeaderMap = {};
    for (const [k, v] of r.fields) map[k] = v;
    // Informational (1xx) headers are not the response; gRPC servers do not send them, but they are legal.
    const status = map[':status'];
    if (!s.gotHeaders && status !== undefined && status.length === 3 && status[0] === '1' && !r.endStream) return;
    s.gotHeaders = true;
    if (r.endStream) this.#remoteEnded(s);
    s.sink.onHeaders(map, r.endStream);
    if (r.endStream && s.localEnded) this.#forget(s);
  }

  /** A stream's headers or trailers were over our MAX_HEADER_LIST_SIZE: that stream fails, the others go on. */
  #streamTooLarge(streamId: number): void {
    const s = this.#streams.get(streamId);
    if (!s || s.remoteEnded) return;
    this.reset(s, ErrorCode.ProtocolError);
    s.sink.onLost({ kind: 'protocol', message: `sent a header list over ${MAX_HEADER_LIST} bytes (our SETTINGS_MAX_HEADER_LIST_SIZE)` });
  }

  #remoteEnded(s: WireStream): void {
    s.remoteEnded = true;
  }

  #onRst(f: Frame): void {
    if (f.payload.length !== 4) return this.#protocolError(ErrorCode.FrameSizeError, 'a RST_STREAM frame that is not 4 bytes');
    const s = this.#streams.get(f.streamId);
    if (!s) return;
    const code = f.payload.readUInt32BE(0);
    this.#forget(s);
    s.sink.onLost(code === ErrorCode.RefusedStream ? { kind: 'refused', message: 'REFUSED_STREAM' } : { kind: 'reset', message: errorName(code) });
  }

  #onSettings(f: Frame): void {
    if (f.flags & Flag.Ack) {
      if (f.payload.length !== 0) this.#protocolError(ErrorCode.FrameSizeError, 'a SETTINGS ACK with a payload');
      return;
    }
    const pairs = parseSettings(f.payload);
    if (!Array.isArray(pairs)) return this.#protocolError(pairs.code, pairs.message);
    for (const [id, v] of pairs) {
      if (id === Setting.InitialWindowSize) {
        const delta = v - this.#peerInitialWindow;
        this.#peerInitialWindow = v;
        for (const s of this.#streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) return this.#protocolError(ErrorCode.FlowControlError, `SETTINGS_INITIAL_WINDOW_SIZE took stream ${s.id}'s window over 2^31-1`);
        }
        for (const s of this.#waiting) s.sendWindow += delta;
      } else if (id === Setting.MaxFrameSize) this.#send.maxFrame = v;
      else if (id === Setting.MaxConcurrentStreams) this.#peerMaxStreams = v;
      // HEADER_TABLE_SIZE: we never index what we send, so the peer's table size does not constrain us.
    }
    this.#write(frame(FrameType.Settings, Flag.Ack, 0));
    if (!this.#ready) {
      this.#ready = true;
      if (this.#connectTimer) clearTimeout(this.#connectTimer);
      this.#events.onReady();
    }
    this.#startWaiting();
    this.#send.flushBlocked();
  }

  #onPing(f: Frame): void {
    if (f.payload.length !== 8) return this.#protocolError(ErrorCode.FrameSizeError, 'a PING frame that is not 8 bytes');
    if (f.flags & Flag.Ack) this.#pings.acked(f.payload);
    else this.#write(pingAck(f.payload));
  }

  #onGoaway(f: Frame): void {
    const g = parseGoaway(f.payload);
    if (!g) return this.#protocolError(ErrorCode.FrameSizeError, 'a GOAWAY frame shorter than 8 bytes');
    const { last, code, debug } = g;
    this.#goawayCode = code;
    // Waiting streams never went out: refuse them first (#drain would too, with a vaguer reason), and no stream
    // starts on this connection any more, so forgetting one below cannot send a HEADERS after the GOAWAY.
    for (const s of this.#waiting.splice(0)) {
      s.closed = true;
      if (s.drainWaiters) wake(s);
      s.sink.onLost({ kind: 'refused', message: `GOAWAY ${errorName(code)}` });
    }
    this.#drain();
    // Streams above `last` were never processed: they may be retried elsewhere (reported as refused).
    for (const s of [...this.#streams.values()]) {
      if (s.id > last) {
        this.#forget(s);
        s.sink.onLost({ kind: 'refused', message: `GOAWAY ${errorName(code)}${debug ? `: ${debug}` : ''}` });
      }
    }
    if (code !== ErrorCode.NoError) {
      // An error GOAWAY ends the connection (RFC 9113 §5.4.1): streams still open on it will not complete.
      this.#fail(`the processor sent GOAWAY ${errorName(code)}${debug ? `: ${debug}` : ''}`);
      return;
    }
    this.#closeIfIdle();
  }

  #onWindowUpdate(f: Frame): void {
    if (f.payload.length !== 4) return this.#protocolError(ErrorCode.FrameSizeError, 'a WINDOW_UPDATE frame that is not 4 bytes');
    const inc = f.payload.readUInt32BE(0) & MAX_WINDOW;
    if (f.streamId === 0) {
      if (inc === 0) return this.#protocolError(ErrorCode.ProtocolError, 'a connection WINDOW_UPDATE of 0');
      if (!this.#send.grow(inc)) this.#protocolError(ErrorCode.FlowControlError, 'the connection window went over 2^31-1');
      return;
    }
    const s = this.#streams.get(f.streamId);
    if (!s) return;
    if (inc === 0 || s.sendWindow + inc > MAX_WINDOW) {
      const code = inc === 0 ? ErrorCode.ProtocolError : ErrorCode.FlowControlError;
      this.reset(s, code);
      s.sink.onLost({ kind: 'lost', message: `the processor sent an invalid WINDOW_UPDATE on the stream (${errorName(code)})` });
      return;
    }
    s.sendWindow += inc;
    if (s.queued > 0) this.#send.flush(s);
  }

  // ---- ending ----

  #drain(loss: StreamLoss = { kind: 'refused', message: 'the connection takes no new streams' }): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#events.onDraining();
    // Streams still waiting for a slot will never start here (the next call dials anew).
    for (const s of this.#waiting.splice(0)) {
      s.closed = true;
      if (s.drainWaiters) wake(s);
      s.sink.onLost(loss);
    }
  }

  #closeIfIdle(): void {
    if (!this.#draining || this.#closed || this.#streams.size > 0 || this.#waiting.length > 0) return;
    this.#closed = true;
    this.#socket.end();
    // A peer that never closes its side must not keep the socket: give it a moment, then destroy.
    setTimeout(() => this.#socket.destroy(), 1000).unref();
  }

  /** A connection error on our side: tell the peer why (GOAWAY), then fail every stream. */
  #protocolError(code: number, message: string): void {
    if (this.#closed) return;
    // Last-Stream-ID names the peer-initiated streams we processed: with push disabled there are none.
    this.#fail(message, goaway(0, code));
  }

  /** Fails every stream with `message` and closes the socket (after `lastFrame`, e.g. our GOAWAY, when given). */
  #fail(message: string, lastFrame?: Buffer): void {
    this.#error ??= message;
    if (this.#closed && this.#socket.destroyed) return;
    this.#closed = true;
    // The owner hears first, so a caller reacting to a lost stream already sees this connection as gone.
    this.#reportClosed(this.#error);
    this.#lose();
    if (lastFrame && this.#socket.writable) {
      this.#socket.end(lastFrame); // flushes what is queued, then the frame, then FIN
      setTimeout(() => this.#socket.destroy(), 1000).unref();
    } else {
      this.#socket.destroy();
    }
  }

  #reportClosed(error: string | undefined): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#events.onClosed(error, this.#ready);
  }

  #onSocketClose(): void {
    const wasClean = this.#closed && this.#streams.size === 0 && this.#error === undefined;
    this.#closed = true;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    if (!wasClean) this.#error ??= this.#ready ? 'the processor closed the connection' : 'the connection closed before HTTP/2 was established';
    this.#lose();
    this.#pings.failAll();
    this.#reportClosed(wasClean ? undefined : this.#error);
    this.onGone?.();
  }

  /** Called once the socket is closed (for a graceful close that waits on it). */
  onGone: (() => void) | undefined;

  /** True once the socket is closed. */
  get gone(): boolean {
    return this.#socket.destroyed;
  }

  /** Every stream still here is lost with the connection's error. */
  #lose(): void {
    const message = this.#error ?? 'the connection closed';
    const unconnected = !this.#ready;
    const lost = [...this.#streams.values(), ...this.#waiting.splice(0)];
    this.#streams.clear();
    this.#send.clear();
    this.#open = 0;
    for (const s of lost) {
      if (s.closed) continue;
      s.closed = true;
      if (s.drainWaiters) wake(s);
      // A stream the peer never saw (no HTTP/2 yet, or still waiting for a slot) was not processed.
      s.sink.onLost({ kind: unconnected ? 'unconnected' : s.id === 0 ? 'refused' : 'lost', message });
    }
  }

  /** The GOAWAY code the peer sent, if any (for messages). */
  get goawayCode(): number | undefined {
    return this.#goawayCode;
  }
}
