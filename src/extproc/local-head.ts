/**
 * The head and trailers of a streamed local reply (StreamedImmediateResponse) from the processor's HeaderMaps.
 * Pure: the channel uses `localHead` to refuse a headers_response without a usable `:status` before anything
 * reaches the client; local-reply.ts builds the response from the same functions.
 */
import { HeaderList } from '../http/headers.js';
import type { HeaderMutation, HttpHeaders, ProcessingResponse } from './messages.js';
import { mutateResponseHead, mutateTrailers, type RejectedMutation } from './mutation.js';

type HeaderMapIn = NonNullable<HttpHeaders['headers']>;

/** A HeaderMap as a mutation that appends every entry in order (repeated headers stay repeated). */
function asAppends(map: HeaderMapIn | null | undefined): HeaderMutation {
  return { setHeaders: (map?.headers ?? []).map((header) => ({ header, append: { value: true } })) };
}

/**
 * The head of a local reply from its headers_response: `:status` is required (3 digits, ≥ 200); every other
 * header goes through the usual mutation rules (CR/LF/NUL and hop-by-hop never applied). Returns a string
 * saying what is wrong when the head cannot be used.
 */
export function localHead(h: HttpHeaders | null | undefined): { status: number; headers: HeaderList; rejected: RejectedMutation[] } | string {
  const head = { status: 0, headers: new HeaderList() };
  const rejected = mutateResponseHead(head, asAppends(h?.headers));
  if (head.status === 0) {
    return 'the processor started a streamed_immediate_response whose headers_response has no valid :status (a number from 200 to 999 is required)';
  }
  // The body is streamed with a length nobody knows in advance, or there is none (end_of_stream): either way a
  // content-length from the processor would not describe it, and a wrong one hangs or desyncs the client.
  head.headers.delete('content-length');
  return { status: head.status, headers: head.headers, rejected };
}

/** The trailers of a local reply from its trailers_response. */
export function localTrailers(msg: ProcessingResponse): { trailers: HeaderList; rejected: RejectedMutation[] } {
  const trailers = new HeaderList();
  const rejected = mutateTrailers(trailers, asAppends(msg.streamedImmediateResponse?.trailersResponse));
  return { trailers, rejected };
}

