/**
 * The metrics server (`config.statsAddr`, default 0.0.0.0:15020): Prometheus text on `/metrics` and, like
 * agentgateway/Envoy, on `/stats/prometheus`.
 */
import type { Registry } from 'prom-client';
import type { ListenAddr } from '../config/model.js';
import { pathOf, reply, startOpsServer, type OpsServer } from './serve.js';

/** Starts the stats server over `registry`. */
export function startStatsServer(addr: ListenAddr, registry: Registry): Promise<OpsServer> {
  return startOpsServer('stats', addr, async (req, res) => {
    const path = pathOf(req);
    if (req.method !== 'GET' || (path !== '/metrics' && path !== '/stats/prometheus')) return false;
    reply(res, 200, await registry.metrics(), registry.contentType);
    return true;
  });
}
