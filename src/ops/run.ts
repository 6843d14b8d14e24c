/**
 * The running process (single-process mode): gateway, ops servers, metrics, access log, hot reload, and the
 * drain sequence. main.ts parses the command line and loads the first config; everything after that lives
 * here. cluster.ts is the multi-process counterpart.
 */
import type { GatewayModel } from '../config/model.js';
import { createGateway, type Gateway } from '../gateway.js';
import { createAccessLog } from '../observability/access-log.js';
import { logger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { drainingShutdown, watchAndReload } from './lifecycle.js';
import { startOpsServers, type OpsServers } from './ops-servers.js';
import { Readiness } from './readiness.js';
import type { FileWatch } from './watch.js';

/** A watched config file and how to turn its text into a model. */
export interface WatchSpec {
  readonly path: string;
  readonly initialText: string;
  /** Parses and normalizes new file content; throws ConfigError on invalid config. */
  readonly load: (text: string) => GatewayModel;
  readonly debounceMs?: number;
}

/** How to run: the loaded model, and (for `-f FILE`) how to watch and re-load the file. */
export interface RunOptions {
  readonly model: GatewayModel;
  /** Listen address for binds (TOLLGATE_BIND_HOST); undefined = the gateway's default. */
  readonly bindHost: string | undefined;
  /** Present for a watched config file; absent for `-c` and stdin. */
  readonly watch?: WatchSpec;
}

/** A started gateway process. */
export interface Running {
  readonly readiness: Readiness;
  /**
   * Not ready → (hold `holdMs` while still serving) → stop accepting → drain in-flight (bounded by
   * `drainTimeoutMs`) → close everything. Idempotent.
   */
  shutdown(drainTimeoutMs: number, holdMs?: number): Promise<void>;
}

/** Starts everything; rejects (after cleaning up) if a bind or ops address cannot be listened on. */
export async function run(opts: RunOptions): Promise<Running> {
  const metrics = createMetrics();
  const accessLog = createAccessLog({ enabled: opts.model.frontend.accessLog });
  const readiness = new Readiness();
  const gateway: Gateway = createGateway(opts.model, opts.bindHost === undefined ? {} : { bindHost: opts.bindHost });
  let ops: OpsServers | undefined;
  let watch: FileWatch | undefined;

  const closeAll = async (): Promise<void> => {
    watch?.close();
    await ops?.close();
    accessLog.dispose();
    metrics.dispose();
  };

  try {
    ops = await startOpsServers(opts.model.config, { readiness, model: () => gateway.model, metrics: metrics.registry });
    await gateway.start();
  } catch (err) {
    await gateway.close().catch(() => undefined);
    await closeAll();
    throw err;
  }
  // The watch is armed before the gateway says it is ready: an edit made as soon as it is ready must be seen.
  const spec = opts.watch;
  if (spec !== undefined) {
    watch = watchAndReload(spec, opts.model, async (text) => {
      const model = spec.load(text);
      await gateway.reload(model);
      accessLog.setEnabled(model.frontend.accessLog);
      return model;
    });
  }
  readiness.state = 'ready';
  logger.info({ binds: gateway.addresses(), ...ops.addresses }, 'tollgate ready');

  return {
    readiness,
    shutdown: drainingShutdown(readiness, watch, async (drainTimeoutMs) => {
      logger.info({ inFlight: gateway.inFlight, deadlineMs: drainTimeoutMs }, 'draining');
      const started = Date.now();
      await gateway.drain(drainTimeoutMs);
      const left = gateway.inFlight;
      await gateway.close();
      await closeAll();
      logger.info({ drainedMs: Date.now() - started, abandoned: left }, 'stopped');
    }),
  };
}
