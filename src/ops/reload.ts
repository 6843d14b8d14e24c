/**
 * Reporting for config reloads, shared by the single-process and cluster paths: one log line and one
 * `tollgate:config:reload` event per attempt (metrics count them and drive the synchronized gauge).
 */
import { isDeepStrictEqual } from 'node:util';
import type { GatewayModel } from '../config/model.js';
import { channels } from '../observability/diagnostics.js';
import { logger } from '../observability/logger.js';

function describeError(err: unknown): { message: string; issues?: unknown } {
  if (err instanceof Error) {
    const issues = (err as { issues?: unknown }).issues;
    return issues === undefined ? { message: err.message } : { message: err.message, issues };
  }
  return { message: String(err) };
}

/** Logs a rejected reload (the previous config keeps serving) and publishes the failure. */
export function reportReloadFailure(source: string, err: unknown): void {
  const d = describeError(err);
  logger.error({ source, error: d.message, issues: d.issues }, 'Failed to reload config; keeping the previous config');
  channels.configReload.publish({ result: 'failure', source, error: d.message });
}

/** Logs an applied reload (warning when the startup-only `config:` block differs from `startup`'s) and publishes success. */
export function reportReloadSuccess(source: string, startup: GatewayModel, after: GatewayModel): void {
  if (!isDeepStrictEqual(startup.config, after.config)) {
    // Like agentgateway, ops addresses and process settings are read once at startup.
    logger.warn({ source }, 'changes to the `config:` block apply only after a restart');
  }
  logger.info({ source }, 'config reloaded');
  channels.configReload.publish({ result: 'success', source });
}
