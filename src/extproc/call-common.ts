/**
 * What both transports' calls (H2Call on node:http2, WireCall on our own framing) do the same way: decoding a reply,
 * handing it to the session without letting a throw escape, mapping a gRPC status onto a StreamEnd, and ending
 * exactly once while letting go of the session's handlers.
 */
import { logger } from '../observability/logger.js';
import type { GrpcStatus } from './grpc-framing.js';
import { decodeResponse, type ProcessingResponse } from './messages.js';
import type { StreamEnd, StreamHandlers } from './transport.js';

/** What a finished call holds instead of the session's handlers (so a finished exchange can be collected). */
export const DETACHED: StreamHandlers = { onMessage: () => undefined, onEnd: () => undefined };

/** Decodes one reply; a string is why it could not be (the call must then be reset with it). */
export function decodeReply(bytes: Uint8Array): ProcessingResponse | string {
  try {
    return decodeResponse(bytes);
  } catch (err) {
    return `the processor sent a malformed ProcessingResponse: ${(err as Error).message}`;
  }
}

/** Hands a reply to the session; returns why the call must be reset if the handler threw. */
export function deliverReply(handlers: StreamHandlers, msg: ProcessingResponse): string | undefined {
  try {
    handlers.onMessage(msg);
    return undefined;
  } catch (err) {
    logger.error({ err }, 'ext_proc stream handler threw');
    return `the ext_proc session failed while handling a reply: ${(err as Error).message}`;
  }
}

/** The end a gRPC status gives; `pendingBytes` of an unfinished message make it a truncation instead. */
export function statusEnd(status: GrpcStatus, pendingBytes: number, who: string): StreamEnd {
  if (pendingBytes > 0) return { kind: 'reset', message: `the ${who} ended the stream inside a message (truncated gRPC frame)` };
  if (status.code === 0) return { kind: 'ok' };
  return { kind: 'grpc_status', code: status.code, message: status.message };
}

/** Calls `onEnd` (a throw is logged, never propagated). */
export function reportEnd(handlers: StreamHandlers, end: StreamEnd): void {
  try {
    handlers.onEnd(end);
  } catch (err) {
    logger.error({ err }, 'ext_proc stream onEnd handler threw');
  }
}
