/**
 * Shared response helpers for the server layer: short text responses, the gRPC trailers-only error form,
 * and waiting for a writable to drain without hanging when the peer goes away.
 */
import { encodeGrpcMessage } from '../http/grpc-message.js';
import { GatewayError, grpcStatusFor } from '../errors.js';
import type { RequestAbort } from '../http/abort.js';
import { bufferBody } from '../http/body.js';
import { HeaderList } from '../http/headers.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { isGrpc } from '../http/message.js';

/** What the server layer hands to the pipeline and gets back. */
export interface HandledResponse {
  readonly response: GatewayResponse;
  /**
   * Called (as a method) exactly once when the response was fully written (error undefined) or abandoned. `status`:
   * the status the client got instead of the response's, when the server answered the failure itself. `bytesIn`:
   * what the client sent, when that was not the request's body (an upgraded connection's bytes).
   */
  done(error: unknown, bytesOut: number, status?: number, bytesIn?: number): void;
  /** The request's deadline stops here: an upgraded connection's 101 went out, and the tunnel outlives it. */
  endDeadline?(): void;
}

/**
 * Where a response goes: the server's writer for one protocol, called as `deliver(target, handled)` with the
 * per-request `target` it passed in (its response or stream), so a request needs no closure for it.
 */
export type Deliver<T> = (target: T, handled: HandledResponse) => void;

/**
 * The pipeline as the server layer sees it. `handle` never throws and calls `deliver` exactly once: in the same
 * turn when the response is known at once, else when it is.
 */
export interface RequestSink {
  handle<T>(req: GatewayRequest, abort: RequestAbort, deliver: Deliver<T>, target: T): void;
}

/** A `text/plain` response with a short body (a newline is appended). */
export function textResponse(status: number, text: string): GatewayResponse {
  const body = Buffer.from(`${text}\n`);
  const headers = new HeaderList([
    ['content-type', 'text/plain; charset=utf-8'],
    ['content-length', String(body.length)],
  ]);
  return { status, headers, body: bufferBody(body) };
}

/**
 * gRPC clients read errors from `grpc-status`, not the HTTP status, so errors are sent "trailers-only":
 * HTTP 200 with grpc-status/grpc-message in the only HEADERS frame (gRPC over HTTP/2 spec).
 */
export function grpcErrorResponse(httpStatus: number, message: string): GatewayResponse {
  const headers = new HeaderList([
    ['content-type', 'application/grpc'],
    ['grpc-status', String(grpcStatusFor(httpStatus))],
    ['grpc-message', encodeGrpcMessage(message)],
  ]);
  return { status: 200, headers, body: null };
}

/** The error response for a failed request: text/plain, or the gRPC form for gRPC requests. */
export function errorResponse(err: GatewayError, req: GatewayRequest | undefined): GatewayResponse {
  if (req !== undefined && isGrpc(req.headers)) return grpcErrorResponse(err.status, err.message);
  return textResponse(err.status, err.message);
}

/** The minimum a stream needs for `waitWritable`. */
interface WritableLike {
  readonly destroyed: boolean;
  once(event: 'drain' | 'close', fn: () => void): unknown;
  removeListener(event: 'drain' | 'close', fn: () => void): unknown;
}

/** Resolves when `w` drained; rejects if it closed first, so a writer never waits on a dead peer. */
export function waitWritable(w: WritableLike): Promise<void> {
  // 'close' may already have fired (the peer left before write() reported backpressure): never wait on it.
  if (w.destroyed) return Promise.reject(new Error('client closed the connection'));
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      w.removeListener('drain', settle);
      w.removeListener('close', settle);
      if (w.destroyed) reject(new Error('client closed the connection'));
      else resolve();
    };
    w.once('drain', settle);
    w.once('close', settle);
  });
}

/** The abort reason when the client goes away (499, nginx's "client closed request", for the access log). */
export function clientClosed(): GatewayError {
  return new GatewayError('client_closed', 'client closed the connection');
}

/** The error a body iteration failed with, as a GatewayError (for logs). */
export function asGatewayError(err: unknown): GatewayError {
  return GatewayError.from(err);
}
