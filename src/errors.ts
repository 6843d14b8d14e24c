/**
 * One error type for the whole gateway, with a closed set of codes and one exhaustive status mapping.
 * Anything thrown inside request handling is turned into a GatewayError at the edge with `GatewayError.from`.
 * The catalog of codes, with when each happens, is docs/errors.md (a test checks it is complete).
 */

/** Every way a request can fail inside the gateway. Adding a code without a status fails `tsc`. */
export type ErrorCode =
  /** The client sent something we cannot parse or must not forward. */
  | 'bad_request'
  /** The client went away before its response was complete (logged only: nobody gets the response). */
  | 'client_closed'
  /** No listener hostname or route matched the request. */
  | 'route_not_found'
  /** A body the gateway had to buffer was larger than `maxBufferSize` (request side). */
  | 'payload_too_large'
  /** The route's `timeout.requestTimeout` expired. */
  | 'request_timeout'
  /** The upstream could not be connected to (refused, DNS, TLS handshake). */
  | 'upstream_connect'
  /** The upstream reset or closed the connection, or sent an invalid response. */
  | 'upstream_reset'
  /** The upstream did not answer in time. */
  | 'upstream_timeout'
  /** The route has no usable backend. */
  | 'no_backend'
  /** A policy is accepted by the config schema but not implemented yet. */
  | 'policy_not_implemented'
  /** The ext_proc exchange failed and the policy fails closed (status may be overridden by `statusOnError`). */
  | 'ext_proc_failed'
  /** The ext_proc processor did not answer within `messageTimeout` and the policy fails closed. */
  | 'ext_proc_timeout'
  /** An AI backend request was malformed (bad JSON, missing model). */
  | 'ai_bad_request'
  /** A response body the gateway had to buffer was too large. */
  | 'response_too_large'
  /** A bug: something that should not happen. */
  | 'internal';

/** The HTTP status a code maps to, unless the error carries an explicit override. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'bad_request':
      return 400;
    case 'client_closed':
      return 499;
    case 'route_not_found':
      return 404;
    case 'payload_too_large':
      return 413;
    case 'request_timeout':
      return 504;
    case 'upstream_connect':
      return 503;
    case 'upstream_reset':
      return 502;
    case 'upstream_timeout':
      return 504;
    case 'no_backend':
      return 500;
    case 'policy_not_implemented':
      return 500;
    case 'ext_proc_failed':
      return 500;
    case 'ext_proc_timeout':
      return 504;
    case 'ai_bad_request':
      return 400;
    case 'response_too_large':
      return 500;
    case 'internal':
      return 500;
    default: {
      const never: never = code;
      return never;
    }
  }
}

/** All codes, in catalog order (used by the docs completeness test). */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze([
  'bad_request',
  'client_closed',
  'route_not_found',
  'payload_too_large',
  'request_timeout',
  'upstream_connect',
  'upstream_reset',
  'upstream_timeout',
  'no_backend',
  'policy_not_implemented',
  'ext_proc_failed',
  'ext_proc_timeout',
  'ai_bad_request',
  'response_too_large',
  'internal',
]);

/** gRPC status codes used when a gRPC client gets a gateway error (grpc/doc/statuscodes.md). */
export function grpcStatusFor(httpStatus: number): number {
  if (httpStatus === 400) return 13; // INTERNAL
  if (httpStatus === 401) return 16; // UNAUTHENTICATED
  if (httpStatus === 403) return 7; // PERMISSION_DENIED
  if (httpStatus === 404) return 12; // UNIMPLEMENTED
  if (httpStatus === 429 || httpStatus === 502 || httpStatus === 503 || httpStatus === 504) return 14; // UNAVAILABLE
  if (httpStatus === 413) return 8; // RESOURCE_EXHAUSTED
  return 2; // UNKNOWN
}

export interface GatewayErrorOptions {
  /** Overrides the status from `httpStatusFor` (e.g. ext_proc `statusOnError`). */
  readonly status?: number;
  readonly cause?: unknown;
}

/** The gateway's only error type. `message` is safe to show to clients: it never contains secrets. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? httpStatusFor(code);
  }

  /** Wraps any thrown value; GatewayErrors pass through unchanged. */
  static from(err: unknown): GatewayError {
    if (err instanceof GatewayError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new GatewayError('internal', `internal error: ${message}`, { cause: err });
  }
}
