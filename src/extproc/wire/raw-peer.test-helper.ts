// Shared pieces of the wire transport's edge-case suites (connection.test.ts, connection-errors.test.ts): messages,
// the client under test, node:http2 servers, and hand-written HTTP/2 peers (RawConn) that read our frames and
// send whatever a test needs, well-formed or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { WireProcessorClient, type ClientOptions } from '../client.js';
import { FrameDecoder, frameMessage } from '../grpc-framing.js';
import { pb, type ProcessingRequest, type ProcessingResponse } from '../messages.js';
import { loopbackTarget, record } from '../test-support.js';
import type { StreamEnd } from '../transport.js';
import { Flag, FrameReader, FrameType, PREFACE, Setting, frame, settings, type Frame } from './frames.js';
import { encodeIndexedStatic, encodeLiteral } from './hpack.js';

export type Scope = { after(fn: () => unknown): void };

export const MiB = 1 << 20;
export const FLOW_CONTROL_ERROR = 3;

// ---- messages ----

export const headersMsg: ProcessingRequest = { requestHeaders: { headers: { headers: [{ key: ':path', rawValue: Buffer.from('/') }] } } };
export const bodyMsg = (body: Buffer): ProcessingRequest => ({ requestBody: { body, endOfStream: true } });
export const replyBytes = (body: string): Buffer =>
  frameMessage(pb.ProcessingResponse.encode({ requestBody: { response: { bodyMutation: { body: Buffer.from(body) } } } }).finish());
export const bodyOf = (m: ProcessingResponse): string => Buffer.from(m.requestBody?.response?.bodyMutation?.body ?? []).toString();
export const messageOf = (e: StreamEnd): string => ('message' in e ? e.message : '');
/** Bytes that show corruption, loss or reordering (a 251-byte cycle does not line up with any frame size). */
export const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));
/** `n` printable characters that do not repeat in step with anything (no two chunks alike). */
export const text = (n: number): string => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i * 7 + (i >> 5)) % 26))).join('');

export function decodeRequests(chunks: Buffer[]): Array<ReturnType<typeof pb.ProcessingRequest.decode>> {
  const r = new FrameDecoder().push(Buffer.concat(chunks));
  assert.equal(r.error, undefined);
  return r.messages.map((m) => pb.ProcessingRequest.decode(m));
}

// ---- the client ----

export function wire(t: Scope, port: number, opts: ClientOptions = {}): WireProcessorClient {
  const c = new WireProcessorClient(loopbackTarget(port), opts);
  t.after(() => c.close(true));
  return c;
}

/** `p`, or a failure naming `what` when it takes longer than `ms` (a bound on a wait, not a sleep). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `p` settles within `ms`; only for asserting that something does NOT happen, so `ms` stays short. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true, () => true), delay(ms).then(() => false)]);
}

// ---- node:http2 servers ----

export const GRPC = { ':status': 200, 'content-type': 'application/grpc' };

export async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

export async function h2Server(
  t: Scope, options: http2.ServerOptions, onStream: (s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void,
): Promise<{ port: number; sessions: () => number }> {
  const server = http2.createServer(options);
  const live = new Set<http2.ServerHttp2Session>();
  let sessions = 0;
  server.on('session', (s) => { sessions++; live.add(s); s.on('close', () => live.delete(s)); s.on('error', () => {}); });
  server.on('stream', (s, h) => { s.on('error', () => {}); onStream(s, h); });
  const port = await listen(server);
  t.after(() => { for (const s of live) s.destroy(); server.close(); });
  return { port, sessions: () => sessions };
}

/** Answers a call: response headers, the replies, then trailers with grpc-status 0 (plus `trailers`). */
export function answerOk(s: http2.ServerHttp2Stream, bodies: string[] = [], trailers: http2.OutgoingHttpHeaders = {}): void {
  s.respond(GRPC, { waitForTrailers: true });
  s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', ...trailers }));
  s.end(Buffer.concat(bodies.map(replyBytes)));
}

/** Everything the client sent on a server stream, up to its END_STREAM. */
export async function readAll(s: http2.ServerHttp2Stream): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of s) chunks.push(chunk as Buffer);
  return chunks;
}

// ---- hand-written HTTP/2 peers ----

/** One accepted socket of a raw peer: checks our preface, cuts what follows into frames, and sends what it is told. */
export class RawConn {
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;
  prefaceOk: boolean | undefined;
  readonly #watchers = new Set<(f: Frame | undefined) => void>();
  #gone = false;

  constructor(readonly socket: net.Socket, readonly index: number) {
    const reader = new FrameReader(0xff_ffff);
    let head = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (this.prefaceOk === undefined) {
        head = Buffer.concat([head, chunk]);
        if (head.length < PREFACE.length) return;
        this.prefaceOk = head.subarray(0, PREFACE.length).equals(PREFACE);
        chunk = head.subarray(PREFACE.length);
      }
      reader.push(chunk, (f) => {
        this.frames.push(f);
        for (const w of [...this.#watchers]) w(f);
        return true;
      });
    });
    this.closed = new Promise((resolve) => socket.on('close', () => {
      this.#gone = true;
      for (const w of [...this.#watchers]) w(undefined);
      resolve();
    }));
  }

  send(...bufs: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(bufs));
  }

  /** Calls `fn` for every frame from now on. */
  onFrame(fn: (f: Frame) => void): void {
    this.#watchers.add((f) => { if (f) fn(f); });
  }

  /** The first frame (received already or still to come) that matches; fails if the connection closes first. */
  next(pred: (f: Frame) => boolean, what: string): Promise<Frame> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    if (this.#gone) return Promise.reject(new Error(`connection ${this.index} closed before ${what}`));
    return new Promise((resolve, reject) => {
      const w = (f: Frame | undefined): void => {
        if (f === undefined) {
          this.#watchers.delete(w);
          reject(new Error(`connection ${this.index} closed before ${what}`));
        } else if (pred(f)) {
          this.#watchers.delete(w);
          resolve(f);
        }
      };
      this.#watchers.add(w);
    });
  }

  /** Sends our SETTINGS and acknowledges each of the client's (as a server must before anything else). */
  hello(pairs: ReadonlyArray<readonly [number, number]> = []): void {
    this.send(settings(pairs));
    const ack = (f: Frame): void => { if (f.type === FrameType.Settings && !(f.flags & Flag.Ack)) this.send(frame(FrameType.Settings, Flag.Ack, 0)); };
    for (const f of this.frames) ack(f);
    this.onFrame(ack);
  }

  /** The client's HEADERS frames, by stream id, in arrival order. */
  headerStreams(): number[] {
    return this.frames.filter((f) => f.type === FrameType.Headers).map((f) => f.streamId);
  }
}

export interface RawPeer {
  readonly port: number;
  /** Connections accepted so far, in order. */
  readonly conns: RawConn[];
  /** Connection `i` once it is accepted. */
  conn(i: number): Promise<RawConn>;
}

export async function rawPeer(t: Scope, onConn: (c: RawConn) => void): Promise<RawPeer> {
  const conns: RawConn[] = [];
  const waiters: Array<() => void> = [];
  const server = net.createServer((socket) => {
    const c = new RawConn(socket, conns.length);
    conns.push(c);
    onConn(c);
    for (const w of waiters.splice(0)) w();
  });
  const port = await listen(server);
  t.after(() => { for (const c of conns) c.socket.destroy(); server.close(); });
  const conn = async (i: number): Promise<RawConn> => {
    while (!conns[i]) await new Promise<void>((r) => waiters.push(r));
    return conns[i];
  };
  return { port, conns, conn };
}

export const isType = (type: number, streamId?: number) => (f: Frame): boolean => f.type === type && (streamId === undefined || f.streamId === streamId);

/** Response headers: `:status 200` (static index 8) and content-type as a literal. */
export const RESPONSE_HEAD = Buffer.concat([encodeIndexedStatic(':status', '200')!, encodeLiteral('content-type', 'application/grpc')]);
export const OK_TRAILERS = encodeLiteral('grpc-status', '0');
export const headersFrame = (id: number, block: Buffer, end = false): Buffer =>
  frame(FrameType.Headers, Flag.EndHeaders | (end ? Flag.EndStream : 0), id, block);
export const dataFrame = (id: number, payload: Buffer, end = false): Buffer => frame(FrameType.Data, end ? Flag.EndStream : 0, id, payload);
/** A whole gRPC answer on one stream: headers, one DATA frame per reply, trailers with grpc-status 0. */
export const okAnswer = (id: number, bodies: string[] = ['ok']): Buffer =>
  Buffer.concat([headersFrame(id, RESPONSE_HEAD), ...bodies.map((b) => dataFrame(id, replyBytes(b))), headersFrame(id, OK_TRAILERS, true)]);

/** A well-behaved peer: SETTINGS, then an OK answer to every stream the client opens. */
export function serveOk(c: RawConn): void {
  c.hello();
  const answered = new Set<number>();
  c.onFrame((f) => {
    if (f.type !== FrameType.Headers || answered.has(f.streamId)) return;
    answered.add(f.streamId);
    c.send(okAnswer(f.streamId));
  });
}

export async function goawayCode(c: RawConn): Promise<number> {
  const f = await c.next(isType(FrameType.Goaway), 'a GOAWAY from the client');
  assert.equal(f.streamId, 0);
  return f.payload.readUInt32BE(4);
}

/** A fresh call on `client` ends ok, and by then the peer has accepted `conns` connections in all. */
export async function worksAgain(client: WireProcessorClient, peer: RawPeer, conns: number): Promise<void> {
  const r = record(client, [headersMsg], { closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.deepEqual(r.violations, []);
  assert.equal(peer.conns.length, conns);
}

/**
 * The sending side of a server that obeys the client's flow control: it reads the client's SETTINGS and
 * WINDOW_UPDATEs, sends DATA only within both windows, and counts what it was granted and what it sent.
 */
export function windowedSender(c: RawConn) {
  let initial = 65_535;
  let conn = 65_535;
  const streams = new Map<number, { window: number; granted: number; sent: number }>();
  const jobs: Array<{ id: number; buf: Buffer; at: number; pad: number; done: () => void }> = [];
  let stalled = false;
  const onStall: Array<() => void> = [];
  const stream = (id: number) => {
    let s = streams.get(id);
    if (!s) streams.set(id, (s = { window: initial, granted: initial, sent: 0 }));
    return s;
  };
  const pump = (): void => {
    while (jobs.length > 0) {
      const job = jobs[0]!;
      const s = stream(job.id);
      const overhead = job.pad > 0 ? 1 + job.pad : 0;
      const room = Math.min(16_384, s.window, conn) - overhead;
      const n = Math.min(room, job.buf.length - job.at);
      if (n <= 0 && job.at < job.buf.length) {
        stalled = true;
        for (const w of onStall.splice(0)) w();
        return;
      }
      stalled = false;
      const chunk = job.buf.subarray(job.at, job.at + n);
      job.at += n;
      const payload = job.pad > 0 ? Buffer.concat([Buffer.from([job.pad]), chunk, Buffer.alloc(job.pad)]) : chunk;
      c.send(frame(FrameType.Data, job.pad > 0 ? Flag.Padded : 0, job.id, payload));
      s.window -= payload.length;
      s.sent += payload.length;
      conn -= payload.length;
      if (job.at === job.buf.length) {
        jobs.shift();
        job.done();
      }
    }
  };
  c.onFrame((f) => {
    if (f.type === FrameType.Settings && !(f.flags & Flag.Ack)) {
      for (let i = 0; i < f.payload.length; i += 6) {
        if (f.payload.readUInt16BE(i) !== Setting.InitialWindowSize) continue;
        const v = f.payload.readUInt32BE(i + 2);
        for (const s of streams.values()) { s.window += v - initial; s.granted += v - initial; }
        initial = v;
      }
    } else if (f.type === FrameType.WindowUpdate) {
      const inc = f.payload.readUInt32BE(0) & 0x7fff_ffff;
      if (f.streamId === 0) conn += inc;
      else { const s = stream(f.streamId); s.window += inc; s.granted += inc; }
    } else return;
    pump();
  });
  return {
    /** Sends `buf` as DATA on stream `id` (each frame padded with `pad` bytes when given); resolves once all is out. */
    send(id: number, buf: Buffer, pad = 0): Promise<void> {
      return new Promise((done) => { jobs.push({ id, buf, at: 0, pad, done }); pump(); });
    },
    /** Resolves once the sender is stuck on flow control with data left to send. */
    stalled(): Promise<void> {
      return stalled ? Promise.resolve() : new Promise((r) => onStall.push(r));
    },
    stats: (id: number) => ({ ...stream(id) }),
  };
}

