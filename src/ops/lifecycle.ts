/**
 * The parts of a running process that single-process (run.ts) and cluster (cluster.ts) mode share: hot
 * reload of a watched config file, and the start of the shutdown sequence (not ready → hold). Each mode
 * supplies only what differs: how a new model is applied, and how in-flight work is drained.
 */
import type { GatewayModel } from '../config/model.js';
import { logger } from '../observability/logger.js';
import type { Readiness } from './readiness.js';
import { referencedFiles } from './referenced-files.js';
import { reportReloadFailure, reportReloadSuccess } from './reload.js';
import type { Running, WatchSpec } from './run.js';
import { watchConfigFile, type FileWatch } from './watch.js';

/**
 * Watches `spec.path` (and the files the config refers to) and hands each new text to `apply`, which loads
 * and applies it and returns the new model; a throw rejects the edit and the previous config keeps serving.
 * `startup` is the model read at startup (its `config:` block stays in effect until a restart).
 */
export function watchAndReload(
  spec: WatchSpec,
  startup: GatewayModel,
  apply: (text: string) => Promise<GatewayModel>,
): FileWatch {
  const w = watchConfigFile(
    spec.path,
    async (text) => {
      try {
        const model = await apply(text);
        w.setExtraFiles(referencedFiles(model));
        reportReloadSuccess(spec.path, startup, model);
      } catch (err) {
        reportReloadFailure(spec.path, err);
      }
    },
    {
      initialText: spec.initialText,
      ...(spec.debounceMs === undefined ? {} : { debounceMs: spec.debounceMs }),
      onWatchError: (err) => logger.warn({ source: spec.path, error: err.message }, 'config file watch failed; hot reload is off'),
    },
  );
  w.setExtraFiles(referencedFiles(startup));
  return w;
}

/**
 * Builds the idempotent `Running.shutdown`: readiness turns 503 and the watch stops, then (for `holdMs`)
 * the process keeps serving, then `drain` stops accepting, waits for in-flight work and closes everything.
 */
export function drainingShutdown(
  readiness: Readiness,
  watch: FileWatch | undefined,
  drain: (drainTimeoutMs: number) => Promise<void>,
): Running['shutdown'] {
  let shutdownPromise: Promise<void> | undefined;
  return (drainTimeoutMs, holdMs = 0) => {
    shutdownPromise ??= (async () => {
      readiness.state = 'draining';
      watch?.close();
      if (holdMs > 0) {
        // Still serving while not ready, so load balancers can take us out before connections are refused.
        logger.info({ holdMs }, 'not ready; holding before draining');
        await new Promise((r) => setTimeout(r, holdMs));
      }
      await drain(drainTimeoutMs);
    })();
    return shutdownPromise;
  };
}
