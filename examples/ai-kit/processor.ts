/**
 * A tiny ext_proc server for the AI examples (prompt guard, PII redactor, streamed-response redactor).
 * One handler object per HTTP exchange (so per-request state is just fields); every phase a handler leaves
 * out passes through: headers continue, buffered bodies continue, full-duplex chunks are echoed back as
 * `streamed_response` (which is what full-duplex mode requires: only the processor's chunks are forwarded).
 *
 * Run an example with `node --import tsx examples/<name>/<file>.ts --port 9000`.
 */
import * as grpc from '@grpc/grpc-js';
import { BodySendMode, pb, type ProcessingRequest, type ProcessingResponse } from '../../src/extproc/messages.js';

/** What a handler may return for one message: one reply, several (full-duplex chunks), or none yet. */
export type Replies = ProcessingResponse | readonly ProcessingResponse[] | null;

/** Per-exchange phase handlers; all optional. `fullDuplex` says whether that body is in FULL_DUPLEX_STREAMED. */
export interface ExchangeHandlers {
  requestHeaders?(msg: ProcessingRequest): Replies | Promise<Replies>;
  requestBody?(chunk: Buffer, endOfStream: boolean, fullDuplex: boolean): Replies | Promise<Replies>;
  responseHeaders?(msg: ProcessingRequest): Replies | Promise<Replies>;
  responseBody?(chunk: Buffer, endOfStream: boolean, fullDuplex: boolean): Replies | Promise<Replies>;
}

/** Reply builders the examples share. */
export const replies = {
  continueHeaders: (dir: 'request' | 'response'): ProcessingResponse =>
    dir === 'request' ? { requestHeaders: { response: {} } } : { responseHeaders: { response: {} } },
  continueBody: (dir: 'request' | 'response'): ProcessingResponse =>
    dir === 'request' ? { requestBody: { response: {} } } : { responseBody: { response: {} } },
  /** A buffered-mode body replacement. */
  replaceBody: (dir: 'request' | 'response', body: Buffer): ProcessingResponse => {
    const response = { bodyMutation: { body } };
    return dir === 'request' ? { requestBody: { response } } : { responseBody: { response } };
  },
  /** A full-duplex chunk for the client or upstream. */
  streamed: (dir: 'request' | 'response', body: Buffer, endOfStream: boolean): ProcessingResponse => {
    const response = { bodyMutation: { streamedResponse: { body, endOfStream } } };
    return dir === 'request' ? { requestBody: { response } } : { responseBody: { response } };
  },
  /** Answers the client directly (e.g. a blocked prompt) with a JSON body. */
  immediateJson: (status: number, body: unknown): ProcessingResponse => ({
    immediateResponse: {
      status: { code: status },
      headers: { setHeaders: [{ header: { key: 'content-type', rawValue: Buffer.from('application/json') } }] },
      body: Buffer.from(JSON.stringify(body)),
    },
  }),
};

function passThrough(msg: ProcessingRequest, fd: { request: boolean; response: boolean }): Replies {
  if (msg.requestHeaders) return replies.continueHeaders('request');
  if (msg.responseHeaders) return replies.continueHeaders('response');
  if (msg.requestBody) {
    const b = msg.requestBody;
    return fd.request ? replies.streamed('request', Buffer.from(b.body ?? []), !!b.endOfStream) : replies.continueBody('request');
  }
  if (msg.responseBody) {
    const b = msg.responseBody;
    return fd.response ? replies.streamed('response', Buffer.from(b.body ?? []), !!b.endOfStream) : replies.continueBody('response');
  }
  if (msg.requestTrailers) return { requestTrailers: {} };
  if (msg.responseTrailers) return { responseTrailers: {} };
  return null;
}

async function dispatch(h: ExchangeHandlers, msg: ProcessingRequest, fd: { request: boolean; response: boolean }): Promise<Replies> {
  if (msg.requestHeaders && h.requestHeaders) return h.requestHeaders(msg);
  if (msg.responseHeaders && h.responseHeaders) return h.responseHeaders(msg);
  if (msg.requestBody && h.requestBody) return h.requestBody(Buffer.from(msg.requestBody.body ?? []), !!msg.requestBody.endOfStream, fd.request);
  if (msg.responseBody && h.responseBody) return h.responseBody(Buffer.from(msg.responseBody.body ?? []), !!msg.responseBody.endOfStream, fd.response);
  return passThrough(msg, fd);
}

/** A running example processor. */
export interface RunningProcessor {
  readonly port: number;
  /** `127.0.0.1:<port>`, for the gateway's `extProc.host`. */
  readonly target: string;
  close(): Promise<void>;
}

/** Serves `makeHandlers()` (called once per exchange) on `host:port` (default 127.0.0.1, port 0). */
export async function serveProcessor(makeHandlers: () => ExchangeHandlers, opts: { host?: string; port?: number } = {}): Promise<RunningProcessor> {
  const server = new grpc.Server();
  server.addService(
    {
      Process: {
        path: '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
        requestStream: true,
        responseStream: true,
        requestSerialize: (m: ProcessingRequest) => Buffer.from(pb.ProcessingRequest.encode(m).finish()),
        requestDeserialize: (b: Buffer) => pb.ProcessingRequest.decode(b),
        responseSerialize: (m: ProcessingResponse) => Buffer.from(pb.ProcessingResponse.encode(m).finish()),
        responseDeserialize: (b: Buffer) => pb.ProcessingResponse.decode(b),
      },
    },
    {
      Process: (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
        const handlers = makeHandlers();
        const fd = { request: false, response: false };
        // Replies must go out in message order, even when a handler is async.
        let chain = Promise.resolve();
        call.on('data', (msg: ProcessingRequest) => {
          if (msg.protocolConfig) {
            fd.request = msg.protocolConfig.requestBodyMode === BodySendMode.FULL_DUPLEX_STREAMED;
            fd.response = msg.protocolConfig.responseBodyMode === BodySendMode.FULL_DUPLEX_STREAMED;
          }
          chain = chain
            .then(async () => {
              const out = await dispatch(handlers, msg, fd);
              for (const r of out === null ? [] : Array.isArray(out) ? out : [out as ProcessingResponse]) call.write(r);
            })
            .catch((err: unknown) => {
              call.emit('error', { code: grpc.status.INTERNAL, details: String(err) });
            });
        });
        call.on('end', () => void chain.then(() => call.end()));
        call.on('error', () => {});
      },
    },
  );
  const host = opts.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    target: `${host}:${port}`,
    close: async () => {
      server.forceShutdown();
    },
  };
}

/** `--port N` from argv (default 9000), for running an example by hand. */
export function portFromArgv(argv: readonly string[] = process.argv): number {
  const i = argv.indexOf('--port');
  const n = i >= 0 ? Number(argv[i + 1]) : 9000;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port must be a port number, got ${argv[i + 1]}`);
  return n;
}
