/**
 * The metrics server (`config.statsAddr`, default 0.0.0.0:15020): Prometheus text on `/metrics` and, like
 * agentgateway/Envoy, on `/stats/prometheus`.
 */
import type { ListenAddr } from '../config/model.js';
import { pathOf, reply, startOpsServer, type OpsServer } from './serve.js';

/** Where the exposition text comes from: a prom-client Registry, or the cluster aggregator. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** Starts the stats server over `registry`. */
export function startStatsServer(addr: ListenAddr, registry: MetricsSource): Promise<OpsServer> {
  return startOpsServer('stats', addr, async (req, res) => {
    const path = pathOf(req);
    if ((req.method !== 'GET' && req.method !== 'HEAD') || (path !== '/metrics' && path !== '/stats/prometheus')) return false;
    reply(res, 200, exposition(await registry.metrics()), registry.contentType);
    return true;
  });
}

/**
 * prom-client writes a NaN sample as `Nan` (nodejs_eventloop_lag_* right after start): Prometheus takes it, but the
 * text format spells it `NaN` and strict parsers reject the whole scrape.
 */
export function exposition(text: string): string {
  return text.includes(' Nan') ? text.replace(/ Nan$/gm, ' NaN') : text;
}
