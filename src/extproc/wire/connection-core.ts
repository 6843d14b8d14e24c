/**
 * The core of one client HTTP/2 connection (WireConnection, connection.ts, handles the frames the peer sends): the
 * socket (plain or TLS with ALPN h2), the connection preface and our SETTINGS, stream ids and the peer's stream
 * limit, stream bookkeeping, sending (SendFlow), and failure: GOAWAY on our side, every stream lost with one reason.
 *
 * Writes made during one event-loop turn go out in one `writev`: the socket is corked from the first write until
 * `setImmediate`, i.e. after every I/O callback of the turn has run. Under load each client request and each
 * upstream response arrives in a callback of its own, so a per-tick flush (`process.nextTick`) wrote the
 * processor once per message (4.3 gateway writes per headers-only request, and the processor read each one
 * alone); per turn it is 2.4, and the processor's reads and writes fell from 2.1 to 0.19 per request. Gateway CPU
 * per request fell 15–17 %. A lone message waits only for the rest of its turn, so latency at low load is unchanged.
 */
import net from 'node:net';
import tls from 'node:tls';
import { DEFAULT_MAX_FRAME, DEFAULT_WINDOW, ErrorCode, FrameReader, MAX_WINDOW, PREFACE, Setting, goaway, rstStream, settings, windowUpdate, type Frame } from './frames.js';
import { CONNECTION_WINDOW, MAX_HEADER_LIST, SOCKET_HIGH_WATER, STREAM_HIGH_WATER, STREAM_WINDOW } from './limits.js';
import { Pings } from './pings.js';
import { SendFlow } from './send.js';
import { WireStream, wake, type ConnectionEvents, type DialOptions, type StreamLoss, type StreamSink } from './stream.js';

/**
 * The socket, stream bookkeeping, sending and failure handling of a connection. The frames the peer sends are
 * handled by the subclass (WireConnection, connection.ts), through the protected members here.
 */
export abstract class ConnectionCore {
  readonly #events: ConnectionEvents;
  protected readonly socket: net.Socket;
  readonly #reader = new FrameReader(DEFAULT_MAX_FRAME);
  protected readonly streams = new Map<number, WireStream>();
  /** Streams whose HEADERS wait for a free slot under the peer's MAX_CONCURRENT_STREAMS. */
  protected readonly waiting: WireStream[] = [];
  protected readonly sendFlow = new SendFlow({
    write: (buf) => this.writeFrame(buf),
    localEnded: (s) => this.#localEnded(s),
    needsDrain: (s) => this.needsDrain(s),
  });
  protected nextId = 1;
  #open = 0;
  #ready = false;
  #draining = false;
  #closed = false;
  #error: string | undefined;
  #corked = false;
  // Peer settings.
  protected peerInitialWindow = DEFAULT_WINDOW;
  protected peerMaxStreams = Number.POSITIVE_INFINITY;
  protected readonly pings = new Pings();
  #connectTimer: NodeJS.Timeout | undefined;
  protected peerGoawayCode: number | undefined;
  #reported = false;

  constructor(opts: DialOptions, events: ConnectionEvents) {
    this.#events = events;
    const t = opts.target;
    if (t.scheme === 'https') {
      const o: tls.ConnectionOptions = { host: t.host, port: t.port, ALPNProtocols: ['h2'] };
      if (!net.isIP(t.host)) o.servername = t.host;
      if (t.tls?.insecure) o.rejectUnauthorized = false;
      if (t.tls?.caCert) o.ca = t.tls.caCert;
      this.socket = tls.connect(o);
      this.socket.once('secureConnect', () => this.#onConnect());
    } else {
      this.socket = net.connect({ host: t.host, port: t.port });
      this.socket.once('connect', () => this.#onConnect());
    }
    this.socket.setNoDelay(true);
    this.#connectTimer = setTimeout(() => {
      if (!this.#ready) this.fail(`connect timed out after ${opts.connectTimeoutMs} ms`);
    }, opts.connectTimeoutMs);
    this.#connectTimer.unref();
    this.socket.on('data', (chunk: Buffer) => this.#onBytes(chunk));
    this.socket.on('error', (err: Error) => this.fail(err.message));
    this.socket.on('close', () => this.#onSocketClose());
    this.socket.on('drain', () => this.#wakeDrainWaiters());
    // The preface and our SETTINGS go first; they wait in the socket until it connects.
    this.writeFrame(PREFACE);
    this.writeFrame(settings([[Setting.EnablePush, 0], [Setting.InitialWindowSize, STREAM_WINDOW], [Setting.MaxHeaderListSize, MAX_HEADER_LIST]]));
    this.writeFrame(windowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW));
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
    if (on) this.socket.ref();
    else this.socket.unref();
  }

  /**
   * Starts a stream whose HEADERS carry `block` (an HPACK block). It is sent now, or once the peer's stream limit
   * allows. The caller must check `usable` first.
   */
  open(sink: StreamSink, block: Buffer): WireStream {
    const s = new WireStream(sink, block, this.peerInitialWindow);
    // Until the peer's SETTINGS arrive we know neither its stream limit nor its windows: streams sent blind
    // would be refused over the limit (nghttp2 does), so the first calls on a new connection wait for them.
    if (!this.#ready || this.#open >= this.peerMaxStreams) this.waiting.push(s);
    else this.#start(s);
    return s;
  }

  /** Queues DATA for a stream (sent as flow control allows). Returns false when the writer should wait. */
  write(s: WireStream, data: Buffer): boolean {
    if (s.closed || s.localEnded || s.endQueued) return true;
    if (data.length > 0) {
      s.queue.push(data);
      s.queued += data.length;
      if (s.id !== 0) this.sendFlow.flush(s);
    }
    return !this.needsDrain(s);
  }

  /** Half-closes our side (END_STREAM after whatever is queued). */
  end(s: WireStream): void {
    if (s.closed || s.localEnded || s.endQueued) return;
    s.endQueued = true;
    if (s.id !== 0) this.sendFlow.flush(s);
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
    this.sendFlow.forget(s);
    s.endQueued = true;
    if (s.id !== 0) this.sendFlow.flush(s);
    else this.forget(s);
  }

  /** Resets a stream (RST_STREAM with `code`) and forgets it. The sink hears nothing more. */
  reset(s: WireStream, code: number): void {
    if (s.closed) return;
    if (s.id !== 0 && !(s.localEnded && s.remoteEnded)) this.writeFrame(rstStream(s.id, code));
    this.forget(s);
  }

  /** True when the stream (or the socket) holds enough that its writer should wait for `drained`. */
  needsDrain(s: WireStream): boolean {
    return !s.closed && (s.queued > STREAM_HIGH_WATER || this.socket.writableLength > SOCKET_HIGH_WATER);
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
      this.writeFrame(windowUpdate(s.id, s.recvUnacked));
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
    this.writeFrame(this.pings.send(done));
  }

  /** Takes no new streams; closes the socket once the open ones are done (at once when `force`). */
  close(force: boolean): void {
    if (this.#closed) return;
    if (force) {
      this.fail('the ext_proc client was closed');
      return;
    }
    // Tell the processor no new streams come (as node:http2 does); the open ones finish.
    if (this.#ready) this.writeFrame(goaway(0, ErrorCode.NoError));
    this.drain({ kind: 'closed', message: 'closed' });
    this.closeIfIdle();
  }

  /** Fails the connection: every stream is lost with `message`, and the socket is destroyed. */
  destroy(message: string): void {
    this.fail(message);
  }

  // ---- sending ----

  protected writeFrame(buf: Buffer): void {
    if (this.#closed) return;
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      setImmediate(this.#uncork);
    }
    this.socket.write(buf);
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.socket.uncork();
  };

  #start(s: WireStream): void {
    if (this.nextId > MAX_WINDOW) {
      // Stream ids are spent: this connection takes no more; the link dials a new one.
      s.closed = true;
      queueMicrotask(() => s.sink.onLost({ kind: 'refused', message: 'the connection ran out of stream ids' }));
      this.drain({ kind: 'refused', message: 'the connection ran out of stream ids' });
      return;
    }
    s.id = this.nextId;
    this.nextId += 2;
    this.#open++;
    this.streams.set(s.id, s);
    this.sendFlow.headers(s);
    if (s.queued > 0 || s.endQueued) this.sendFlow.flush(s);
    if (this.nextId > MAX_WINDOW) this.drain();
  }

  /** Starts waiting streams while the peer's limit allows (never after GOAWAY or on a closed connection). */
  protected startWaiting(): void {
    while (this.waiting.length > 0 && this.#ready && this.#open < this.peerMaxStreams && !this.#closed && !this.#draining) {
      this.#start(this.waiting.shift()!);
    }
  }

  #localEnded(s: WireStream): void {
    s.localEnded = true;
    this.sendFlow.forget(s);
    if (s.drainWaiters) wake(s);
    if (s.remoteEnded) this.forget(s);
  }

  #wakeDrainWaiters(): void {
    for (const s of this.streams.values()) if (s.drainWaiters && !this.needsDrain(s)) wake(s);
  }

  /** The stream is over on both sides (or reset): forget it and let a waiting stream start. */
  protected forget(s: WireStream): void {
    if (s.closed) return;
    s.closed = true;
    this.sendFlow.forget(s);
    if (s.drainWaiters) wake(s);
    if (s.id === 0) {
      const i = this.waiting.indexOf(s);
      if (i >= 0) this.waiting.splice(i, 1);
      return;
    }
    this.streams.delete(s.id);
    this.#open--;
    this.startWaiting();
    this.closeIfIdle();
  }

  // ---- receiving (the frames themselves: WireConnection) ----

  /** Handles one frame from the peer; false stops the reader (the connection failed). */
  protected abstract readonly onFrame: (f: Frame) => boolean;

  /** True once the connection failed or closed. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** The server's first SETTINGS arrived. */
  protected markReady(): void {
    if (this.#ready) return;
    this.#ready = true;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#events.onReady();
  }

  #onConnect(): void {
    const s = this.socket as tls.TLSSocket;
    if (typeof s.alpnProtocol === 'string' && s.alpnProtocol !== 'h2') {
      this.fail(`the processor's TLS server negotiated ${s.alpnProtocol}, not h2 (ALPN)`);
    }
  }

  #onBytes(chunk: Buffer): void {
    if (this.#closed) return;
    this.#events.onTraffic();
    const problem = this.#reader.push(chunk, this.onFrame);
    if (problem) {
      // Before the peer's SETTINGS, garbage usually means the peer does not speak HTTP/2 at all (an HTTP/1.1 server).
      this.protocolError(ErrorCode.FrameSizeError, this.#ready ? problem : 'the processor did not start with a SETTINGS frame (is it an HTTP/2 gRPC server?)');
    }
  }

  // ---- ending ----

  protected drain(loss: StreamLoss = { kind: 'refused', message: 'the connection takes no new streams' }): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#events.onDraining();
    // Streams still waiting for a slot will never start here (the next call dials anew).
    for (const s of this.waiting.splice(0)) {
      s.closed = true;
      if (s.drainWaiters) wake(s);
      s.sink.onLost(loss);
    }
  }

  protected closeIfIdle(): void {
    if (!this.#draining || this.#closed || this.streams.size > 0 || this.waiting.length > 0) return;
    this.#closed = true;
    this.socket.end();
    // A peer that never closes its side must not keep the socket: give it a moment, then destroy.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** A connection error on our side: tell the peer why (GOAWAY), then fail every stream. */
  protected protocolError(code: number, message: string): void {
    if (this.#closed) return;
    // Last-Stream-ID names the peer-initiated streams we processed: with push disabled there are none.
    this.fail(message, goaway(0, code));
  }

  /** Fails every stream with `message` and closes the socket (after `lastFrame`, e.g. our GOAWAY, when given). */
  protected fail(message: string, lastFrame?: Buffer): void {
    this.#error ??= message;
    if (this.#closed && this.socket.destroyed) return;
    this.#closed = true;
    // The owner hears first, so a caller reacting to a lost stream already sees this connection as gone.
    this.#reportClosed(this.#error);
    this.#lose();
    if (lastFrame && this.socket.writable) {
      this.socket.end(lastFrame); // flushes what is queued, then the frame, then FIN
      setTimeout(() => this.socket.destroy(), 1000).unref();
    } else {
      this.socket.destroy();
    }
  }

  #reportClosed(error: string | undefined): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#events.onClosed(error, this.#ready);
  }

  #onSocketClose(): void {
    const wasClean = this.#closed && this.streams.size === 0 && this.#error === undefined;
    this.#closed = true;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    if (!wasClean) this.#error ??= this.#ready ? 'the processor closed the connection' : 'the connection closed before HTTP/2 was established';
    this.#lose();
    this.pings.failAll();
    this.#reportClosed(wasClean ? undefined : this.#error);
    this.onGone?.();
  }

  /** Called once the socket is closed (for a graceful close that waits on it). */
  onGone: (() => void) | undefined;

  /** True once the socket is closed. */
  get gone(): boolean {
    return this.socket.destroyed;
  }

  /** Every stream still here is lost with the connection's error. */
  #lose(): void {
    const message = this.#error ?? 'the connection closed';
    const unconnected = !this.#ready;
    const lost = [...this.streams.values(), ...this.waiting.splice(0)];
    this.streams.clear();
    this.sendFlow.clear();
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
    return this.peerGoawayCode;
  }
}
