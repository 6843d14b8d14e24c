/**
 * Starts the three ops servers a config asks for (each may be `off`), readiness first so probes see
 * "not ready" rather than a refused connection while the binds open.
 */
import type { GatewayModel, StaticConfig } from '../config/model.js';
import { startAdminServer } from './admin.js';
import { startReadinessServer, type Readiness } from './readiness.js';
import type { OpsServer } from './serve.js';
import { startStatsServer, type MetricsSource } from './stats.js';

/** Running ops servers and the addresses they bound (for the ready log line). */
export interface OpsServers {
  readonly addresses: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/** Starts admin, stats and readiness per `cfg`; on failure closes what started and rejects. */
export async function startOpsServers(
  cfg: StaticConfig,
  deps: { readonly readiness: Readiness; readonly model: () => GatewayModel; readonly metrics: MetricsSource },
): Promise<OpsServers> {
  const servers: OpsServer[] = [];
  const addresses: Record<string, string> = {};
  const close = async (): Promise<void> => {
    await Promise.allSettled(servers.map((s) => s.close()));
  };
  try {
    if (cfg.readinessAddr !== null) {
      const s = await startReadinessServer(cfg.readinessAddr, deps.readiness);
      servers.push(s);
      addresses.readiness = s.address;
    }
    if (cfg.adminAddr !== null) {
      const s = await startAdminServer(cfg.adminAddr, deps.model);
      servers.push(s);
      addresses.admin = s.address;
    }
    if (cfg.statsAddr !== null) {
      const s = await startStatsServer(cfg.statsAddr, deps.metrics);
      servers.push(s);
      addresses.stats = s.address;
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { addresses, close };
}
