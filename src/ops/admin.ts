/**
 * The admin server (`config.adminAddr`, default localhost:15000): `/config_dump` shows the running,
 * normalized config with secrets redacted; `POST /quitquitquit` drains and exits (Envoy's convention).
 * Loopback by default because it reveals topology and can stop the process.
 */
import type { GatewayModel, ListenAddr } from '../config/model.js';
import { configDump } from './config-dump.js';
import { pathOf, reply, startOpsServer, type OpsServer } from './serve.js';

/** Starts the admin server; `model()` is read per request so a reload shows at once. */
export function startAdminServer(addr: ListenAddr, model: () => GatewayModel): Promise<OpsServer> {
  return startOpsServer('admin', addr, (req, res) => {
    const path = pathOf(req);
    if (req.method === 'POST' && path === '/quitquitquit') {
      reply(res, 200, 'shutting down\n');
      // The same path as SIGTERM (drain, then exit), so a second request or signal still means "now".
      res.on('finish', () => process.kill(process.pid, 'SIGTERM'));
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/config_dump') {
      reply(res, 200, JSON.stringify(configDump(model()), null, 2) + '\n', 'application/json');
      return true;
    }
    if (path === '/') {
      reply(res, 200, 'tollgate admin\n  GET  /config_dump    running config (secrets redacted)\n  POST /quitquitquit   graceful shutdown (as SIGTERM)\n');
      return true;
    }
    return false;
  });
}
