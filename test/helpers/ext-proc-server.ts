/**
 * A scriptable ext_proc processor for tests: a @grpc/grpc-js server (a gRPC implementation independent of our raw
 * node:http2 client) using our generated codecs, on 127.0.0.1 port 0.
 *
 * Every phase handler defaults to pass-through and is mode-aware (full-duplex bodies are echoed as
 * `streamed_response`). A handler returns what to send: a ProcessingResponse, a list, `null` (nothing),
 * `undefined` (the default reply) or an action (`{delayMs, then}`, `{closeOk}`, `{grpcError}`, `{crash}`, `{empty}`).
 * Replies are sent in handler order per stream; `ctx.send` sends out of band (for out-of-order replies).
 * We own the TCP listener (grpc-js connection injector) so `crash()` can destroy sockets abruptly.
 */
import { extProcServiceDef } from '../../src/processor/services.js';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { BodySendMode } from '../../src/extproc/messages.js';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/messages.js';
import { phaseOf, reply, type Phase } from './ext-proc-replies.js';

export * from './ext-proc-replies.js';

/** What a handler may return. */
export type Action =
  | ProcessingResponse
  | readonly Action[]
  | null
  | undefined
  | { readonly delayMs: number; readonly then: Action }
  | { readonly closeOk: true }
  | { readonly grpcError: { readonly code: number; readonly message: string } }
  | { readonly crash: true }
  | { readonly empty: true };

/** Per-stream context given to handlers. */
export interface ProcessorContext {
  /** 0-based index of this stream on the server. */
  readonly stream: number;
  /** gRPC request metadata (e.g. traceparent), first value per key. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Messages received on this stream so far (including the current one). */
  readonly received: readonly ProcessingRequest[];
  /** Body modes in effect: protocol_config of the first message, updated by mode_override replies we sent. */
  readonly bodyMode: { request: number; response: number };
  /** Sends an action now, outside the reply order (e.g. answer request_body before request_headers). */
  send(action: Action): Promise<void>;
  /** The pass-through reply the server would send for `msg`. */
  defaultReply(msg: ProcessingRequest): ProcessingResponse | null;
  /**
   * Resolves once the stream can take more replies (its write buffer drained), like a processor that honours
   * backpressure; at once when nothing is buffered or the stream is over.
   */
  writable(): Promise<void>;
}

/** A per-phase handler. */
export type Handler = (msg: ProcessingRequest, ctx: ProcessorContext) => Action | Promise<Action>;

/** Per-phase handlers; missing ones are pass-through. */
export type Handlers = { readonly [P in Phase as `on${Capitalize<P>}`]?: Handler } & {
  /** Called when a stream opens (before any message). */
  readonly onStream?: (ctx: ProcessorContext) => void;
};

/** How a stream ended, from the server's view. */
export type ServerStreamEnd = 'ok' | 'error' | 'cancelled' | 'crashed' | 'stopped';

/** One stream as recorded by the server. */
export interface StreamRecord {
  readonly metadata: Record<string, string>;
  readonly received: ProcessingRequest[];
  /** Resolves when the stream is over. */
  readonly ended: Promise<ServerStreamEnd>;
}

/** Options for startProcessor. */
export interface ProcessorOptions {
  /** Listen on this port (to "restart" a crashed processor on the same address). */
  readonly port?: number;
  /** Serve TLS (ALPN h2) with this key and certificate (PEM). */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
}

/** A running processor. */
export interface TestProcessor {
  readonly port: number;
  /** `127.0.0.1:port`. */
  readonly target: string;
  /** Messages received, per stream. */
  readonly received: ProcessingRequest[][];
  /** Every stream, in open order. */
  readonly records: StreamRecord[];
  /** Number of streams opened so far. */
  readonly streams: number;
  /** Number of TCP connections accepted so far. */
  readonly connections: number;
  /** Resolves when at least `n` streams have opened. */
  waitForStreams(n: number): Promise<void>;
  /** Graceful-ish stop: cancels calls and closes the listener. */
  stop(): Promise<void>;
  /** Abrupt death: destroys every socket and stops listening. */
  crash(): void;
}

const serviceDef: grpc.ServiceDefinition = extProcServiceDef();

/** The mode-aware pass-through reply for a message. */
export function defaultReplyFor(msg: ProcessingRequest, bodyMode: { request: number; response: number }): ProcessingResponse | null {
  switch (phaseOf(msg)) {
    case 'requestHeaders': return reply.headers('request');
    case 'responseHeaders': return reply.headers('response');
    case 'requestBody': {
      const b = msg.requestBody!;
      return bodyMode.request === BodySendMode.FULL_DUPLEX_STREAMED
        ? reply.streamed('request', b.body ?? new Uint8Array(), !!b.endOfStream) : reply.body('request');
    }
    case 'responseBody': {
      const b = msg.responseBody!;
      return bodyMode.response === BodySendMode.FULL_DUPLEX_STREAMED
        ? reply.streamed('response', b.body ?? new Uint8Array(), !!b.endOfStream) : reply.body('response');
    }
    case 'requestTrailers': return reply.trailers('request');
    case 'responseTrailers': return reply.trailers('response');
    default: return null;
  }
}

const isObj = (a: unknown): a is Record<string, unknown> => typeof a === 'object' && a !== null;

/** Starts a scriptable processor on 127.0.0.1 (port 0 unless `opts.port`). */
export async function startProcessor(handlers: Handlers = {}, opts: ProcessorOptions = {}): Promise<TestProcessor> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const records: StreamRecord[] = [];
  const finishers: Array<(e: ServerStreamEnd) => void> = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let connections = 0;
  let dead = false;

  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const t = setTimeout(() => { timers.delete(t); resolve(); }, ms);
    timers.add(t);
  });

  const crash = () => {
    if (dead) return;
    dead = true;
    for (const f of finishers) f('crashed');
    for (const s of sockets) s.destroy();
    listener.close();
    for (const t of timers) clearTimeout(t);
    server.forceShutdown();
  };

  server.addService(serviceDef, {
    Process: (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
      const index = records.length;
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
      const received: ProcessingRequest[] = [];
      let finish!: (e: ServerStreamEnd) => void;
      const ended = new Promise<ServerStreamEnd>((resolve) => {
        let done = false;
        finish = (e) => { if (!done) { done = true; resolve(e); } };
      });
      finishers.push(finish);
      records.push({ metadata, received, ended });
      for (const w of waiters.splice(0)) if (records.length >= w.n) w.resolve(); else waiters.push(w);
      let closed = false;
      let chain: Promise<void> = Promise.resolve();
      const bodyMode = { request: BodySendMode.NONE as number, response: BodySendMode.NONE as number };

      const write = (r: ProcessingResponse) => {
        if (closed) return;
        if (r.modeOverride?.requestBodyMode != null) bodyMode.request = r.modeOverride.requestBodyMode;
        if (r.modeOverride?.responseBodyMode != null) bodyMode.response = r.modeOverride.responseBodyMode;
        call.write(r);
      };
      const execute = async (a: Action): Promise<void> => {
        if (a === null || a === undefined || closed || dead) return;
        if (Array.isArray(a)) { for (const x of a) await execute(x as Action); return; }
        if (!isObj(a)) return;
        if ('delayMs' in a) { await sleep(a.delayMs as number); return execute(a.then as Action); }
        if ('closeOk' in a) { closed = true; call.end(); finish('ok'); return; }
        if ('grpcError' in a) {
          closed = true;
          const g = a.grpcError as { code: number; message: string };
          call.emit('error', { code: g.code, details: g.message });
          finish('error');
          return;
        }
        if ('crash' in a) { crash(); return; }
        if ('empty' in a) { write({}); return; }
        write(a as ProcessingResponse);
      };
      const ctx: ProcessorContext = {
        stream: index, metadata, received, bodyMode,
        send: (a) => execute(a),
        defaultReply: (m) => defaultReplyFor(m, bodyMode),
        writable: () => (closed || dead || !call.writableNeedDrain ? Promise.resolve() : new Promise<void>((resolve) => {
          const done = () => { call.off('drain', done); call.off('close', done); resolve(); };
          call.on('drain', done);
          call.on('close', done);
        })),
      };
      handlers.onStream?.(ctx);
      call.on('data', (msg: ProcessingRequest) => {
        if (received.length === 0 && msg.protocolConfig) {
          bodyMode.request = msg.protocolConfig.requestBodyMode ?? 0;
          bodyMode.response = msg.protocolConfig.responseBodyMode ?? 0;
        }
        received.push(msg);
        const phase = phaseOf(msg);
        const h = phase ? handlers[`on${phase[0]!.toUpperCase()}${phase.slice(1)}` as keyof Handlers] as Handler | undefined : undefined;
        chain = chain.then(async () => {
          if (closed || dead) return;
          const out = h ? await h(msg, ctx) : undefined;
          await execute(out === undefined ? defaultReplyFor(msg, bodyMode) : out);
        }).catch((err: unknown) => {
          // A throwing test handler becomes a gRPC INTERNAL error so the test sees it.
          if (!closed) { closed = true; call.emit('error', { code: grpc.status.INTERNAL, details: `handler threw: ${String(err)}` }); finish('error'); }
        });
      });
      // The client half-closed: answer what is pending, then close OK (what real processors do).
      // grpc-js also ends the readable side when the client cancels; wait a turn so 'cancelled' wins that race.
      call.on('end', () => {
        chain = chain.then(() => new Promise<void>((r) => setImmediate(r))).then(() => {
          if (!closed && !dead && !call.cancelled) { closed = true; call.end(); finish('ok'); }
        });
      });
      call.on('cancelled', () => { closed = true; finish('cancelled'); });
      call.on('error', () => { closed = true; finish('error'); });
      call.on('close', () => { finish(dead ? 'crashed' : 'cancelled'); });
    },
  });

  const creds = opts.tls
    ? grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(opts.tls.key), cert_chain: Buffer.from(opts.tls.cert) }], false)
    : grpc.ServerCredentials.createInsecure();
  const injector = server.createConnectionInjector(creds);
  const listener = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (listener.address() as net.AddressInfo).port;

  return {
    port,
    target: `127.0.0.1:${port}`,
    get received() { return records.map((r) => r.received); },
    records,
    get streams() { return records.length; },
    get connections() { return connections; },
    waitForStreams: (n) => (records.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    stop: async () => {
      if (dead) return;
      dead = true;
      for (const f of finishers) f('stopped');
      for (const t of timers) clearTimeout(t);
      server.forceShutdown();
      injector.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
    crash,
  };
}
