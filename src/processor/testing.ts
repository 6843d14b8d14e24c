/**
 * An in-process harness for processors: feed scripted ProcessingRequests to your handlers and assert the replies,
 * with no gateway, no gRPC and no sockets. Every message and reply still goes through the protobuf encoder, so a
 * reply that could not be sent on the wire fails here too.
 *
 * ```ts
 * const h = testProcessor(handlers, { requestBodyMode: 'buffered' });
 * const [r] = await h.send(requestHeaders({ ':path': '/x', authorization: 'Bearer t' }));
 * assert.equal(headerEditsOf(r).set['x-user'], 'alice');
 * ```
 */
import { pb, type ProcessingRequest, type ProcessingResponse } from '../extproc/messages.js';
import { jsonToStruct } from '../extproc/struct.js';
import type { ProcessorError } from './errors.js';
import { bodyModeNumber, type BodyMode } from './modes.js';
import { toBytes, type HeaderInput } from './replies.js';
import { ProcessStream } from './stream.js';
import type { HandlersInput, ProcessorContext } from './types.js';

/** How the harnessed stream ended: gRPC `code` 0 is OK. */
export interface TestStreamEnd {
  readonly code: number;
  readonly message: string;
}

/** Harness options: what the "gateway" announces on the first message. */
export interface TestProcessorOptions {
  readonly requestBodyMode?: BodyMode;
  readonly responseBodyMode?: BodyMode;
  readonly sendBodyWithoutWaitingForHeaderResponse?: boolean;
  /** gRPC request metadata the handlers see in `ctx.grpcMetadata`. */
  readonly grpcMetadata?: Record<string, string>;
  /** Called for non-ProcessorError handler errors (default: ignored; the end status shows INTERNAL). */
  readonly onError?: (err: unknown) => void;
}

/** A processor driven in-process, one stream (one HTTP exchange). */
export interface ProcessorHarness {
  /** Sends one message; resolves with the replies written while its handler ran (including `ctx.send`). */
  send(msg: ProcessingRequest): Promise<ProcessingResponse[]>;
  /** Every reply so far, in order. */
  readonly replies: readonly ProcessingResponse[];
  /** Half-closes like a gateway that has nothing more to send; resolves with how the stream ended. */
  end(): Promise<TestStreamEnd>;
  /** Cancels the stream like a gateway that gave up. */
  cancel(): void;
  /** Resolves when the stream ended (OK, error status, or cancel as code 1). */
  readonly ended: Promise<TestStreamEnd>;
  /** The handlers' context (modes, remembered headers, attributes). */
  readonly ctx: ProcessorContext;
}

/** Starts an in-process stream over `handlers`; the first message sent carries the options' `protocol_config`. */
export function testProcessor(handlers: HandlersInput, opts: TestProcessorOptions = {}): ProcessorHarness {
  const replies: ProcessingResponse[] = [];
  let finish!: (e: TestStreamEnd) => void;
  const ended = new Promise<TestStreamEnd>((resolve) => { finish = resolve; });
  let first = true;
  const stream = new ProcessStream(handlers, {
    write: (r) => {
      pb.ProcessingResponse.encode(r).finish();
      replies.push(r);
      return true;
    },
    drained: () => Promise.resolve(),
    end: () => finish({ code: 0, message: '' }),
    fail: (e: ProcessorError) => finish({ code: e.code, message: e.message }),
  }, { id: 0, metadata: opts.grpcMetadata ?? {} }, { onError: (err) => opts.onError?.(err) });
  return {
    async send(msg) {
      if (first) {
        first = false;
        if (msg.protocolConfig == null) {
          msg = {
            ...msg,
            protocolConfig: {
              requestBodyMode: bodyModeNumber(opts.requestBodyMode ?? 'none'),
              responseBodyMode: bodyModeNumber(opts.responseBodyMode ?? 'none'),
              sendBodyWithoutWaitingForHeaderResponse: opts.sendBodyWithoutWaitingForHeaderResponse ?? false,
            },
          };
        }
      }
      pb.ProcessingRequest.encode(msg).finish();
      const before = replies.length;
      await stream.receive(msg);
      return replies.slice(before);
    },
    get replies() { return replies; },
    async end() {
      await stream.inputEnded();
      return ended;
    },
    cancel() {
      stream.abort('cancelled');
      finish({ code: 1, message: 'cancelled' });
    },
    ended,
    ctx: stream.ctx,
  };
}

/** Options for scripted headers messages. */
export interface HeadersMessageOptions {
  /** The message has no body. */
  readonly endOfStream?: boolean;
  /** Send values in `value` (string) like agentgateway does for pseudo-headers, instead of `raw_value`. */
  readonly asValue?: boolean;
  /** `attributes` (by key, plain JSON). */
  readonly attributes?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** `metadata_context.filter_metadata` (by namespace, plain JSON). */
  readonly metadataContext?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

function headerMap(h: HeaderInput, asValue = false) {
  const list = Array.isArray(h) ? (h as ReadonlyArray<readonly [string, string]>) : Object.entries(h);
  return { headers: list.map(([key, v]) => (asValue ? { key, value: v } : { key, rawValue: Buffer.from(v, 'utf8') })) };
}

function headersMessage(o: HeadersMessageOptions, h: HeaderInput) {
  return { headers: headerMap(h, o.asValue), endOfStream: o.endOfStream ?? false };
}

function extras(msg: ProcessingRequest, o: HeadersMessageOptions): ProcessingRequest {
  if (o.attributes) msg.attributes = Object.fromEntries(Object.entries(o.attributes).map(([k, v]) => [k, jsonToStruct(v)]));
  if (o.metadataContext) msg.metadataContext = { filterMetadata: Object.fromEntries(Object.entries(o.metadataContext).map(([k, v]) => [k, jsonToStruct(v)])) };
  return msg;
}

/** A `request_headers` message (put pseudo-headers like `:method` and `:path` in `headers` yourself). */
export function requestHeaders(headers: HeaderInput, o: HeadersMessageOptions = {}): ProcessingRequest {
  return extras({ requestHeaders: headersMessage(o, headers) }, o);
}

/** A `response_headers` message (include `:status`). */
export function responseHeaders(headers: HeaderInput, o: HeadersMessageOptions = {}): ProcessingRequest {
  return extras({ responseHeaders: headersMessage(o, headers) }, o);
}

/** A `request_body` message; `endOfStream` defaults to true (the whole body in one message). */
export function requestBody(data: string | Uint8Array, endOfStream = true): ProcessingRequest {
  return { requestBody: { body: toBytes(data), endOfStream } };
}

/** A `response_body` message; `endOfStream` defaults to true. */
export function responseBody(data: string | Uint8Array, endOfStream = true): ProcessingRequest {
  return { responseBody: { body: toBytes(data), endOfStream } };
}

/** A `request_trailers` message. */
export function requestTrailers(trailers: HeaderInput): ProcessingRequest {
  return { requestTrailers: { trailers: headerMap(trailers) } };
}

/** A `response_trailers` message. */
export function responseTrailers(trailers: HeaderInput): ProcessingRequest {
  return { responseTrailers: { trailers: headerMap(trailers) } };
}

export { replyPhase, headerEditsOf, bodyOf, streamedBody } from './inspect.js';
export type { HeaderEditsSeen, ReplyPhase } from './inspect.js';
