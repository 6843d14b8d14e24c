/**
 * HTTP/2 frame layout (RFC 9113 §4, §6): the 9-byte frame header, the frame types, flags, settings and error codes
 * the ext_proc client uses, and a reader that cuts a socket's byte stream into whole frames. Pure: no I/O.
 */

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const enum FrameType {
  Data = 0x0,
  Headers = 0x1,
  Priority = 0x2,
  RstStream = 0x3,
  Settings = 0x4,
  PushPromise = 0x5,
  Ping = 0x6,
  Goaway = 0x7,
  WindowUpdate = 0x8,
  Continuation = 0x9,
}

export const enum Flag {
  EndStream = 0x1,
  Ack = 0x1,
  EndHeaders = 0x4,
  Padded = 0x8,
  Priority = 0x20,
}

export const enum Setting {
  HeaderTableSize = 0x1,
  EnablePush = 0x2,
  MaxConcurrentStreams = 0x3,
  InitialWindowSize = 0x4,
  MaxFrameSize = 0x5,
  MaxHeaderListSize = 0x6,
}

/** Error codes (RFC 9113 §7), indexed by code for messages. */
export const ERROR_NAMES = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT',
  'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'] as const;

export const enum ErrorCode {
  NoError = 0x0,
  ProtocolError = 0x1,
  InternalError = 0x2,
  FlowControlError = 0x3,
  FrameSizeError = 0x6,
  RefusedStream = 0x7,
  Cancel = 0x8,
  CompressionError = 0x9,
  EnhanceYourCalm = 0xb,
}

/** Frame names for messages. */
const FRAME_NAMES = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'];

/**
 * Why a frame cannot be on its stream id (RFC 9113 §5.1, §6), for a client whose next stream id is `nextId`:
 * connection-level frames on a stream, stream frames on stream 0, or a stream it never opened (even ids: push is
 * off; odd ids at or above `nextId`). Undefined when the id is fine.
 */
export function streamIdProblem(f: Frame, nextId: number): string | undefined {
  const id = f.streamId;
  const name = FRAME_NAMES[f.type] ?? `type ${f.type}`;
  const neverOpened = id % 2 === 0 || id >= nextId;
  switch (f.type) {
    case FrameType.Settings:
    case FrameType.Ping:
    case FrameType.Goaway:
      return id === 0 ? undefined : `${name} on stream ${id} (it belongs on stream 0)`;
    case FrameType.Data:
    case FrameType.Headers:
    case FrameType.RstStream:
      if (id === 0) return `${name} on stream 0`;
      return neverOpened ? `${name} on stream ${id}, which we never opened` : undefined;
    case FrameType.WindowUpdate:
      return id !== 0 && neverOpened ? `WINDOW_UPDATE on stream ${id}, which we never opened` : undefined;
    default:
      return undefined;
  }
}

/** A DATA or HEADERS payload without its padding (and HEADERS priority fields); undefined when the padding is invalid. */
export function unpad(f: Frame, headers: boolean): Buffer | undefined {
  let p = f.payload;
  let pad = 0;
  if (f.flags & Flag.Padded) {
    if (p.length < 1) return undefined;
    pad = p[0]!;
    p = p.subarray(1);
  }
  if (headers && f.flags & Flag.Priority) {
    if (p.length < 5) return undefined;
    p = p.subarray(5);
  }
  if (pad > p.length) return undefined;
  return pad === 0 ? p : p.subarray(0, p.length - pad);
}

/** The name of an error code for messages ("INTERNAL_ERROR", or the number for unknown codes). */
export const errorName = (code: number): string => ERROR_NAMES[code] ?? `0x${code.toString(16)}`;

/** Protocol defaults before the peer's SETTINGS say otherwise. */
export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME = 16_384;
export const MAX_WINDOW = 0x7fff_ffff;

/** A whole frame with no payload copy; `payload` is a view into the received bytes. */
export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** Writes a frame header into `out` at `at` (the payload follows it). */
export function writeFrameHeader(out: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  out[at] = length >>> 16;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(streamId & MAX_WINDOW, at + 5);
}

/** A frame with a small payload, in one buffer. */
export function frame(type: number, flags: number, streamId: number, payload?: Uint8Array): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(9 + length);
  writeFrameHeader(out, 0, length, type, flags, streamId);
  if (payload) out.set(payload, 9);
  return out;
}

/** A WINDOW_UPDATE frame. */
export function windowUpdate(streamId: number, increment: number): Buffer {
  const out = Buffer.allocUnsafe(13);
  writeFrameHeader(out, 0, 4, FrameType.WindowUpdate, 0, streamId);
  out.writeUInt32BE(increment, 9);
  return out;
}

/** A RST_STREAM frame. */
export function rstStream(streamId: number, code: number): Buffer {
  const out = Buffer.allocUnsafe(13);
  writeFrameHeader(out, 0, 4, FrameType.RstStream, 0, streamId);
  out.writeUInt32BE(code, 9);
  return out;
}

/** A GOAWAY frame (no debug data). */
export function goaway(lastStreamId: number, code: number): Buffer {
  const out = Buffer.allocUnsafe(17);
  writeFrameHeader(out, 0, 8, FrameType.Goaway, 0, 0);
  out.writeUInt32BE(lastStreamId, 9);
  out.writeUInt32BE(code, 13);
  return out;
}

/** A SETTINGS frame from id/value pairs. */
export function settings(pairs: ReadonlyArray<readonly [number, number]>): Buffer {
  const out = Buffer.allocUnsafe(9 + 6 * pairs.length);
  writeFrameHeader(out, 0, 6 * pairs.length, FrameType.Settings, 0, 0);
  pairs.forEach(([id, value], i) => {
    out.writeUInt16BE(id, 9 + 6 * i);
    out.writeUInt32BE(value, 11 + 6 * i);
  });
  return out;
}

/** A frame we cannot accept: the connection error to send and why. */
export interface FrameProblem {
  readonly code: number;
  readonly message: string;
}

/**
 * The id/value pairs of a (non-ACK) SETTINGS payload from the server, in order, or the connection error its
 * layout or values make (RFC 9113 §6.5.2). Unknown ids are kept; the caller ignores them.
 */
export function parseSettings(p: Buffer): Array<[number, number]> | FrameProblem {
  if (p.length % 6 !== 0) return { code: ErrorCode.FrameSizeError, message: 'a SETTINGS frame whose length is not a multiple of 6' };
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < p.length; i += 6) {
    const id = p.readUInt16BE(i);
    const v = p.readUInt32BE(i + 2);
    if (id === Setting.InitialWindowSize && v > MAX_WINDOW) return { code: ErrorCode.FlowControlError, message: 'SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1' };
    if (id === Setting.MaxFrameSize && (v < DEFAULT_MAX_FRAME || v > 0xff_ffff)) return { code: ErrorCode.ProtocolError, message: `SETTINGS_MAX_FRAME_SIZE ${v} is out of range` };
    if (id === Setting.EnablePush && v !== 0) return { code: ErrorCode.ProtocolError, message: 'the processor sent SETTINGS_ENABLE_PUSH other than 0 (servers must not)' };
    pairs.push([id, v]);
  }
  return pairs;
}

/** A GOAWAY payload: the last stream the peer processed, its error code and printable debug text (or undefined when short). */
export function parseGoaway(p: Buffer): { readonly last: number; readonly code: number; readonly debug: string } | undefined {
  if (p.length < 8) return undefined;
  return {
    last: p.readUInt32BE(0) & MAX_WINDOW,
    code: p.readUInt32BE(4),
    debug: p.subarray(8).toString('latin1').replace(/[^\x20-\x7e]/g, '?').slice(0, 200),
  };
}

/** The frame whose header starts at `at` in `buf` (its payload a view, not a copy). */
function frameAt(buf: Buffer, at: number, length: number): Frame {
  return {
    type: buf[at + 3]!,
    flags: buf[at + 4]!,
    streamId: buf.readUInt32BE(at + 5) & MAX_WINDOW,
    payload: buf.subarray(at + 9, at + 9 + length),
  };
}

/**
 * Cuts a byte stream into frames. A frame spanning socket reads is reassembled (bounded by `maxFrameSize`); a
 * frame inside one read is handed out as a view, without copying.
 */
export class FrameReader {
  #rest: Buffer | undefined;
  readonly #maxFrameSize: number;

  constructor(maxFrameSize: number) {
    this.#maxFrameSize = maxFrameSize;
  }

  /**
   * Calls `onFrame` for each whole frame in `chunk` (plus what earlier reads left). Returns an error message when
   * a frame is larger than we allowed (a connection error, FRAME_SIZE_ERROR); `onFrame` returning false stops.
   */
  push(chunk: Buffer, onFrame: (f: Frame) => boolean): string | undefined {
    let buf = chunk;
    if (this.#rest) {
      // Finish the frame the last read cut, copying only that frame's bytes; the rest of `chunk` is then read
      // in place (large DATA frames span socket reads all the time).
      let head = this.#rest;
      let used = 0;
      if (head.length < 9) {
        used = Math.min(9 - head.length, chunk.length);
        head = Buffer.concat([head, chunk.subarray(0, used)]);
        if (head.length < 9) {
          this.#rest = head;
          return undefined;
        }
      }
      const length = (head[0]! << 16) | (head[1]! << 8) | head[2]!;
      if (length > this.#maxFrameSize) return this.#tooBig(length);
      const need = 9 + length - head.length;
      if (chunk.length - used < need) {
        this.#rest = Buffer.concat([head, chunk.subarray(used)]);
        return undefined;
      }
      this.#rest = undefined;
      const whole = need > 0 ? Buffer.concat([head, chunk.subarray(used, used + need)]) : head;
      if (!onFrame(frameAt(whole, 0, length))) return undefined;
      buf = chunk.subarray(used + need);
    }
    let at = 0;
    const end = buf.length;
    while (end - at >= 9) {
      const length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
      if (length > this.#maxFrameSize) return this.#tooBig(length);
      if (end - at < 9 + length) break;
      const f = frameAt(buf, at, length);
      at += 9 + length;
      if (!onFrame(f)) return undefined;
    }
    // What is left is part of one frame (at most a frame's worth): keep it as a view until the next read.
    if (at < end) this.#rest = at === 0 ? buf : buf.subarray(at);
    return undefined;
  }

  #tooBig(length: number): string {
    return `the peer sent a ${length}-byte frame, over our ${this.#maxFrameSize}-byte SETTINGS_MAX_FRAME_SIZE`;
  }
}
