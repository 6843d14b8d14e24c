/**
 * `createProcessor(handlers)`: an ext_proc gRPC server on @grpc/grpc-js, with the gRPC health service, optional
 * TLS and graceful shutdown. Protocol logic lives in stream.ts; this file only moves messages.
 */
import * as grpc from '@grpc/grpc-js';
import type { ProcessingRequest, ProcessingResponse } from '../extproc/messages.js';
import { GrpcCode, type ProcessorError } from './errors.js';
import { EXT_PROC_SERVICE, extProcServiceDef, healthService, ServingStatus, type WireTap } from './services.js';
import { ProcessStream } from './stream.js';
import type { HandlersInput } from './types.js';

/** Server-wide options. */
export interface ProcessorOptions {
  /**
   * Called with errors thrown by handlers that are not `ProcessorError`s (likely bugs); the stream ends with
   * INTERNAL either way. Default: printed to stderr.
   */
  readonly onError?: (err: unknown, streamId: number) => void;
  /** Largest ProcessingRequest accepted, bytes (default 64 MiB; buffered bodies arrive in one message). */
  readonly maxMessageBytes?: number;
  /**
   * Sees the protobuf bytes of every ext_proc message received (`in`) and sent (`out`), for debugging or
   * capturing a session. Keep it cheap: it runs on the I/O path.
   */
  readonly tap?: WireTap;
}

/** TLS settings for `listen`. PEM strings or buffers. */
export interface TlsOptions {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** CA bundle for client certificates (mutual TLS). */
  readonly ca?: string | Buffer;
  /** Require and verify a client certificate (needs `ca`). */
  readonly requireClientCert?: boolean;
}

/** Where to listen. */
export interface ListenOptions {
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Address to bind (default `127.0.0.1`; use `0.0.0.0` or `::` to accept remote gateways). */
  readonly host?: string;
  /** Serve TLS (gateway `extProc.host: https://…`) instead of plaintext HTTP/2. */
  readonly tls?: TlsOptions;
}

/** The bound address. `target` is what goes into the gateway's `extProc.host`. */
export interface ProcessorAddress {
  readonly host: string;
  readonly port: number;
  /** `host:port` (IPv6 hosts bracketed). */
  readonly target: string;
}

/** A processor server. */
export interface Processor {
  /** Starts listening; resolves with the bound address (rejects if the address cannot be bound). Call once. */
  listen(opts?: ListenOptions): Promise<ProcessorAddress>;
  /**
   * Stops: health turns NOT_SERVING, no new streams are accepted, open streams get `graceMs` (default 5000) to
   * finish, then are cancelled. Resolves when the server is down. Idempotent.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
  /** Streams currently open. */
  readonly activeStreams: number;
}

const bracket = (h: string): string => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);

/** Creates an ext_proc processor from per-phase handlers (or a per-stream factory of handlers). */
export function createProcessor(handlers: HandlersInput, opts: ProcessorOptions = {}): Processor {
  const max = opts.maxMessageBytes ?? 64 * 1024 * 1024;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': max, 'grpc.max_send_message_length': -1 });
  const onError = opts.onError ?? ((err: unknown, id: number) => console.error(`processor stream ${id}: handler failed:`, err));
  const streams = new Set<ProcessStream>();
  let nextId = 0;
  let health: number = ServingStatus.SERVING;
  let listening = false;
  let closing: Promise<void> | undefined;

  server.addService(extProcServiceDef(opts.tap), {
    Process: (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
      const stream = new ProcessStream(handlers, {
        write: (r) => call.write(r),
        drained: () => new Promise<void>((resolve) => call.once('drain', resolve)),
        end: () => { if (!call.cancelled) call.end(); },
        fail: (e: ProcessorError) => call.emit('error', { code: e.code, details: e.message }),
      }, { id: nextId++, metadata }, { onError });
      streams.add(stream);
      const done = () => streams.delete(stream);
      // Read no further ahead than a few messages: HTTP/2 flow control then slows the gateway down.
      call.on('data', (msg: ProcessingRequest) => {
        if (stream.queued >= 16) call.pause();
        void stream.receive(msg).then(() => { if (stream.queued < 4 && call.isPaused()) call.resume(); });
      });
      // grpc-js also ends the readable side when the gateway cancels: wait a turn so 'cancelled' wins that race.
      call.on('end', () => setImmediate(() => void stream.inputEnded().then(done)));
      call.on('cancelled', () => { stream.abort('cancelled'); done(); });
      call.on('error', () => { stream.abort('cancelled'); done(); });
      call.on('close', () => { stream.abort(closing ? 'shutdown' : 'cancelled'); done(); });
    },
  });
  server.addService(healthService, {
    Check: (call: grpc.ServerUnaryCall<{ service: string }, { status: number }>, cb: grpc.sendUnaryData<{ status: number }>) => {
      const s = call.request.service;
      if (s !== '' && s !== EXT_PROC_SERVICE) cb({ code: GrpcCode.NOT_FOUND, details: `unknown service ${s}` });
      else cb(null, { status: health });
    },
  });

  return {
    get activeStreams() { return streams.size; },
    async listen(o: ListenOptions = {}): Promise<ProcessorAddress> {
      if (listening) throw new Error('processor is already listening');
      listening = true;
      const host = o.host ?? '127.0.0.1';
      const creds = o.tls
        ? grpc.ServerCredentials.createSsl(
            o.tls.ca === undefined ? null : Buffer.from(o.tls.ca),
            [{ private_key: Buffer.from(o.tls.key), cert_chain: Buffer.from(o.tls.cert) }],
            o.tls.requireClientCert ?? false,
          )
        : grpc.ServerCredentials.createInsecure();
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${bracket(host)}:${o.port ?? 0}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
      ).catch((err: unknown) => {
        listening = false; // e.g. the port is taken: let the caller try another
        throw err;
      });
      return { host, port, target: `${bracket(host)}:${port}` };
    },
    close(o: { graceMs?: number } = {}): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        health = ServingStatus.NOT_SERVING;
        const timer = setTimeout(() => {
          for (const s of streams) s.abort('shutdown');
          server.forceShutdown();
        }, o.graceMs ?? 5000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}
