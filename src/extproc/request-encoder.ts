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
 * the two. One deliberate difference: a string with a lone UTF-16 surrogate gets U+FFFD (valid UTF-8), where the
 * generated codec writes the surrogate's bytes, which strict decoders reject. Header values never reach that
 * case: they are latin1 and go out as raw bytes. Anything else (metadata_context, attributes, observability_mode, a value of an unexpected type) goes
 * through the generated codec.
 */
import type { ProcessingRequest } from './messages.js';
import { encodeRequest } from './messages.js';
import { frameMessage } from './grpc-framing.js';
import { HeaderMapOut, pseudoValue } from './headers-out.js';

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Whether the generated codec writes a field: an own property that is neither null nor undefined. Callers read the
 * property by name first (a named load stays fast; a keyed one through a variable would not).
 */
function set(v: unknown, o: object, key: string): boolean {
  return v != null && hasOwn.call(o, key);
}

type Obj = Record<string, unknown>;

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

/** Node's Buffer methods behind `write(s, offset, 'utf8' | 'latin1')`, without its argument checks (offsets here are in range). */
const { utf8Write, latin1Write } = Buffer.prototype as unknown as {
  utf8Write(this: Buffer, s: string, offset: number): number;
  latin1Write(this: Buffer, s: string, offset: number): number;
};

function str(tag: number, v: unknown): void {
  if (typeof v !== 'string') throw GENERIC;
  const max = v.length * 3;
  ensure(6 + max);
  buf[pos++] = tag;
  if (max < 0x80) {
    const n = utf8Write.call(buf, v, pos + 1);
    buf[pos] = n;
    pos += 1 + n;
  } else {
    pos = putVarint(buf, pos, Buffer.byteLength(v, 'utf8'));
    pos += utf8Write.call(buf, v, pos);
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

/** A HeaderMapOut: key and raw_value from its strings (values are latin1: one byte per char), pseudo-headers' value. */
function headerStrings(m: HeaderMapOut): void {
  const f = m.flat;
  const pseudoEnd = m.pseudo * 2;
  for (let i = 0; i < f.length; i += 2) {
    const e = open(10);
    str(10, f[i]);
    const v = f[i + 1]!;
    if (i < pseudoEnd) str(18, pseudoValue(v));
    ensure(6 + v.length);
    buf[pos++] = 26;
    pos = putVarint(buf, pos, v.length);
    pos += latin1Write.call(buf, v, pos);
    close(e);
  }
}

/** envoy.config.core.v3.HeaderMap, as field `tag` of its parent. */
function headerMap(tag: number, m: unknown): void {
  if (m instanceof HeaderMapOut) {
    const at = open(tag);
    headerStrings(m);
    close(at);
    return;
  }
  if (typeof m !== 'object') throw GENERIC;
  const at = open(tag);
  const list = (m as { headers?: unknown }).headers;
  if (list != null) {
    if (!Array.isArray(list)) throw GENERIC;
    for (let i = 0; i < list.length; i++) {
      const h: unknown = list[i];
      if (h === null || typeof h !== 'object') throw GENERIC;
      const e = open(10);
      const { key, value, rawValue } = h as Obj;
      if (set(key, h, 'key')) str(10, key);
      if (set(value, h, 'value')) str(18, value);
      if (set(rawValue, h, 'rawValue')) bytes(26, rawValue);
      close(e);
    }
  }
  close(at);
}

/** HttpHeaders (fields 2 and 3 of ProcessingRequest). */
function httpHeaders(tag: number, m: unknown): void {
  if (m === null || typeof m !== 'object') throw GENERIC;
  const at = open(tag);
  const { headers, attributes, endOfStream } = m as Obj;
  if (set(headers, m, 'headers')) headerMap(10, headers);
  if (set(attributes, m, 'attributes')) throw GENERIC;
  if (set(endOfStream, m, 'endOfStream')) bool(24, endOfStream);
  close(at);
}

/** HttpTrailers (fields 6 and 7). */
function httpTrailers(tag: number, m: unknown): void {
  if (m === null || typeof m !== 'object') throw GENERIC;
  const at = open(tag);
  const t = (m as Obj).trailers;
  if (set(t, m, 'trailers')) headerMap(10, t);
  close(at);
}

/** HttpBody (fields 4 and 5). */
function httpBody(tag: number, m: unknown): void {
  if (m === null || typeof m !== 'object') throw GENERIC;
  const at = open(tag);
  const { body, endOfStream, endOfStreamWithoutMessage, grpcMessageCompressed } = m as Obj;
  if (set(body, m, 'body')) bytes(10, body);
  if (set(endOfStream, m, 'endOfStream')) bool(16, endOfStream);
  if (set(endOfStreamWithoutMessage, m, 'endOfStreamWithoutMessage')) bool(24, endOfStreamWithoutMessage);
  if (set(grpcMessageCompressed, m, 'grpcMessageCompressed')) bool(32, grpcMessageCompressed);
  close(at);
}

function protocolConfig(m: unknown): void {
  if (m === null || typeof m !== 'object') throw GENERIC;
  const at = open(90);
  const { requestBodyMode, responseBodyMode, sendBodyWithoutWaitingForHeaderResponse } = m as Obj;
  if (set(requestBodyMode, m, 'requestBodyMode')) int32(8, requestBodyMode);
  if (set(responseBodyMode, m, 'responseBodyMode')) int32(16, responseBodyMode);
  if (set(sendBodyWithoutWaitingForHeaderResponse, m, 'sendBodyWithoutWaitingForHeaderResponse')) bool(24, sendBodyWithoutWaitingForHeaderResponse);
  close(at);
}

/** Writes the message after the 5 bytes of the gRPC prefix; throws GENERIC for a shape handled elsewhere. */
function write(msg: ProcessingRequest): void {
  const m = msg as Obj;
  const { requestHeaders, responseHeaders, requestBody, responseBody, requestTrailers, responseTrailers } = m;
  if (set(requestHeaders, m, 'requestHeaders')) httpHeaders(18, requestHeaders);
  if (set(responseHeaders, m, 'responseHeaders')) httpHeaders(26, responseHeaders);
  if (set(requestBody, m, 'requestBody')) httpBody(34, requestBody);
  if (set(responseBody, m, 'responseBody')) httpBody(42, responseBody);
  if (set(requestTrailers, m, 'requestTrailers')) httpTrailers(50, requestTrailers);
  if (set(responseTrailers, m, 'responseTrailers')) httpTrailers(58, responseTrailers);
  if (set(m.metadataContext, m, 'metadataContext') || set(m.attributes, m, 'attributes') || set(m.observabilityMode, m, 'observabilityMode')) {
    throw GENERIC;
  }
  if (set(m.protocolConfig, m, 'protocolConfig')) protocolConfig(m.protocolConfig);
}

/**
 * A body message's frame written in one pass into a buffer of its exact size, so the body is copied once: a
 * ProcessingRequest holding only `requestBody` or `responseBody` (a Uint8Array `body` and the flags). Undefined
 * for any other shape.
 */
function bodyFrame(msg: ProcessingRequest): Buffer | undefined {
  const all = msg as Obj;
  let tag = 34;
  let m = all.requestBody;
  if (m == null) {
    tag = 42;
    m = all.responseBody;
  }
  if (m === null || typeof m !== 'object' || !hasOwn.call(msg, tag === 34 ? 'requestBody' : 'responseBody')) return undefined;
  for (const k in msg) {
    if ((k === 'requestBody' && tag === 34) || (k === 'responseBody' && tag === 42)) continue;
    if (all[k] != null) return undefined;
  }
  const { body, endOfStream, endOfStreamWithoutMessage, grpcMessageCompressed } = m as Obj;
  const hasBody = set(body, m, 'body');
  if (hasBody && !(body instanceof Uint8Array)) return undefined;
  const flags = (set(endOfStream, m, 'endOfStream') ? 1 : 0) | (set(endOfStreamWithoutMessage, m, 'endOfStreamWithoutMessage') ? 2 : 0) | (set(grpcMessageCompressed, m, 'grpcMessageCompressed') ? 4 : 0);
  const bodyLen = hasBody ? (body as Uint8Array).length : 0;
  const inner = (hasBody ? 1 + varintSize(bodyLen) + bodyLen : 0) + 2 * ((flags & 1) + ((flags >> 1) & 1) + ((flags >> 2) & 1));
  const size = 1 + varintSize(inner) + inner;
  const out = Buffer.allocUnsafe(5 + size);
  out[0] = 0;
  out.writeUInt32BE(size, 1);
  out[5] = tag;
  let at = putVarint(out, 6, inner);
  if (hasBody) {
    out[at++] = 10;
    at = putVarint(out, at, bodyLen);
    out.set(body as Uint8Array, at);
    at += bodyLen;
  }
  if (flags & 1) at = flag(out, at, 16, endOfStream);
  if (flags & 2) at = flag(out, at, 24, endOfStreamWithoutMessage);
  if (flags & 4) flag(out, at, 32, grpcMessageCompressed);
  return out;
}

function flag(out: Buffer, at: number, tag: number, v: unknown): number {
  out[at] = tag;
  out[at + 1] = v ? 1 : 0;
  return at + 2;
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
