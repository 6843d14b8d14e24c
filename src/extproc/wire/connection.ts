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
  frame, goaway, rstStream, settings, streamIdProblem, unpad, windowUpdate, writeFrameHeader, type Frame,
} from './frames.js';
import { HeaderListTooLarge, HpackDecoder, HpackError } from './hpack.js';
import { CONNECTION_WINDOW, FLOOD_BYTES, MAX_CONTINUATIONS, MAX_HEADER_LIST, SOCKET_HIGH_WATER, STREAM_HIGH_WATER, STREAM_WINDOW } from './limits.js';
import { WireStream, type ConnectionEvents, type DialOptions, type HeaderMap, type StreamLoss, type StreamSink } from './stream.js';

export { WireStream, type ConnectionEvents, type DialOptions, type HeaderMap, type StreamLoss, type StreamSink };



export class WireConnection {
  readonly #events: ConnectionEvents;
  readonly #socket: net.Socket;
  readonly #reader = new FrameReader(DEFAULT_MAX_FRAME);
  readonly #decoder = new HpackDecoder(4096, MAX_HEADER_LIST);
  readonly #streams = new Map<number, WireStream>();
  /** Streams whose HEADERS wait for a free slot under the peer's MAX_CONCURRENT_STREAMS. */
  readonly #waiting: WireStream[] = [];
  /** Streams with DATA held back by flow control, in the order they blocked. */
  readonly #blocked = new Set<WireStream>();
  #nextId = 1;
  #open = 0;
  #ready = false;
  #draining = false;
  #closed = false;
  #error: string | undefined;
  #corked = false;
  // Peer settings.
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrame = DEFAULT_MAX_FRAME;
  #peerMaxStreams = Number.POSITIVE_INFINITY;
  #sendWindow = DEFAULT_WINDOW;
  #recvUnacked = 0;
  // HEADERS split over CONTINUATION frames.
  #partial: { streamId: number; endStream: boolean; parts: Buffer[]; size: number } | undefined;
  /** Our PINGs awaiting their ACK, by payload (a sequence number): an ACK we did not ask for answers none. */
  readonly #pings = new Map<string, (ok: boolean) => void>();
  #pingSeq = 0;
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
      if (s.id !== 0) this.#flushStream(s);
    }
    return !this.needsDrain(s);
  }

  /** Half-closes our side (END_STREAM after whatever is queued). */
  end(s: WireStream): void {
    if (s.closed || s.localEnded || s.endQueued) return;
    s.endQueued = true;
    if (s.id !== 0) this.#flushStream(s);
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
    this.#blocked.delete(s);
    s.endQueued = true;
    if (s.id !== 0) this.#flushStream(s);
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
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(++this.#pingSeq >>> 0, 4);
    this.#pings.set(payload.toString('hex'), done);
    this.#write(frame(FrameType.Ping, 0, 0, payload));
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
    const block = s.block;
    const max = this.#peerMaxFrame;
    if (block.length <= max) {
      const out = Buffer.allocUnsafe(9 + block.length);
      writeFrameHeader(out, 0, block.length, FrameType.Headers, Flag.EndHeaders, s.id);
      block.copy(out, 9);
      this.#write(out);
    } else {
      for (let at = 0; at < block.length; at += max) {
        const part = block.subarray(at, Math.min(block.length, at + max));
        const last = at + max >= block.length;
        this.#write(frame(at === 0 ? FrameType.Headers : FrameType.Continuation, last ? Flag.EndHeaders : 0, s.id, part));
      }
    }
    if (s.queued > 0 || s.endQueued) this.#flushStream(s);
    if (this.#nextId > MAX_WINDOW) this.#drain();
  }

  /** Starts waiting streams while the peer's limit allows (never after GOAWAY or on a closed connection). */
  #startWaiting(): void {
    while (this.#waiting.length > 0 && this.#ready && this.#open < this.#peerMaxStreams && !this.#closed && !this.#draining) {
      this.#start(this.#waiting.shift()!);
    }
  }

  /** Sends as much of a stream's queue as both windows allow, then END_STREAM if it is due. */
  #flushStream(s: WireStream): void {
    while (s.queued > 0) {
      const allowed = Math.min(s.sendWindow, this.#sendWindow, this.#peerMaxFrame);
      if (allowed <= 0) {
        this.#blocked.add(s);
        return;
      }
      const head = s.queue[0]!;
      let chunk: Buffer;
      if (head.length <= allowed) {
        chunk = head;
        s.queue.shift();
      } else {
        chunk = head.subarray(0, allowed);
        s.queue[0] = head.subarray(allowed);
      }
      s.queued -= chunk.length;
      s.sendWindow -= chunk.length;
      this.#sendWindow -= chunk.length;
      const last = s.queued === 0 && s.endQueued;
      const hdr = Buffer.allocUnsafe(9);
      writeFrameHeader(hdr, 0, chunk.length, FrameType.Data, last ? Flag.EndStream : 0, s.id);
      if (chunk.length < 512) this.#write(Buffer.concat([hdr, chunk], 9 + chunk.length));
      else {
        this.#write(hdr);
        this.#write(chunk);
      }
      if (last) {
        this.#localEnded(s);
        return;
      }
    }
    this.#blocked.delete(s);
    if (s.endQueued && !s.localEnded) {
      this.#write(frame(FrameType.Data, Flag.EndStream, s.id));
      this.#localEnded(s);
    }
    if (s.drainWaiters && !this.needsDrain(s)) this.#wake(s);
  }

  #localEnded(s: WireStream): void {
    s.localEnded = true;
    this.#blocked.delete(s);
    if (s.drainWaiters) this.#wake(s);
    if (s.remoteEnded) this.#forget(s);
  }

  #flushBlocked(): void {
    for (const s of [...this.#blocked]) {
      if (this.#sendWindow <= 0) return;
      this.#flushStream(s);
    }
  }

  #wake(s: WireStream): void {
    const waiters = s.drainWaiters;
    s.drainWaiters = undefined;
    if (waiters) for (const w of waiters) w();
  }

  #wakeDrainWaiters(): void {
    for (const s of this.#streams.values()) if (s.drainWaiters && !this.needsDrain(s)) this.#wake(s);
  }

  /** The stream is over on both sides (or reset): forget it and let a waiting stream start. */
  #forget(s: WireStream): void {
    if (s.closed) return;
    s.closed = true;
    this.#blocked.delete(s);
    if (s.drainWaiters) this.#wake(s);
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
    if (this.#partial && f.type !== FrameType.Continuation) {
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
      case FrameType.Headers: this.#onHeaders(f); break;
      case FrameType.Continuation: this.#onContinuation(f); break;
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

  #onHeaders(f: Frame): void {
    const block = unpad(f, true);
    if (!block) return this.#protocolError(ErrorCode.ProtocolError, 'a HEADERS frame with invalid padding');
    const endStream = (f.flags & Flag.EndStream) !== 0;
    if (f.flags & Flag.EndHeaders) this.#headerBlock(f.streamId, block, endStream);
    else this.#partial = { streamId: f.streamId, endStream, parts: [Buffer.from(block)], size: block.length };
  }

  #onContinuation(f: Frame): void {
    const p = this.#partial;
    if (!p || p.streamId !== f.streamId) return this.#protocolError(ErrorCode.ProtocolError, 'an unexpected CONTINUATION frame');
    p.parts.push(Buffer.from(f.payload)); // a copy: the payload is a view of a whole socket read
    p.size += f.payload.length;
    if (p.size > 4 * MAX_HEADER_LIST) return this.#protocolError(ErrorCode.ProtocolError, 'a header block over 256 KiB');
    // Empty or tiny CONTINUATION frames would grow the list without growing `size` (a flood node:http2 also stops).
    if (p.parts.length > MAX_CONTINUATIONS) return this.#protocolError(ErrorCode.EnhanceYourCalm, `a header block in more than ${MAX_CONTINUATIONS} CONTINUATION frames`);
    if (f.flags & Flag.EndHeaders) {
      this.#partial = undefined;
      this.#headerBlock(p.streamId, Buffer.concat(p.parts, p.size), p.endStream);
    }
  }

  #headerBlock(streamId: number, block: Buffer, endStream: boolean): void {
    let fields: Array<[string, string]>;
    try {
      // Always decoded, even for a stream we forgot: the dynamic table must follow every block.
      fields = this.#decoder.decode(block);
    } catch (err) {
      if (err instanceof HeaderListTooLarge) return this.#streamTooLarge(streamId);
      const why = err instanceof HpackError ? err.message : String(err);
      return this.#protocolError(ErrorCode.CompressionError, `the processor sent a header block we cannot decode: ${why}`);
    }
    const s = this.#streams.get(streamId);
    if (!s || s.remoteEnded) return;
    const map: HeaderMap = {};
    for (const [k, v] of fields) map[k] = v;
    // Informational (1xx) headers are not the response; gRPC servers do not send them, but they are legal.
    const status = map[':status'];
    if (!s.gotHeaders && status !== undefined && status.length === 3 && status[0] === '1' && !endStream) return;
    s.gotHeaders = true;
    if (endStream) this.#remoteEnded(s);
    s.sink.onHeaders(map, endStream);
    if (endStream && s.localEnded) this.#forget(s);
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
    const p = f.payload;
    if (p.length % 6 !== 0) return this.#protocolError(ErrorCode.FrameSizeError, 'a SETTINGS frame whose length is not a multiple of 6');
    for (let i = 0; i < p.length; i += 6) {
      const id = p.readUInt16BE(i);
      const v = p.readUInt32BE(i + 2);
      if (id === Setting.InitialWindowSize) {
        if (v > MAX_WINDOW) return this.#protocolError(ErrorCode.FlowControlError, 'SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1');
        const delta = v - this.#peerInitialWindow;
        this.#peerInitialWindow = v;
        for (const s of this.#streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) return this.#protocolError(ErrorCode.FlowControlError, `SETTINGS_INITIAL_WINDOW_SIZE took stream ${s.id}'s window over 2^31-1`);
        }
        for (const s of this.#waiting) s.sendWindow += delta;
      } else if (id === Setting.MaxFrameSize) {
        if (v < DEFAULT_MAX_FRAME || v > 0xff_ffff) return this.#protocolError(ErrorCode.ProtocolError, `SETTINGS_MAX_FRAME_SIZE ${v} is out of range`);
        this.#peerMaxFrame = v;
      } else if (id === Setting.EnablePush) {
        if (v !== 0) return this.#protocolError(ErrorCode.ProtocolError, 'the processor sent SETTINGS_ENABLE_PUSH other than 0 (servers must not)');
      } else if (id === Setting.MaxConcurrentStreams) {
        this.#peerMaxStreams = v;
      }
      // HEADER_TABLE_SIZE: we never index what we send, so the peer's table size does not constrain us.
    }
    this.#write(frame(FrameType.Settings, Flag.Ack, 0));
    if (!this.#ready) {
      this.#ready = true;
      if (this.#connectTimer) clearTimeout(this.#connectTimer);
      this.#events.onReady();
    }
    this.#startWaiting();
    this.#flushBlocked();
  }

  #onPing(f: Frame): void {
    if (f.payload.length !== 8) return this.#protocolError(ErrorCode.FrameSizeError, 'a PING frame that is not 8 bytes');
    if (f.flags & Flag.Ack) {
      const key = f.payload.toString('hex');
      const done = this.#pings.get(key);
      this.#pings.delete(key);
      done?.(true);
      return;
    }
    this.#write(frame(FrameType.Ping, Flag.Ack, 0, f.payload));
  }

  #onGoaway(f: Frame): void {
    if (f.payload.length < 8) return this.#protocolError(ErrorCode.FrameSizeError, 'a GOAWAY frame shorter than 8 bytes');
    const last = f.payload.readUInt32BE(0) & MAX_WINDOW;
    const code = f.payload.readUInt32BE(4);
    this.#goawayCode = code;
    const debug = f.payload.subarray(8).toString('latin1').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
    // Waiting streams never went out: refuse them first (#drain would too, with a vaguer reason), and no stream
    // starts on this connection any more, so forgetting one below cannot send a HEADERS after the GOAWAY.
    for (const s of this.#waiting.splice(0)) {
      s.closed = true;
      if (s.drainWaiters) this.#wake(s);
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
      this.#sendWindow += inc;
      if (this.#sendWindow > MAX_WINDOW) return this.#protocolError(ErrorCode.FlowControlError, 'the connection window went over 2^31-1');
      this.#flushBlocked();
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
    if (s.queued > 0) this.#flushStream(s);
  }

  // ---- ending ----

  #drain(loss: StreamLoss = { kind: 'refused', message: 'the connection takes no new streams' }): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#events.onDraining();
    // Streams still waiting for a slot will never start here (the next call dials anew).
    for (const s of this.#waiting.splice(0)) {
      s.closed = true;
      if (s.drainWaiters) this.#wake(s);
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
    const pings = [...this.#pings.values()];
    this.#pings.clear();
    for (const p of pings) p(false);
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
    this.#blocked.clear();
    this.#open = 0;
    for (const s of lost) {
      if (s.closed) continue;
      s.closed = true;
      if (s.drainWaiters) this.#wake(s);
      // A stream the peer never saw (no HTTP/2 yet, or still waiting for a slot) was not processed.
      s.sink.onLost({ kind: unconnected ? 'unconnected' : s.id === 0 ? 'refused' : 'lost', message });
    }
  }

  /** The GOAWAY code the peer sent, if any (for messages). */
  get goawayCode(): number | undefined {
    return this.#goawayCode;
  }
}
