/** Classifies a decoded ProcessingResponse for the state machine (state.ts), by its oneof. Pure. */
import type { ReplyKind } from './state.js';

/** Classifies a decoded ProcessingResponse by its oneof (protobufjs leaves unset members null). */
export function replyKind(msg: {
  requestHeaders?: unknown;
  responseHeaders?: unknown;
  requestBody?: unknown;
  responseBody?: unknown;
  requestTrailers?: unknown;
  responseTrailers?: unknown;
  immediateResponse?: unknown;
  streamedImmediateResponse?: unknown;
}): ReplyKind {
  if (msg.requestHeaders != null) return 'request_headers';
  if (msg.responseHeaders != null) return 'response_headers';
  if (msg.requestBody != null) return 'request_body';
  if (msg.responseBody != null) return 'response_body';
  if (msg.requestTrailers != null) return 'request_trailers';
  if (msg.responseTrailers != null) return 'response_trailers';
  if (msg.immediateResponse != null) return 'immediate_response';
  if (msg.streamedImmediateResponse != null) {
    const sir = msg.streamedImmediateResponse as { headersResponse?: unknown; bodyResponse?: unknown; trailersResponse?: unknown };
    if (sir.headersResponse != null) return 'local_headers';
    if (sir.bodyResponse != null) return 'local_body';
    if (sir.trailersResponse != null) return 'local_trailers';
    return 'streamed_immediate_response';
  }
  return 'empty';
}
