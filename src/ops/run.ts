/**
 * The running process: gateway, ops servers, metrics, access log, hot reload, and the drain sequence.
 * main.ts parses the command line and loads the first config; everything after that lives here.
 */
import { isDeepStrictEqual } from 'node:util';
import type { GatewayModel } from '../config/model.js';
import { createGateway, type Gateway } from '../gateway.js';
import { createAccessLog } from '../observability/access-log.js';
import { channels, type ConfigReloadEvent } from '../observability/diagnostics.js';
import { logger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { startAdminServer } from './admin.js';
import { configDump } from './config-dump.js';
import { Readiness, startReadinessServer } from './readiness.js';
import type { OpsServer } from './serve.js';
import { startStatsServer } from './stats.js';
import { watchConfigFile, type FileWatch } from './watch.js';

/** How to run: the loaded model, and (for `-f FILE`) how to watch and re-load the file. */
export interface RunOptions {
  readonly model: GatewayModel;
  /** Listen address for binds (TOLLGATE_BIND_HOST); undefined = the gateway's default. */
  readonly bindHost: string | undefined;
  /** Present for a watched config file; absent for `-c` and stdin. */
  readonly watch?: {
    readonly path: string;
    readonly initialText: string;
    /** Parses and normalizes new file content; throws ConfigError on invalid config. */
    readonly load: (text: string) => GatewayModel;
    readonly debounceMs?: number;
  };
}

/** A started gateway process. */
export interface Running {
  readonly gateway: Gateway;
  readonly readiness: Readiness;
  /** Not ready → stop accepting → drain in-flight (bounded) → close everything. Idempotent. */
  shutdown(drainTimeoutMs: number): Promise<void>;
}

function describeError(err: unknown): { message: string; issues?: unknown } {
  if (err instanceof Error) {
    const issues = (err as { issues?: unknown }).issues;
    return issues === undefined ? { message: err.message } : { message: err.message, issues };
  }
  return { message: String(err) };
}

/** Starts everything; rejects (after cleaning up) if a bind or ops address cannot be listened on. */
export async function run(opts: RunOptions): Promise<Running> {
  const metrics = createMetrics();
  const accessLog = createAccessLog({ enabled: opts.model.frontend.accessLog });
  const readiness = new Readiness();
  const ops: OpsServer[] = [];
  const cfg = opts.model.config;
  const gateway = createGateway(opts.model, opts.bindHost === undefined ? {} : { bindHost: opts.bindHost });
  let watch: FileWatch | undefined;
  let shutdownPromise: Promise<void> | undefined;

  const closeAll = async (): Promise<void> => {
    watch?.close();
    await Promise.allSettled(ops.map((s) => s.close()));
    accessLog.dispose();
    metrics.dispose();
  };

  const addrs: Record<string, string> = {};
  try {
    // Readiness first, so a probe sees 503 while binds are still opening rather than a refused connection.
    if (cfg.readinessAddr !== null) ops.push(await startReadinessServer(cfg.readinessAddr, readiness));
    if (cfg.readinessAddr !== null) addrs.readiness = ops[ops.length - 1]!.address;
    if (cfg.adminAddr !== null) {
      ops.push(await startAdminServer(cfg.adminAddr, () => gateway.model));
      addrs.admin = ops[ops.length - 1]!.address;
    }
    if (cfg.statsAddr !== null) {
      ops.push(await startStatsServer(cfg.statsAddr, metrics.registry));
      addrs.stats = ops[ops.length - 1]!.address;
    }
    await gateway.start();
  } catch (err) {
    await gateway.close().catch(() => undefined);
    await closeAll();
    throw err;
  }
  readiness.state = 'ready';
  logger.info({ binds: gateway.addresses(), ...addrs }, 'tollgate ready');

  const w = opts.watch;
  if (w !== undefined) {
    const reload = async (text: string): Promise<void> => {
      const report = (e: ConfigReloadEvent): void => channels.configReload.publish(e);
      let model: GatewayModel;
      try {
        model = w.load(text);
        await gateway.reload(model);
      } catch (err) {
        const d = describeError(err);
        logger.error({ source: w.path, error: d.message, issues: d.issues }, 'Failed to reload config; keeping the previous config');
        report({ result: 'failure', source: w.path, error: d.message });
        return;
      }
      accessLog.setEnabled(model.frontend.accessLog);
      if (!isDeepStrictEqual(configDump({ ...model, binds: [] }), configDump({ ...opts.model, binds: [] }))) {
        // Like agentgateway, ops addresses and process settings are read once at startup.
        logger.warn({ source: w.path }, 'changes to the `config:` block apply only after a restart');
      }
      logger.info({ source: w.path }, 'config reloaded');
      report({ result: 'success', source: w.path });
    };
    watch = watchConfigFile(w.path, reload, {
      initialText: w.initialText,
      ...(w.debounceMs === undefined ? {} : { debounceMs: w.debounceMs }),
      onWatchError: (err) => logger.warn({ source: w.path, error: err.message }, 'config file watch failed; hot reload is off'),
    });
  }

  return {
    gateway,
    readiness,
    shutdown(drainTimeoutMs) {
      shutdownPromise ??= (async () => {
        readiness.state = 'draining';
        watch?.close();
        logger.info({ inFlight: gateway.inFlight, deadlineMs: drainTimeoutMs }, 'draining');
        const started = Date.now();
        await gateway.drain(drainTimeoutMs);
        const left = gateway.inFlight;
        await gateway.close();
        await closeAll();
        logger.info({ drainedMs: Date.now() - started, abandoned: left }, 'stopped');
      })();
      return shutdownPromise;
    },
  };
}
