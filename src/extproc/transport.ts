/**
 * The contract between the ext_proc session (protocol logic) and the transport (gRPC over HTTP/2).
 * One `ProcessorStream` is one `envoy.service.ext_proc.v3.ExternalProcessor/Process` call.
 */
import type { ProcessingRequest, ProcessingResponse } from './messages.js';

/** How a stream ended. `ok` is a clean close by the processor (gRPC status 0): "continue unmodified". */
export type StreamEnd =
  | { readonly kind: 'ok' }
  /** Could not connect / open the stream (refused, DNS, TLS, GOAWAY before open). */
  | { readonly kind: 'connect'; readonly message: string }
  /** The processor ended the call with a non-OK gRPC status. */
  | { readonly kind: 'grpc_status'; readonly code: number; readonly message: string }
  /** The HTTP/2 stream or connection was reset / lost mid-call, or the response was not valid gRPC. */
  | { readonly kind: 'reset'; readonly message: string }
  /** We cancelled it ourselves (`cancel()`). */
  | { readonly kind: 'cancelled' };

export interface StreamHandlers {
  /** Called for each decoded reply, in order. */
  onMessage(msg: ProcessingResponse): void;
  /** Called exactly once when the call is over (never before all messages were delivered). */
  onEnd(end: StreamEnd): void;
}

export interface ProcessorStream {
  /** Encodes and writes a message. Returns false when the transport's buffer is full (wait for `onDrain`). */
  send(msg: ProcessingRequest): boolean;
  /** Resolves when the transport can take more data after `send` returned false. */
  drained(): Promise<void>;
  /** Half-closes our side (no more messages); replies may still arrive. */
  closeSend(): void;
  /** Cancels the call (RST_STREAM CANCEL); `onEnd({kind:'cancelled'})` follows unless it already ended. */
  cancel(): void;
  /**
   * Optional flow control: stop delivering `onMessage` until `resume()` (stop reading, so HTTP/2 flow control
   * holds the processor back). The channel pauses while a reader (upstream or client) is more than a few
   * answers behind the processor and nobody waits for a reply not yet read (flow-control.ts).
   */
  pause?(): void;
  /** Optional: resume delivering messages after `pause()`. */
  resume?(): void;
}

/** Options for one Process call. */
export interface OpenOptions {
  /** gRPC metadata to send (e.g. traceparent). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A connection manager for one processor target; shares one HTTP/2 connection across calls. */
export interface ProcessorClient {
  /** Opens a call. Never throws: failures are reported through `handlers.onEnd`. */
  open(handlers: StreamHandlers, options?: OpenOptions): ProcessorStream;
  /** Closes the connection (after in-flight calls, or at once with `force`). */
  close(force?: boolean): Promise<void>;
}
