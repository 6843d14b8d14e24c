/**
 * A streamed local reply (Envoy's StreamedImmediateResponse, reference §1.10) as a GatewayResponse: the
 * processor's headers_response becomes the head, its body_response chunks a pull-based Body (a slow client
 * slows the processor through the channel's flow control), its trailers_response the trailers. The machine
 * (state-local.ts) guarantees the order; this file turns the parts into HTTP.
 */
import type { HeaderList } from '../http/headers.js';
import type { Body, GatewayResponse } from '../http/message.js';
import { ProcessorFailure, type Answer, type ProcessorChannel } from './channel.js';
import { localHead, localTrailers } from './local-head.js';
import type { RejectedMutation } from './mutation.js';

/** What the local reply needs from the session. */
export interface LocalServices {
  readonly ch: ProcessorChannel;
  rejected(list: readonly RejectedMutation[]): void;
  /** A failure after the local headers reached the client: throws the error that fails (aborts) the body. */
  failure(err: ProcessorFailure): never;
}

/** The body of a local reply: each read pulls the processor's next body_response. */
export function localBody(x: LocalServices): Body {
  let trailers: HeaderList | undefined;
  return {
    length: undefined,
    trailers: () => trailers,
    async *[Symbol.asyncIterator]() {
      let completed = false;
      try {
        for (;;) {
          let a: Answer;
          try {
            a = await x.ch.answer('request');
          } catch (err) {
            if (err instanceof ProcessorFailure) x.failure(err);
            throw err;
          }
          if (a.kind !== 'local') {
            // Unreachable by the machine's rules; never let a stray answer truncate the reply silently.
            const cause = { kind: 'protocol' as const, detail: `the processor sent ${a.kind} during its streamed_immediate_response` };
            x.ch.fail(cause);
            x.failure(new ProcessorFailure(cause));
          }
          if (a.part === 'trailers') {
            const t = localTrailers(a.msg);
            x.rejected(t.rejected);
            trailers = t.trailers;
            completed = true;
            return;
          }
          const b = a.msg.streamedImmediateResponse?.bodyResponse?.body;
          if (b != null && b.length > 0) yield Buffer.from(b.buffer, b.byteOffset, b.byteLength);
          if (a.end) {
            completed = true;
            return;
          }
        }
      } finally {
        if (!completed) x.ch.discard('request');
      }
    },
  };
}

/** The local reply for its first part (headers_response), or a reason it cannot be used. */
export function localResponse(x: LocalServices, first: Extract<Answer, { kind: 'local' }>): GatewayResponse | string {
  const head = localHead(first.msg.streamedImmediateResponse?.headersResponse);
  if (typeof head === 'string') return head; // the channel already refused it; kept for type safety
  x.rejected(head.rejected);
  return { status: head.status, headers: head.headers, body: first.end ? null : localBody(x) };
}
