/**
 * A frame-level HTTP/2 (h2c prior knowledge) client for tests that must see the order of frames on the wire,
 * which node:http2 hides: e.g. that a response's END_STREAM comes before the RST_STREAM that stops an upload.
 * It acknowledges SETTINGS and PING, sends one request on stream 1 with a body of `bodyBytes` (never more than the peer's initial window, and
 * never END_STREAM: the upload is left unfinished), then records every frame until the peer resets stream 1,
 * closes the connection, or `timeoutMs` passes.
 */
import net from 'node:net';

/** A frame the server sent. */
export interface RawFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK "literal header field without indexing, new name", no Huffman (names and values under 127 bytes). */
function hpack(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    parts.push(Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value));
  }
  return Buffer.concat(parts);
}

/** What came back for stream 1. */
export interface RawExchange {
  /** Frames of stream 1, in arrival order. */
  readonly frames: RawFrame[];
  /** How recording stopped: the stream was reset, the connection closed, or the time ran out. */
  readonly outcome: 'reset' | 'connection-closed' | 'timeout';
}

/**
 * POSTs `path` with `headers` and `bodyBytes` bytes of body (at most 65 535, the default initial window), leaving
 * the request body unfinished.
 */
export function rawH2Upload(
  port: number,
  path: string,
  headers: ReadonlyArray<readonly [string, string]>,
  bodyBytes: number,
  timeoutMs = 10_000,
): Promise<RawExchange> {
  if (bodyBytes > 65_535) throw new Error('bodyBytes must fit the initial flow-control window');
  return new Promise((resolve, reject) => {
    const frames: RawFrame[] = [];
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (outcome: RawExchange['outcome']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ frames, outcome });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('error', (err) => (settled ? undefined : frames.length > 0 ? finish('connection-closed') : reject(err)));
    socket.on('close', () => finish('connection-closed'));
    socket.on('connect', () => {
      const block = hpack([[':method', 'POST'], [':scheme', 'http'], [':authority', `127.0.0.1:${port}`], [':path', path], ...headers]);
      const out = [PREFACE, frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0)), frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, block)];
      for (let left = bodyBytes; left > 0; left -= 16_384) out.push(frame(FRAME.DATA, 0, 1, Buffer.alloc(Math.min(left, 16_384), 'a')));
      socket.write(Buffer.concat(out));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const f: RawFrame = { type: buf[3]!, flags: buf[4]!, streamId: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) };
        buf = buf.subarray(9 + len);
        if (f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0) socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0, Buffer.alloc(0)));
        if (f.type === FRAME.PING && (f.flags & FLAG.ACK) === 0) socket.write(frame(FRAME.PING, FLAG.ACK, 0, Buffer.from(f.payload)));
        if (f.streamId !== 1) continue;
        frames.push(f);
        if (f.type === FRAME.RST_STREAM) return finish('reset');
      }
    });
  });
}

/** The index of the first frame of stream 1 that carries END_STREAM (DATA or HEADERS), or -1. */
export function endStreamAt(frames: readonly RawFrame[]): number {
  return frames.findIndex((f) => (f.type === FRAME.DATA || f.type === FRAME.HEADERS) && (f.flags & FLAG.END_STREAM) !== 0);
}
