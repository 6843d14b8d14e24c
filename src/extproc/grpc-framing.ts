/**
 * gRPC over HTTP/2 message framing (a 1-byte compressed flag, a 4-byte big-endian length, then the payload) and the
 * parsing of gRPC status from response headers/trailers. Pure: no I/O. See grpc/doc/PROTOCOL-HTTP2.md.
 */

/** The largest ProcessingResponse we accept (a processor can legitimately return a big replaced body). */
export const DEFAULT_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

/** Frames one message: prefix and payload in a single buffer so it goes out in one write. */
export function frameMessage(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** What `FrameDecoder.push` found: whole messages so far, and a fatal problem if the stream is not valid gRPC. */
export interface DecodeResult {
  readonly messages: Buffer[];
  readonly error?: string;
}

/**
 * Reassembles length-prefixed messages from DATA chunks of any size: a frame may span chunks and a chunk may hold
 * several frames. Only the current partial frame is held, and a declared length over the limit fails before any
 * of it is buffered.
 */
export class FrameDecoder {
  #parts: Buffer[] = [];
  #held = 0;
  #need = -1; // payload length of the frame in progress; -1 while reading the 5-byte prefix
  #failed = false;

  constructor(private readonly maxBytes: number = DEFAULT_MAX_RECEIVE_BYTES) {}

  /** Bytes of an unfinished frame still held (non-zero at end of stream means a truncated message). */
  get pendingBytes(): number {
    return this.#held;
  }

  /** Feeds one chunk. After an error the decoder stays failed and ignores input. */
  push(chunk: Buffer): DecodeResult {
    if (this.#failed) return { messages: [] };
    this.#parts.push(chunk);
    this.#held += chunk.length;
    const messages: Buffer[] = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#held < 5) break;
        const head = this.#take(5);
        const flag = head[0]!;
        const len = head.readUInt32BE(1);
        if (flag !== 0) {
          this.#failed = true;
          // We never advertise grpc-accept-encoding, so a compressed (or malformed) frame is a peer bug.
          return { messages, error: flag === 1 ? 'received a compressed gRPC message, but no compression was negotiated' : `invalid gRPC frame flag ${flag}` };
        }
        if (len > this.maxBytes) {
          this.#failed = true;
          return { messages, error: `received a gRPC message of ${len} bytes, over the ${this.maxBytes}-byte limit` };
        }
        this.#need = len;
      }
      if (this.#held < this.#need) break;
      messages.push(this.#take(this.#need));
      this.#need = -1;
    }
    return { messages };
  }

  #take(n: number): Buffer {
    this.#held -= n;
    const first = this.#parts[0];
    if (first && first.length >= n) {
      // Common case: the frame lies inside one chunk; slice without copying.
      const out = first.subarray(0, n);
      if (first.length === n) this.#parts.shift();
      else this.#parts[0] = first.subarray(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const p = this.#parts[0]!;
      const k = Math.min(p.length, n - off);
      p.copy(out, off, 0, k);
      off += k;
      if (k === p.length) this.#parts.shift();
      else this.#parts[0] = p.subarray(k);
    }
    return out;
  }
}

/** A gRPC status read from trailers (or trailers-only headers). */
export interface GrpcStatus {
  readonly code: number;
  readonly message: string;
}

type Headers = Readonly<Record<string, string | string[] | number | undefined>>;

const first = (v: string | string[] | number | undefined): string | undefined =>
  Array.isArray(v) ? v[0] : v === undefined ? undefined : String(v);

/** Reads `grpc-status` / `grpc-message`; undefined when there is no grpc-status; an invalid code becomes UNKNOWN (2). */
export function readGrpcStatus(h: Headers): GrpcStatus | undefined {
  const raw = first(h['grpc-status']);
  if (raw === undefined) return undefined;
  const code = /^\d{1,10}$/.test(raw.trim()) ? Number(raw.trim()) : 2;
  const msg = first(h['grpc-message']);
  return { code, message: msg === undefined ? '' : decodeGrpcMessage(msg) };
}

/** Percent-decodes grpc-message as the spec says; malformed escapes are kept literally instead of failing. */
export function decodeGrpcMessage(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
      const c = parseInt(hex, 16);
      return c < 0x80 ? String.fromCharCode(c) : m;
    });
  }
}

/** Checks response headers are a gRPC response; returns a problem description or undefined. */
export function checkResponseHeaders(h: Headers): string | undefined {
  const status = first(h[':status']);
  if (status !== '200') {
    return `the processor answered with HTTP status ${status ?? '(none)'}, not 200: it is not a gRPC server or a proxy in front of it failed`;
  }
  const ct = first(h['content-type']) ?? '';
  if (!/^application\/grpc(?:$|[+;])/i.test(ct)) {
    return `the processor answered with content-type "${ct}", not application/grpc: it is not a gRPC server`;
  }
  return undefined;
}
