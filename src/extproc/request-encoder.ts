/**
 * The gRPC frame of a ProcessingRequest (5-byte prefix + protobuf), written directly for the shapes the
 * session sends on every exchange: headers, bodies and trailers, with or without `protocol_config`.
 *
 * The generated codec builds a list of writer operations per field (one object each) and copies the finished
 * message once more into the gRPC frame: about 7 KB of garbage for a request and a response header map. Here the
 * header messages are written into one scratch buffer, nested lengths fixed up in place, then copied out once; a
 * body message, whose size is known up front, is written straight into its frame.
 *
 * The output is byte-for-byte what the generated codec writes (same field order, and a field is written when it
 * is an own property that is not null or undefined, default values included): request-encoder.test.ts compares
 * the two. Anything else (metadata_context, attributes, observability_mode, a value of an unexpected type) goes
 * through the generated codec.
 */
import type { ProcessingRequest } from './messages.js';
import { encodeRequest } from './messages.js';
import { frameMessage } from './grpc-framing.js';

const hasOwn = Object.prototype.hasOwnProperty;

/** The field as the generated codec sees it: an own property that is neither null nor undefined. */
function field(o: object, key: string): unknown {
  const v = (o as Record<string, unknown>)[key];
  return v != null && hasOwn.call(o, key) ? v : undefined;
}

/** Thrown (and caught below) when a message needs the generated codec. */
const GENERIC = Symbol('generic');

/** The scratch buffer header messages are written into; grown on demand, given back when it got large. */
let buf = Buffer.allocUnsafeSlow(16 * 1024);
let pos = 0;
const KEEP = 256 * 1024;

function ensure(n: number): void {
  if (pos + n <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + n) size *= 2;
  const next = Buffer.allocUnsafeSlow(size);
  buf.copy(next, 0, 0, pos);
  buf = next;
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Writes an unsigned varint (v < 2^32) at `at` into `into`; returns the position after it. */
function putVarint(into: Buffer, at: number, v: number): number {
  while (v > 0x7f) {
    into[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  into[at++] = v;
  return at;
}

/** Reserves one length byte for a nested message; `close` writes the length (moving the body if it needs more). */
function open(tag: number): number {
  ensure(2);
  buf[pos++] = tag;
  return pos++;
}

function close(at: number): void {
  const len = pos - at - 1;
  if (len < 0x80) {
    buf[at] = len;
    return;
  }
  const n = varintSize(len);
  ensure(n - 1);
  buf.copyWithin(at + n, at + 1, pos);
  pos += n - 1;
  putVarint(buf, at, len);
}

function str(tag: number, v: unknown): void {
  if (typeof v !== 'string') throw GENERIC;
  const max = v.length * 3;
  ensure(6 + max);
  buf[pos++] = tag;
  if (max < 0x80) {
    const n = buf.write(v, pos + 1, 'utf8');
    buf[pos] = n;
    pos += 1 + n;
  } else {
    pos = putVarint(buf, pos, Buffer.byteLength(v, 'utf8'));
    pos += buf.write(v, pos, 'utf8');
  }
}

function bytes(tag: number, v: unknown): void {
  if (!(v instanceof Uint8Array)) throw GENERIC;
  ensure(6 + v.length);
  buf[pos++] = tag;
  pos = putVarint(buf, pos, v.length);
  buf.set(v, pos);
  pos += v.length;
}

function bool(tag: number, v: unknown): void {
  ensure(2);
  buf[pos++] = tag;
  buf[pos++] = v ? 1 : 0;
}

function int32(tag: number, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw GENERIC;
  ensure(6);
  buf[pos++] = tag;
  pos = putVarint(buf, pos, v);
}

/** envoy.config.core.v3.HeaderMap, as field `tag` of its parent. */
function headerMap(tag: number, m: unknown): void {
  if (typeof m !== 'object') throw GENERIC;
  const at = open(tag);
  const list = (m as { headers?: unknown }).headers;
  if (list != null) {
    if (!Array.isArray(list)) throw GENERIC;
    for (let i = 0; i < list.length; i++) {
      const h: unknown = list[i];
      if (h === null || typeof h !== 'object') throw GENERIC;
      const e = open(10);
      let v = field(h, 'key');
      if (v !== undefined) str(10, v);
      v = field(h, 'value');
      if (v !== undefined) str(18, v);
      v = field(h, 'rawValue');
      if (v !== undefined) bytes(26, v);
      close(e);
    }
  }
  close(at);
}

/** HttpHeaders (fields 2 and 3 of ProcessingRequest). */
function httpHeaders(tag: number, m: unknown): void {
  if (m === null || typeof m !== 'object') throw GENERIC;
  const at = open(tag);
  const h = field(m, 'headers');
  if (h !== undefined) headerMap(10, h);
  if (field(m, 'attributes') !== undefined) throw GENERIC;
  const eos = field(m, 'endOfStream');
  if (eos !== undefined) bool(24, eos);
  close(at);
}

/** HttpTrailers (fields 6 and 7). */
function httpTrailers(tag: number, m: unknown): void {
  if (m === null || typeof m !== 'object') throw GENERIC;
  const at = open(tag);
  const t = field(m, 'trailers');
  if (t !== undefined) headerMap(10, t);
  close(at);
}

const BODY_FLAGS = [
  ['endOfStream', 16],
  ['endOfStreamWithoutMessage', 24],
  ['grpcMessageCompressed', 32],
] as const;

/** HttpBody (fields 4 and 5). */
function httpBody(tag: number, m: unknown): void {
  if (m === null || typeof m !== 'object') throw GENERIC;
  const at = open(tag);
  const b = field(m, 'body');
  if (b !== undefined) bytes(10, b);
  for (const [name, t] of BODY_FLAGS) {
    const v = field(m, name);
    if (v !== undefined) bool(t, v);
  }
  close(at);
}

function protocolConfig(m: unknown): void {
  if (m === null || typeof m !== 'object') throw GENERIC;
  const at = open(90);
  let v = field(m, 'requestBodyMode');
  if (v !== undefined) int32(8, v);
  v = field(m, 'responseBodyMode');
  if (v !== undefined) int32(16, v);
  v = field(m, 'sendBodyWithoutWaitingForHeaderResponse');
  if (v !== undefined) bool(24, v);
  close(at);
}

/** Writes the message after the 5 bytes of the gRPC prefix; throws GENERIC for a shape handled elsewhere. */
function write(msg: ProcessingRequest): void {
  let v = field(msg, 'requestHeaders');
  if (v !== undefined) httpHeaders(18, v);
  v = field(msg, 'responseHeaders');
  if (v !== undefined) httpHeaders(26, v);
  v = field(msg, 'requestBody');
  if (v !== undefined) httpBody(34, v);
  v = field(msg, 'responseBody');
  if (v !== undefined) httpBody(42, v);
  v = field(msg, 'requestTrailers');
  if (v !== undefined) httpTrailers(50, v);
  v = field(msg, 'responseTrailers');
  if (v !== undefined) httpTrailers(58, v);
  if (field(msg, 'metadataContext') !== undefined || field(msg, 'attributes') !== undefined || field(msg, 'observabilityMode') !== undefined) {
    throw GENERIC;
  }
  v = field(msg, 'protocolConfig');
  if (v !== undefined) protocolConfig(v);
}

/**
 * A body message's frame written in one pass into a buffer of its exact size, so the body is copied once: a
 * ProcessingRequest holding only `requestBody` or `responseBody` (a Uint8Array `body` and the flags). Undefined
 * for any other shape.
 */
function bodyFrame(msg: ProcessingRequest): Buffer | undefined {
  let tag = 34;
  let m: unknown = field(msg, 'requestBody');
  if (m === undefined) {
    tag = 42;
    m = field(msg, 'responseBody');
  }
  if (m === null || typeof m !== 'object') return undefined;
  for (const k in msg) {
    if ((k === 'requestBody' && tag === 34) || (k === 'responseBody' && tag === 42)) continue;
    if ((msg as Record<string, unknown>)[k] != null) return undefined;
  }
  const body = field(m, 'body');
  if (body !== undefined && !(body instanceof Uint8Array)) return undefined;
  let inner = 0;
  if (body !== undefined) inner += 1 + varintSize(body.length) + body.length;
  for (const [name] of BODY_FLAGS) if (field(m, name) !== undefined) inner += 2;
  const size = 1 + varintSize(inner) + inner;
  const out = Buffer.allocUnsafe(5 + size);
  out[0] = 0;
  out.writeUInt32BE(size, 1);
  out[5] = tag;
  let at = putVarint(out, 6, inner);
  if (body !== undefined) {
    out[at++] = 10;
    at = putVarint(out, at, body.length);
    out.set(body, at);
    at += body.length;
  }
  for (const [name, t] of BODY_FLAGS) {
    const v = field(m, name);
    if (v !== undefined) {
      out[at++] = t;
      out[at++] = v ? 1 : 0;
    }
  }
  return out;
}

/** The gRPC frame (uncompressed) of `msg`. Throws what the generated codec throws for a message it cannot encode. */
export function encodeFramedRequest(msg: ProcessingRequest): Buffer {
  const direct = bodyFrame(msg);
  if (direct !== undefined) return direct;
  pos = 5;
  try {
    write(msg);
  } catch (err) {
    if (err !== GENERIC) throw err;
    return frameMessage(encodeRequest(msg));
  }
  const len = pos - 5;
  buf[0] = 0;
  buf.writeUInt32BE(len, 1);
  const out = Buffer.allocUnsafe(pos);
  buf.copy(out, 0, 0, pos);
  if (buf.length > KEEP) buf = Buffer.allocUnsafeSlow(16 * 1024);
  return out;
}
