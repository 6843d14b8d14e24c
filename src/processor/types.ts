/**
 * The handler-facing types of the processor SDK: per-phase handlers, the body chunk they receive, and the per-stream
 * context. One Process stream is one HTTP exchange (request and response).
 */
import type { ProcessingRequest, ProcessingResponse } from '../extproc/messages.js';
import type { MessageHeaders } from './headers.js';
import type { BodyMode } from './modes.js';
import type { Direction } from './replies.js';

/**
 * What a handler returns:
 * - `undefined` (or nothing): the SDK sends the mode-aware pass-through reply;
 * - a reply or a list of replies: sent in order (a full-duplex handler may send many chunks, or a held headers
 *   reply followed by a chunk);
 * - `null`: send nothing now (e.g. collecting full-duplex chunks, or a reply already sent with `ctx.send`).
 */
export type HandlerResult = ProcessingResponse | readonly ProcessingResponse[] | null | undefined | void;

/** One body message. */
export interface BodyChunk {
  /** Whose body this is. */
  readonly direction: Direction;
  /** The bytes of this chunk (the whole body in buffered mode). */
  readonly data: Buffer;
  /** The gateway's `end_of_stream`: last chunk and no trailers follow. */
  readonly endOfStream: boolean;
  /**
   * True when no more body data will reach the processor for this direction: on `endOfStream`, always in
   * buffered / bufferedPartial mode, and on an extra empty chunk the SDK adds (full duplex only, `synthetic`)
   * just before trailers arrive, so a handler that collects chunks can flush before the trailers reply.
   */
  readonly end: boolean;
  /** True for the SDK's empty flush chunk before trailers (no reply is owed for it; the default sends nothing). */
  readonly synthetic: boolean;
}

/** Protocol settings the gateway announced on the stream's first message (`protocol_config`). */
export interface ProtocolConfig {
  readonly requestBodyMode: BodyMode;
  readonly responseBodyMode: BodyMode;
  readonly sendBodyWithoutWaitingForHeaderResponse: boolean;
}

/** Per-stream context handed to every handler call of one HTTP exchange. */
export interface ProcessorContext {
  /** 0-based number of this stream on the processor (for logs). */
  readonly streamId: number;
  /** gRPC request metadata (e.g. `traceparent`), first value per key. */
  readonly grpcMetadata: Readonly<Record<string, string>>;
  /** The message being handled right now. */
  readonly message: ProcessingRequest;
  /** `protocol_config` from the first message (all `none` if the gateway sent none). */
  readonly protocolConfig: ProtocolConfig;
  /** The body mode in effect for a direction: `protocol_config`, updated by `mode_override` replies sent. */
  bodyMode(dir: Direction): BodyMode;
  /** True when that direction's body is FULL_DUPLEX_STREAMED (answer with `streamedChunk`). */
  fullDuplex(dir: Direction): boolean;
  /** Attributes received so far, by key (tollgate and Envoy use `envoy.filters.http.ext_proc`), as plain JSON. */
  readonly attributes: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** `metadata_context.filter_metadata` of the latest message, by namespace, as plain JSON. */
  readonly metadataContext: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** True when the gateway runs in observability mode (it ignores replies; the SDK sends none). */
  readonly observabilityMode: boolean;
  /** The request headers, once received (kept for the response phases). */
  readonly requestHeaders: MessageHeaders | undefined;
  /** The response headers, once received. */
  readonly responseHeaders: MessageHeaders | undefined;
  /** Aborted when the stream ends for any reason (gateway cancel, half-close done, error, shutdown). */
  readonly signal: AbortSignal;
  /** Sends replies now, out of the handler order (e.g. full-duplex chunks produced by a timer). */
  send(replies: ProcessingResponse | readonly ProcessingResponse[]): void;
  /** Ends the stream with gRPC OK: the gateway stops consulting the processor and continues unmodified. */
  end(): void;
}

/** A phase handler. */
export type Handler<E> = (event: E, ctx: ProcessorContext) => HandlerResult | Promise<HandlerResult>;

/** Per-phase handlers; every one left out passes the message through (mode-aware). */
export interface ProcessorHandlers {
  readonly onRequestHeaders?: Handler<MessageHeaders>;
  readonly onRequestBody?: Handler<BodyChunk>;
  readonly onRequestTrailers?: Handler<MessageHeaders>;
  readonly onResponseHeaders?: Handler<MessageHeaders>;
  readonly onResponseBody?: Handler<BodyChunk>;
  readonly onResponseTrailers?: Handler<MessageHeaders>;
  /** Called once when the stream is over (after the last reply), whatever the reason. */
  readonly onStreamEnd?: (ctx: ProcessorContext, reason: StreamEndReason) => void;
}

/** Why a stream ended: gateway half-close answered (`ok`), `ctx.end()`, handler error, cancel, or shutdown. */
export type StreamEndReason = 'ok' | 'ended' | 'error' | 'cancelled' | 'shutdown';

/**
 * Handlers, or a factory called once per stream (per HTTP exchange) so per-exchange state can live in closures.
 */
export type HandlersInput = ProcessorHandlers | ((ctx: ProcessorContext) => ProcessorHandlers);
