// The raw bench ext_proc processor: a no-op for headers and trailers, served on plain TCP sockets with the HTTP/2
// server side written out here (h2c, prior knowledge), so it costs a few tens of µs per exchange where the
// node:http2 one (processor-lean.mjs) costs about a hundred. It shares CPU 1 with wrk and the upstream; at the
// ext_proc cells' rates the node:http2 processor used most of that core, which capped the cells below what the
// gateway on CPU 0 could do. Compiled processors (Go, Rust, C++ grpc) cost about what this one does.
// Prints "PORT n" when listening.
//
// Scope, deliberately small (a bench tool, not a server for users):
//   - every stream is taken as an ext_proc Process call (the gateway opens no other kind), header blocks are not
//     decoded, and the HPACK table size is advertised as 0 so a header block never refers to an earlier one;
//   - request/response headers and trailers → CONTINUE without mutation (the same bytes as processor-lean.mjs);
//     observability_mode messages get no reply; a body message ends the call with UNIMPLEMENTED;
//   - flow control: our receive windows are opened to 2^31-1 and topped up; what we send waits for the gateway's
//     windows; SETTINGS are acknowledged, PINGs answered, RST_STREAM and GOAWAY obeyed.
import net from 'node:net';
import { FrameReader, frame, settings, windowUpdate } from '../../dist/extproc/wire/frames.js';
import { encodeIndexedStatic, encodeLiteral, encodeLiteralIndexedName } from '../../dist/extproc/wire/hpack.js';
import { FrameDecoder, frameMessage } from '../../dist/extproc/grpc-framing.js';
import { pb } from '../../dist/extproc/messages.js';

// RFC 9113 numbers (frames.ts has them as const enums, which do not survive compilation).
const DATA = 0x0, HEADERS = 0x1, RST_STREAM = 0x3, SETTINGS = 0x4, PING = 0x6, GOAWAY = 0x7, WINDOW_UPDATE = 0x8, CONTINUATION = 0x9;
const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8;
const SETTINGS_HEADER_TABLE_SIZE = 0x1, SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const PREFACE_LENGTH = 24;
const MAX_WINDOW = 0x7fff_ffff;
const DEFAULT_WINDOW = 65_535;
const MAX_FRAME = 16_384; // we never raise SETTINGS_MAX_FRAME_SIZE
const TOP_UP = 1 << 30; // receive bytes after which a window is topped up again

const reply = (r) => frameMessage(pb.ProcessingResponse.encode(r).finish());
// The ProcessingRequest oneof field → the constant reply (field numbers from external_processor.proto).
const REPLIES = new Map([
  [2, reply({ requestHeaders: { response: {} } })],
  [3, reply({ responseHeaders: { response: {} } })],
  [6, reply({ requestTrailers: {} })],
  [7, reply({ responseTrailers: {} })],
]);
const OBSERVABILITY_MODE = 10;

const HEAD = Buffer.concat([encodeIndexedStatic(':status', '200'), encodeLiteralIndexedName('content-type', 'application/grpc')]);
const OK = encodeLiteral('grpc-status', '0');
const failure = (code, message) => Buffer.concat([encodeLiteral('grpc-status', String(code)), encodeLiteral('grpc-message', encodeURIComponent(message))]);

/** Which ProcessingRequest phase `msg` carries, and whether it is in observability mode (top-level fields only). */
function phaseOf(msg) {
  let phase = 0;
  let observe = false;
  let at = 0;
  const varint = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      if (at >= msg.length || shift > 49) throw new Error('truncated varint');
      const b = msg[at++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (at < msg.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const v = varint();
      if (field === OBSERVABILITY_MODE) observe = v !== 0;
    } else if (wire === 2) {
      const n = varint();
      if (at + n > msg.length) throw new Error('truncated field');
      if (field >= 2 && field <= 7) phase = field;
      at += n;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error(`wire type ${wire}`);
  }
  return { phase, observe };
}

class Stream {
  constructor(id, sendWindow) {
    this.id = id;
    this.sendWindow = sendWindow;
    this.decoder = new FrameDecoder(MAX_FRAME * 64);
    this.headSent = false;
    this.received = 0; // bytes since the last window top-up
    this.queue = []; // DATA payloads waiting for send window
    this.trailer = undefined; // the trailing header block, sent once the queue is empty
    this.done = false; // our status is decided: ignore further messages
  }
}

class Connection {
  constructor(socket) {
    this.socket = socket;
    this.reader = new FrameReader(MAX_FRAME);
    this.preface = PREFACE_LENGTH; // bytes of the client preface still to skip
    this.streams = new Map();
    this.lastId = 0;
    this.sendWindow = DEFAULT_WINDOW;
    this.peerInitialWindow = DEFAULT_WINDOW;
    this.received = 0;
    this.continuing = 0; // stream id of a header block awaiting CONTINUATION
    this.continuingEnd = false; // that block's HEADERS had END_STREAM
    this.out = [];
    this.onFrame = this.onFrame.bind(this);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.streams.clear());
    this.out.push(settings([[SETTINGS_HEADER_TABLE_SIZE, 0], [SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW]]), windowUpdate(0, MAX_WINDOW - DEFAULT_WINDOW));
    this.flushOut();
  }

  onData(chunk) {
    if (this.preface > 0) {
      const skip = Math.min(this.preface, chunk.length);
      this.preface -= skip;
      chunk = chunk.subarray(skip);
      if (chunk.length === 0) return;
    }
    const problem = this.reader.push(chunk, this.onFrame);
    if (problem !== undefined) return this.socket.destroy();
    this.flushOut();
  }

  flushOut() {
    if (this.out.length === 0) return;
    this.socket.write(this.out.length === 1 ? this.out[0] : Buffer.concat(this.out));
    this.out = [];
  }

  onFrame(f) {
    if (this.continuing !== 0 && f.type !== CONTINUATION) {
      this.socket.destroy(); // a header block was interrupted: PROTOCOL_ERROR
      return false;
    }
    switch (f.type) {
      case HEADERS: return this.onHeaders(f);
      case CONTINUATION:
        if ((f.flags & END_HEADERS) !== 0) {
          const s = this.streams.get(this.continuing);
          this.continuing = 0;
          if (s && this.continuingEnd) this.onEnd(s);
        }
        return true;
      case DATA: return this.onDataFrame(f);
      case SETTINGS: return this.onSettings(f);
      case PING:
        if ((f.flags & ACK) === 0) this.out.push(frame(PING, ACK, 0, f.payload));
        return true;
      case WINDOW_UPDATE: return this.onWindowUpdate(f);
      case RST_STREAM:
        this.streams.delete(f.streamId);
        return true;
      case GOAWAY:
        this.flushOut();
        this.socket.end();
        return false;
      default:
        return true; // PRIORITY and unknown types: ignore (RFC 9113 §5.5)
    }
  }

  onHeaders(f) {
    const id = f.streamId;
    if (id <= this.lastId || id % 2 === 0) {
      // Trailers from the gateway on an open stream end its side; anything else is a protocol error.
      const s = this.streams.get(id);
      if (!s) return true;
      if ((f.flags & END_HEADERS) === 0) {
        this.continuing = id;
        this.continuingEnd = true;
      } else this.onEnd(s);
      return true;
    }
    this.lastId = id;
    const s = new Stream(id, this.peerInitialWindow);
    this.streams.set(id, s);
    const endStream = (f.flags & END_STREAM) !== 0;
    if ((f.flags & END_HEADERS) === 0) {
      this.continuing = id;
      this.continuingEnd = endStream;
    } else if (endStream) this.onEnd(s);
    return true;
  }

  onDataFrame(f) {
    let payload = f.payload;
    if ((f.flags & PADDED) !== 0) payload = payload.subarray(1, payload.length - payload[0]);
    this.received += f.payload.length;
    if (this.received >= TOP_UP) {
      this.out.push(windowUpdate(0, this.received));
      this.received = 0;
    }
    const s = this.streams.get(f.streamId);
    if (!s) return true;
    s.received += f.payload.length;
    if (s.received >= TOP_UP) {
      this.out.push(windowUpdate(s.id, s.received));
      s.received = 0;
    }
    if (!s.done && payload.length > 0) {
      const { messages, error } = s.decoder.push(payload);
      for (const m of messages) {
        if (s.done) break;
        this.onMessage(s, m);
      }
      if (error !== undefined) this.finish(s, failure(13, error));
    }
    if ((f.flags & END_STREAM) !== 0) this.onEnd(s);
    return true;
  }

  onMessage(s, msg) {
    let p;
    try {
      p = phaseOf(msg);
    } catch (err) {
      return this.finish(s, failure(13, `cannot decode a ProcessingRequest: ${err.message}`));
    }
    const bytes = REPLIES.get(p.phase);
    if (bytes === undefined) return this.finish(s, failure(12, p.phase === 0 ? 'ProcessingRequest with no phase' : 'the raw bench processor answers headers and trailers only'));
    if (p.observe) return;
    this.sendHead(s);
    s.queue.push(bytes);
    this.drain(s);
  }

  /** The gateway half-closed its side. */
  onEnd(s) {
    if (s.done) return;
    this.finish(s, s.decoder.pendingBytes > 0 ? failure(13, 'the request stream ended inside a gRPC message') : OK);
  }

  /** Decides the call's status: the trailers go out after whatever replies are still waiting for window. */
  finish(s, block) {
    s.done = true;
    if (!s.headSent) {
      // Trailers-only: one header block with the status.
      s.headSent = true;
      s.queue.length = 0;
      this.out.push(frame(HEADERS, END_HEADERS | END_STREAM, s.id, Buffer.concat([HEAD, block])));
      this.streams.delete(s.id);
      return;
    }
    s.trailer = block;
    this.drain(s);
  }

  sendHead(s) {
    if (s.headSent) return;
    s.headSent = true;
    this.out.push(frame(HEADERS, END_HEADERS, s.id, HEAD));
  }

  /** Sends what the windows allow of `s`'s queue, then its trailers once the queue is empty. */
  drain(s) {
    while (s.queue.length > 0) {
      const b = s.queue[0];
      const n = Math.min(b.length, this.sendWindow, s.sendWindow);
      if (n <= 0) return;
      this.sendWindow -= n;
      s.sendWindow -= n;
      if (n === b.length) s.queue.shift();
      else s.queue[0] = b.subarray(n); // a window smaller than the reply: send what fits, the rest on WINDOW_UPDATE
      this.out.push(frame(DATA, 0, s.id, b.subarray(0, n)));
    }
    if (s.trailer !== undefined) {
      this.out.push(frame(HEADERS, END_HEADERS | END_STREAM, s.id, s.trailer));
      this.streams.delete(s.id);
    }
  }

  onSettings(f) {
    if ((f.flags & ACK) !== 0) return true;
    for (let at = 0; at + 6 <= f.payload.length; at += 6) {
      if (f.payload.readUInt16BE(at) !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
      const v = f.payload.readUInt32BE(at + 2);
      const delta = v - this.peerInitialWindow;
      this.peerInitialWindow = v;
      for (const s of this.streams.values()) s.sendWindow += delta;
    }
    this.out.push(frame(SETTINGS, ACK, 0));
    if (this.streams.size > 0) for (const s of [...this.streams.values()]) this.drain(s);
    return true;
  }

  onWindowUpdate(f) {
    const increment = f.payload.readUInt32BE(0) & MAX_WINDOW;
    if (f.streamId === 0) {
      this.sendWindow += increment;
      for (const s of [...this.streams.values()]) if (s.queue.length > 0) this.drain(s);
    } else {
      const s = this.streams.get(f.streamId);
      if (s) {
        s.sendWindow += increment;
        this.drain(s);
      }
    }
    return true;
  }
}

const server = net.createServer((socket) => new Connection(socket));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
