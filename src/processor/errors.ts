/**
 * Typed errors for processor handlers. Throwing a `ProcessorError` from a handler ends that Process stream with
 * the given gRPC status; the gateway then applies its failure mode (fail closed → `statusOnError`, fail open →
 * continue unmodified). Any other thrown value ends the stream with INTERNAL.
 */

/** gRPC status codes a processor may end a stream with (the numeric values are the gRPC wire values). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** One of the gRPC status code numbers in {@link GrpcCode}. */
export type GrpcCodeNumber = (typeof GrpcCode)[keyof typeof GrpcCode];

/** An error that ends the current Process stream with a chosen gRPC status code and message. */
export class ProcessorError extends Error {
  /** The gRPC status code the stream ends with. */
  readonly code: GrpcCodeNumber;

  /** `code` is a gRPC status (e.g. `GrpcCode.PERMISSION_DENIED`); `message` becomes the grpc-message. */
  constructor(code: GrpcCodeNumber, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProcessorError';
    this.code = code;
  }

  /**
   * Normalizes anything a handler threw: a ProcessorError keeps its status; anything else becomes INTERNAL with
   * a generic message, so internal details never reach the gateway's logs by accident.
   */
  static from(err: unknown): ProcessorError {
    if (err instanceof ProcessorError) return err;
    return new ProcessorError(GrpcCode.INTERNAL, 'processor handler failed', { cause: err });
  }
}
