/**
 * Signal handling: the first SIGTERM/SIGINT drains gracefully, a second one exits at once (the operator
 * or orchestrator has given up waiting).
 */
import { MAX_DURATION_MS, parseDuration } from '../config/duration.js';
import { logger } from '../observability/logger.js';

/** Default drain deadline, as agentgateway's CONNECTION_TERMINATION_DEADLINE default. */
export const DEFAULT_DRAIN_MS = 30_000;

function durationEnv(raw: string | undefined, fallback: number): number | undefined {
  const v = raw?.trim();
  if (v === undefined || v === '') return fallback;
  const ms = /^\d+(\.\d+)?$/.test(v) ? Math.round(Number(v) * 1000) : parseDuration(v);
  // A timer cannot wait longer (it would fire at once); a deadline that long means "no deadline" anyway.
  return ms === undefined ? undefined : Math.min(ms, MAX_DURATION_MS);
}

/**
 * Reads the drain deadline from `CONNECTION_TERMINATION_DEADLINE` (`30s`, `500ms`, or plain seconds).
 * Returns undefined when the value is set but is not a duration (the caller warns and uses the default).
 */
export function drainDeadlineMs(env: Readonly<Record<string, string | undefined>>): number | undefined {
  return durationEnv(env.CONNECTION_TERMINATION_DEADLINE, DEFAULT_DRAIN_MS);
}

/**
 * Reads `CONNECTION_MIN_TERMINATION_DEADLINE` (default 0): how long to keep accepting after readiness turns
 * 503, so load balancers notice before connections are refused. Undefined when set but not a duration.
 */
export function drainHoldMs(env: Readonly<Record<string, string | undefined>>): number | undefined {
  return durationEnv(env.CONNECTION_MIN_TERMINATION_DEADLINE, 0);
}

/** Installs SIGTERM/SIGINT handlers: `drain()` once, then `process.exit(0)`; a second signal exits 1. */
export function onShutdownSignals(drain: (signal: string) => Promise<void>): void {
  let draining = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (draining) {
      logger.warn({ signal }, 'second signal: exiting without waiting for in-flight requests');
      process.exit(1);
    }
    draining = true;
    logger.info({ signal }, 'shutting down');
    drain(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ error: err instanceof Error ? err.message : String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
