/**
 * The failure policy as one small pure rule (SPEC §2 Failures). The session describes where the exchange
 * stands; this decides whether it can continue without the processor, must be rejected, or (once the client
 * has response headers) must be aborted. Pure; no I/O.
 */
import type { Direction } from './modes.js';

/** Why the processor failed. `detail` is a human sentence naming the phase, what happened and the fix. */
export interface FailureCause {
  readonly kind:
    | 'connect' // the stream could not be opened
    | 'grpc_status' // the processor ended the call with a non-OK status
    | 'reset' // the stream was reset / the connection was lost
    | 'closed' // the processor closed OK, but the gateway cannot continue unmodified any more
    | 'timeout' // messageTimeout expired while a reply was awaited
    | 'protocol' // a reply to the wrong phase, an empty reply, an unsupported reply
    | 'mutation' // a reply the gateway cannot apply (e.g. content-length mismatch)
    | 'body_too_large'; // a buffered body passed maxBufferSize (413 request / 500 response, never failOpen)
  readonly detail: string;
}

/** Everything the decision depends on. */
export interface FailureInput {
  readonly failureMode: 'failClosed' | 'failOpen';
  readonly statusOnError: number;
  /** The direction being processed when the failure surfaced. */
  readonly direction: Direction;
  /** True when that direction's headers already left the gateway (to the upstream, or to the client). */
  readonly headersForwarded: boolean;
  /** True when the gateway still holds every byte it handed to the processor for that direction. */
  readonly heldEverything: boolean;
  readonly cause: FailureCause;
}

/** What to do. `status` is the HTTP status of the error response (when rejecting). */
export interface FailureDecision {
  readonly action: 'continue-unmodified' | 'reject' | 'abort-stream';
  readonly status: number;
  /** The text after `ext_proc failed: ` in the error body and the access log. */
  readonly reason: string;
}

/**
 * Decides on a processor failure:
 * - response headers already at the client: abort the client stream (never a silent truncation);
 * - failOpen, nothing forwarded, everything still held, and the cause is about the processor (not a reply
 *   the gateway refused to apply, which failOpen does not cover, as in Envoy, nor a body over the buffer
 *   limit): continue unmodified;
 * - otherwise reject: 504 for messageTimeout, `statusOnError` for everything else.
 */
export function decideOnFailure(input: FailureInput): FailureDecision {
  const { cause } = input;
  const status = cause.kind === 'timeout' ? 504 : input.statusOnError;
  if (input.direction === 'response' && input.headersForwarded) {
    return { action: 'abort-stream', status, reason: cause.detail };
  }
  const processorFault = cause.kind !== 'mutation' && cause.kind !== 'body_too_large';
  if (input.failureMode === 'failOpen' && processorFault && !input.headersForwarded && input.heldEverything) {
    return { action: 'continue-unmodified', status, reason: cause.detail };
  }
  return { action: 'reject', status, reason: cause.detail };
}
