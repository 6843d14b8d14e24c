/**
 * The admin server (`config.adminAddr`, default localhost:15000): `/config_dump` shows the running,
 * normalized config with secrets redacted. Loopback by default because it reveals topology.
 */
import type { GatewayModel, ListenAddr } from '../config/model.js';
import { configDump } from './config-dump.js';
import { pathOf, reply, startOpsServer, type OpsServer } from './serve.js';

/** Starts the admin server; `model()` is read per request so a reload shows at once. */
export function startAdminServer(addr: ListenAddr, model: () => GatewayModel): Promise<OpsServer> {
  return startOpsServer('admin', addr, (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = pathOf(req);
    if (path === '/config_dump') {
      reply(res, 200, JSON.stringify(configDump(model()), null, 2) + '\n', 'application/json');
      return true;
    }
    if (path === '/') {
      reply(res, 200, 'tollgate admin\n  /config_dump  running config (secrets redacted)\n');
      return true;
    }
    return false;
  });
}
