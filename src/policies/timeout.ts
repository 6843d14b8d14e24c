/**
 * timeout.requestTimeout: one deadline for the whole exchange, ext_proc included. When it fires, the
 * request's AbortController is aborted with a `request_timeout` GatewayError (504), which every awaiting
 * phase (ext_proc, upstream, body streams) observes through `ctx.abort` (or `ctx.signal`).
 */
import type { TimeoutPolicy } from '../config/model.js';
import { GatewayError } from '../errors.js';
import type { AbortSource } from '../http/abort.js';

/**
 * Starts the deadline; returns the timer to clear when the exchange ends (undefined when no timeout). `elapsedMs`:
 * how long the request has already run (a deadline set again after an ext_proc re-route counts from arrival).
 */
export function startRequestTimeout(policy: TimeoutPolicy | undefined, abort: { abort(reason?: unknown): void }, elapsedMs = 0): NodeJS.Timeout | undefined {
  const ms = policy?.requestTimeoutMs;
  if (ms === undefined || ms <= 0) return undefined;
  return setTimeout(() => abort.abort(new GatewayError('request_timeout', `request timeout: no complete response within ${ms}ms`)), Math.max(0, ms - elapsedMs));
}

/** Rejects with the signal's reason as soon as it aborts, so a phase that ignores the signal cannot outlive the deadline. */
export function raceSignal<T>(p: Promise<T>, abort: AbortSource): Promise<T> {
  if (abort.aborted) return Promise.reject(abort.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const remove = abort.onAbort(() => reject(abort.reason as Error));
    p.then(
      (v) => {
        remove();
        resolve(v);
      },
      (e: unknown) => {
        remove();
        reject(e as Error);
      },
    );
  });
}
