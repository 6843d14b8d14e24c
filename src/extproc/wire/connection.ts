/**
 * One client HTTP/2 connection on a socket we own: the connection preface, SETTINGS, PING, GOAWAY, RST_STREAM,
 * both directions of flow control, HPACK-decoded HEADERS/CONTINUATION, and odd stream ids in order.
 *
 * It is the part of HTTP/2 a gRPC client needs and nothing else (no server push, no priorities, no dynamic-table
 * encoding). Doing this ourselves instead of through node:http2 removes the per-stream Duplex, AsyncResource and
 * header-object machinery that dominated the ext_proc path's CPU (docs/ext-proc-transport.md has the numbers).
 *
 * This file handles the frames the peer sends; ConnectionCore (connection-core.ts) owns the socket, the streams,
 * sending (SendFlow, send.ts) and failure.
 */
import { ErrorCode, Flag, FrameType, MAX_WINDOW, Setting, errorName, frame, parseGoaway, parseSettings, streamIdProblem, unpad, windowUpdate, type Frame } from './frames.js';
import { HeaderBlocks, type BlockResult } from './header-block.js';
import { CONNECTION_WINDOW, FLOOD_BYTES, MAX_HEADER_LIST } from './limits.js';
import { pingAck } from './pings.js';
import { ConnectionCore } from './connection-core.js';
import { wake, type HeaderMap, type WireStream } from './stream.js';

export { WireStream, type ConnectionEvents, type DialOptions, type HeaderMap, type StreamLoss, type StreamSink } from './stream.js';

export class WireConnection extends ConnectionCore {
  readonly #headerBlocks = new HeaderBlocks();
  /** Connection-level bytes received and not yet given back by a WINDOW_UPDATE. */
  #recvUnacked = 0;

  protected readonly onFrame = (f: Frame): boolean => {
    if (this.closed) return false;
    if ((f.type === FrameType.Ping || f.type === FrameType.Settings) && this.socket.writableLength > FLOOD_BYTES) {
      this.protocolError(ErrorCode.EnhanceYourCalm, `the processor keeps sending ${f.type === FrameType.Ping ? 'PING' : 'SETTINGS'} frames without reading our answers (flood)`);
      return false;
    }
    if (!this.ready && f.type !== FrameType.Settings) {
      this.protocolError(ErrorCode.ProtocolError, 'the processor did not start with a SETTINGS frame (is it an HTTP/2 gRPC server?)');
      return false;
    }
    if (this.#headerBlocks.pending && f.type !== FrameType.Continuation) {
      this.protocolError(ErrorCode.ProtocolError, 'a header block was interrupted by another frame');
      return false;
    }
    const problem = streamIdProblem(f, this.nextId);
    if (problem) {
      this.protocolError(ErrorCode.ProtocolError, problem);
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
      case FrameType.PushPromise: this.protocolError(ErrorCode.ProtocolError, 'the processor sent PUSH_PROMISE although push is disabled'); break;
      default: break; // PRIORITY and unknown types are ignored (RFC 9113 §5.5)
    }
    return !this.closed;
  };

  #onData(f: Frame): void {
    const len = f.payload.length;
    this.#recvUnacked += len;
    if (this.#recvUnacked >= CONNECTION_WINDOW / 2) {
      this.writeFrame(windowUpdate(0, this.#recvUnacked));
      this.#recvUnacked = 0;
    }
    const s = this.streams.get(f.streamId);
    if (!s || s.remoteEnded) return; // a stream we reset or finished: its bytes count for the connection only
    const body = unpad(f, false);
    if (!body) return this.protocolError(ErrorCode.ProtocolError, 'a DATA frame with invalid padding');
    if (!s.gotHeaders) return this.protocolError(ErrorCode.ProtocolError, `DATA on stream ${s.id} before its response HEADERS`);
    s.recvWindow -= len;
    if (s.recvWindow < 0) return this.protocolError(ErrorCode.FlowControlError, `the processor overran stream ${s.id}'s flow-control window`);
    // Padding is never delivered, so give it back now.
    if (len > body.length) this.consumed(s, len - body.length);
    const end = (f.flags & Flag.EndStream) !== 0;
    if (end) this.#remoteEnded(s);
    s.sink.onData(body, end);
    if (end && s.localEnded) this.forget(s);
  }

  #onHeaderBlock(r: BlockResult): void {
    if (r.kind === 'partial') return;
    if (r.kind === 'error') return this.protocolError(r.code, r.message);
    if (r.kind === 'too-large') return this.#streamTooLarge(r.streamId);
    const s = this.streams.get(r.streamId);
    if (!s || s.remoteEnded) return;
    const map: HeaderMap = {};
    for (const [k, v] of r.fields) map[k] = v;
    // Informational (1xx) headers are not the response; gRPC servers do not send them, but they are legal.
    const status = map[':status'];
    if (!s.gotHeaders && status !== undefined && status.length === 3 && status[0] === '1' && !r.endStream) return;
    s.gotHeaders = true;
    if (r.endStream) this.#remoteEnded(s);
    s.sink.onHeaders(map, r.endStream);
    if (r.endStream && s.localEnded) this.forget(s);
  }

  /** A stream's headers or trailers were over our MAX_HEADER_LIST_SIZE: that stream fails, the others go on. */
  #streamTooLarge(streamId: number): void {
    const s = this.streams.get(streamId);
    if (!s || s.remoteEnded) return;
    this.reset(s, ErrorCode.ProtocolError);
    s.sink.onLost({ kind: 'protocol', message: `sent a header list over ${MAX_HEADER_LIST} bytes (our SETTINGS_MAX_HEADER_LIST_SIZE)` });
  }

  #remoteEnded(s: WireStream): void {
    s.remoteEnded = true;
  }

  #onRst(f: Frame): void {
    if (f.payload.length !== 4) return this.protocolError(ErrorCode.FrameSizeError, 'a RST_STREAM frame that is not 4 bytes');
    const s = this.streams.get(f.streamId);
    if (!s) return;
    const code = f.payload.readUInt32BE(0);
    this.forget(s);
    s.sink.onLost(code === ErrorCode.RefusedStream ? { kind: 'refused', message: 'REFUSED_STREAM' } : { kind: 'reset', message: errorName(code) });
  }

  #onSettings(f: Frame): void {
    if (f.flags & Flag.Ack) {
      if (f.payload.length !== 0) this.protocolError(ErrorCode.FrameSizeError, 'a SETTINGS ACK with a payload');
      return;
    }
    const pairs = parseSettings(f.payload);
    if (!Array.isArray(pairs)) return this.protocolError(pairs.code, pairs.message);
    for (const [id, v] of pairs) {
      if (id === Setting.InitialWindowSize) {
        const delta = v - this.peerInitialWindow;
        this.peerInitialWindow = v;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) return this.protocolError(ErrorCode.FlowControlError, `SETTINGS_INITIAL_WINDOW_SIZE took stream ${s.id}'s window over 2^31-1`);
        }
        for (const s of this.waiting) s.sendWindow += delta;
      } else if (id === Setting.MaxFrameSize) this.sendFlow.maxFrame = v;
      else if (id === Setting.MaxConcurrentStreams) this.peerMaxStreams = v;
      // HEADER_TABLE_SIZE: we never index what we send, so the peer's table size does not constrain us.
    }
    this.writeFrame(frame(FrameType.Settings, Flag.Ack, 0));
    this.markReady();
    this.startWaiting();
    this.sendFlow.flushBlocked();
  }

  #onPing(f: Frame): void {
    if (f.payload.length !== 8) return this.protocolError(ErrorCode.FrameSizeError, 'a PING frame that is not 8 bytes');
    if (f.flags & Flag.Ack) this.pings.acked(f.payload);
    else this.writeFrame(pingAck(f.payload));
  }

  #onGoaway(f: Frame): void {
    const g = parseGoaway(f.payload);
    if (!g) return this.protocolError(ErrorCode.FrameSizeError, 'a GOAWAY frame shorter than 8 bytes');
    const { last, code, debug } = g;
    this.peerGoawayCode = code;
    // Waiting streams never went out: refuse them first (drain would too, with a vaguer reason), and no stream
    // starts on this connection any more, so forgetting one below cannot send a HEADERS after the GOAWAY.
    for (const s of this.waiting.splice(0)) {
      s.closed = true;
      if (s.drainWaiters) wake(s);
      s.sink.onLost({ kind: 'refused', message: `GOAWAY ${errorName(code)}` });
    }
    this.drain();
    // Streams above `last` were never processed: they may be retried elsewhere (reported as refused).
    for (const s of [...this.streams.values()]) {
      if (s.id > last) {
        this.forget(s);
        s.sink.onLost({ kind: 'refused', message: `GOAWAY ${errorName(code)}${debug ? `: ${debug}` : ''}` });
      }
    }
    if (code !== ErrorCode.NoError) {
      // An error GOAWAY ends the connection (RFC 9113 §5.4.1): streams still open on it will not complete.
      this.fail(`the processor sent GOAWAY ${errorName(code)}${debug ? `: ${debug}` : ''}`);
      return;
    }
    this.closeIfIdle();
  }

  #onWindowUpdate(f: Frame): void {
    if (f.payload.length !== 4) return this.protocolError(ErrorCode.FrameSizeError, 'a WINDOW_UPDATE frame that is not 4 bytes');
    const inc = f.payload.readUInt32BE(0) & MAX_WINDOW;
    if (f.streamId === 0) {
      if (inc === 0) return this.protocolError(ErrorCode.ProtocolError, 'a connection WINDOW_UPDATE of 0');
      if (!this.sendFlow.grow(inc)) this.protocolError(ErrorCode.FlowControlError, 'the connection window went over 2^31-1');
      return;
    }
    const s = this.streams.get(f.streamId);
    if (!s) return;
    if (inc === 0 || s.sendWindow + inc > MAX_WINDOW) {
      const code = inc === 0 ? ErrorCode.ProtocolError : ErrorCode.FlowControlError;
      this.reset(s, code);
      s.sink.onLost({ kind: 'lost', message: `the processor sent an invalid WINDOW_UPDATE on the stream (${errorName(code)})` });
      return;
    }
    s.sendWindow += inc;
    if (s.queued > 0) this.sendFlow.flush(s);
  }
}
