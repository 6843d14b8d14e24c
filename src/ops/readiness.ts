/**
 * The readiness server (`config.readinessAddr`, default 0.0.0.0:15021): `GET /healthz/ready` answers
 * 200 `ready` only while every bind listens and the process is not draining, so load balancers stop
 * sending before shutdown closes the listeners.
 */
import type { ListenAddr } from '../config/model.js';
import { pathOf, reply, startOpsServer, type OpsServer } from './serve.js';

/**
 * Where the process is in its life; only `ready` answers 200. `no worker serving`: in multi-process mode every
 * worker died and none of the replacements is listening yet (the bind refuses connections meanwhile).
 */
export type ReadinessState = 'starting' | 'ready' | 'draining' | 'no worker serving';

/** Mutable readiness flag shared by main.ts and the readiness server. */
export class Readiness {
  state: ReadinessState = 'starting';
}

/** Starts the readiness server reporting `readiness.state`. */
export function startReadinessServer(addr: ListenAddr, readiness: Readiness): Promise<OpsServer> {
  return startOpsServer('readiness', addr, (req, res) => {
    if (pathOf(req) !== '/healthz/ready' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    if (readiness.state === 'ready') reply(res, 200, 'ready\n');
    else reply(res, 503, `not ready: ${readiness.state}\n`);
    return true;
  });
}
