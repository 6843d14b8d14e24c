/**
 * The policies a config uses that tollgate accepts but does not implement yet (docs/config.md): a request that
 * reaches one fails with a 500 naming it. Listed at start-up and by `--validate-only`, so a migrated agentgateway
 * config shows what would fail before any request does.
 */
import type { GatewayModel } from './model.js';

/** One line per listener or route with unimplemented policies. */
export function unimplementedPolicies(model: GatewayModel): string[] {
  const out: string[] = [];
  for (const bind of model.binds) {
    for (const l of bind.listeners) {
      if (l.policies.unimplemented.length > 0) {
        out.push(`listener ${l.name} (port ${bind.port}): ${l.policies.unimplemented.join(', ')} not implemented; every request on it gets a 500`);
      }
      for (const r of l.routes) {
        if (r.policies.unimplemented.length > 0) {
          out.push(`route ${r.namespace}/${r.name} (port ${bind.port}): ${r.policies.unimplemented.join(', ')} not implemented; requests on it get a 500`);
        }
      }
    }
  }
  return out;
}
