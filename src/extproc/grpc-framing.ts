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

/** Messages up to this size that span chunks get their whole buffer at once; bigger ones grow as bytes arrive. */
const PREALLOCATE_MAX = 1 << 20;

/**
 * Reassembles length-prefixed messages from DATA chunks of any size: a frame may span chunks and a chunk may hold
 * several frames. A message inside one chunk is returned as a view of it (no copy); one that spans chunks is copied
 * as it arrives, so no chunk is kept alive by a message still in progress (the wire transport's chunks are views of
 * whole socket reads). A declared length over the limit fails before any of it is buffered.
 */
export class FrameDecoder {
  readonly #prefix = Buffer.alloc(5);
  #prefixLen = 0;
  #need = -1; // payload length of the message in progress; -1 while reading the 5-byte prefix
  /** The message in progress when it spans chunks: one buffer (small messages) or copied pieces (big ones). */
  #msg: Buffer | undefined;
  #pieces: Buffer[] | undefined;
  #filled = 0;
  #failed = false;

  constructor(private readonly maxBytes: number = DEFAULT_MAX_RECEIVE_BYTES) {}

  /** Bytes of an unfinished message held, its prefix included (non-zero at end of stream means truncation). */
  get pendingBytes(): number {
    return this.#need < 0 ? this.#prefixLen : 5 + this.#filled;
  }

  /** Feeds one chunk. After an error the decoder stays failed and ignores input. */
  push(chunk: Buffer): DecodeResult {
    const messages: Buffer[] = [];
    if (this.#failed) return { messages };
    let at = 0;
    const end = chunk.length;
    while (at < end) {
      if (this.#need < 0) {
        if (this.#prefixLen === 0 && end - at >= 5) {
          this.#prefix[0] = chunk[at]!;
          this.#need = chunk.readUInt32BE(at + 1);
          at += 5;
        } else {
          const k = Math.min(5 - this.#prefixLen, end - at);
          chunk.copy(this.#prefix, this.#prefixLen, at, at + k);
          this.#prefixLen += k;
          at += k;
          if (this.#prefixLen < 5) break;
          this.#prefixLen = 0;
          this.#need = this.#prefix.readUInt32BE(1);
        }
        const flag = this.#prefix[0]!;
        if (flag !== 0) {
          this.#failed = true;
          // We never advertise grpc-accept-encoding, so a compressed (or malformed) frame is a peer bug.
          return { messages, error: flag === 1 ? 'received a compressed gRPC message, but no compression was negotiated' : `invalid gRPC frame flag ${flag}` };
        }
        if (this.#need > this.maxBytes) {
          this.#failed = true;
          return { messages, error: `received a gRPC message of ${this.#need} bytes, over the ${this.maxBytes}-byte limit` };
        }
        this.#filled = 0;
      }
      const need = this.#need;
      if (this.#msg === undefined && this.#pieces === undefined) {
        if (end - at >= need) {
          messages.push(chunk.subarray(at, at + need));
          at += need;
          this.#need = -1;
          continue;
        }
        if (need <= PREALLOCATE_MAX) this.#msg = Buffer.allocUnsafe(need);
        else this.#pieces = [];
      }
      const k = Math.min(need - this.#filled, end - at);
      if (this.#msg !== undefined) chunk.copy(this.#msg, this.#filled, at, at + k);
      else this.#pieces!.push(Buffer.from(chunk.subarray(at, at + k)));
      this.#filled += k;
      at += k;
      if (this.#filled === need) {
        messages.push(this.#msg ?? Buffer.concat(this.#pieces!, need));
        this.#msg = undefined;
        this.#pieces = undefined;
        this.#filled = 0;
        this.#need = -1;
      }
    }
    return { messages };
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
