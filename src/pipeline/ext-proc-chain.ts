/**
 * Which ext_proc processors run for a request, and in what order (SPEC §2 "Attachment and precedence";
 * agentgateway: the gateway phase runs before route selection, the selected route's phase after it).
 *
 * - The first processor is chosen from the route matched on arrival: its route-level extProc, else the
 *   listener's gateway-phase one (only one of the two, SPEC's precedence).
 * - When that processor rewrites routing (`routingChanged`), the route is matched again. If the route now
 *   selected has a route-level extProc (a `conditional` one resolved against the mutated request) that is not
 *   the config which just ran, and it is not the route whose route-level processor just ran, that processor
 *   runs too, on the mutated request: a processor that rewrites paths can never skip the gate of the route
 *   it sends the request to.
 * - Its own routing changes select the route again, but at most MAX_EXT_PROCS processors run per request: a
 *   third route-level processor is not started (logged at warn), so re-routing cannot loop.
 * - Response phases run in reverse start order (the later-started processor first, as Envoy's encoder
 *   filters and agentgateway's route-then-gateway order), each on its own stream; an immediate response ends
 *   the phase and is what the client gets.
 *
 * Every started exchange is in `Exchange.extProcs` before its first await, so `Exchange.done` finishes each
 * exactly once whatever happens. Only requests with an ext_proc reach this module.
 */
import type { ExtProcConfig, ExtProcPolicy, Listener, Route } from '../config/model.js';
import type { AbortSource } from '../http/abort.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { logger } from '../observability/logger.js';
import { raceSignal } from '../policies/timeout.js';
import { matchRoute, type RouteTable } from '../routing/match.js';
import type { Exchange } from './exchange.js';
import { CONTINUE, type ExtProcExchange, type ExtProcStarter, type PolicyOutcome } from './policy.js';

/** The most processors one request runs: the first chosen one, and that of the route a re-route selected. */
export const MAX_EXT_PROCS = 2;

/** Route-level extProc wins over the gateway-phase one (SPEC §2); `conditional` picks the first matching entry. */
export function chooseExtProc(route: Route | undefined, listener: Listener, req: GatewayRequest): ExtProcConfig | undefined {
  return resolveExtProc(route?.policies.extProc ?? listener.policies.extProc, req);
}

/**
 * Phase 7: runs `first`'s request phases, then, after a re-route, the newly selected route's own processor.
 * `ex.ctx.route` is the route selected last. Resolves with the first immediate response, if any.
 */
export async function extProcRequest(start: ExtProcStarter, first: ExtProcConfig, table: RouteTable, ex: Exchange, req: GatewayRequest): Promise<PolicyOutcome> {
  const ctx = ex.ctx;
  const started: ExtProcExchange[] = (ex.extProcs = []);
  // The route whose route-level processor ran (undefined when the gateway-phase one did).
  let gated = ctx.route?.policies.extProc !== undefined ? ctx.route : undefined;
  let config: ExtProcConfig | undefined = first;
  const ran: ExtProcConfig[] = [];
  while (config !== undefined) {
    const proc = start(config, ctx, req);
    started.push(proc);
    ran.push(config);
    const outcome = await raceSignal(proc.onRequest(req), ctx.abort);
    if (outcome.kind === 'respond' || !proc.routingChanged) return outcome;
    const route = (ctx.route = matchRoute(table, req));
    if (route === undefined || route === gated) return CONTINUE;
    const next = resolveExtProc(route.policies.extProc, req);
    if (next === undefined || ran.includes(next)) return CONTINUE;
    if (started.length >= MAX_EXT_PROCS) {
      logger.warn({ requestId: ctx.id, route: route.name, processor: next.target.display, max: MAX_EXT_PROCS }, 'extProc of the re-selected route not run: at most two processors run per request');
      return CONTINUE;
    }
    gated = route;
    config = next;
  }
  return CONTINUE;
}

/** Phase 15: every started processor's response phases, the later-started one first; the first immediate response ends it. */
export async function extProcResponse(started: readonly ExtProcExchange[], res: GatewayResponse, abort: AbortSource): Promise<PolicyOutcome> {
  for (let i = started.length - 1; i >= 0; i--) {
    const outcome = await raceSignal(started[i]!.onResponse(res), abort);
    if (outcome.kind === 'respond') return outcome;
  }
  return CONTINUE;
}

/** The config a policy resolves to for this request (`conditional`: CEL on the request as it is now). */
function resolveExtProc(policy: ExtProcPolicy | undefined, req: GatewayRequest): ExtProcConfig | undefined {
  if (policy === undefined) return undefined;
  if (policy.kind === 'static') return policy.config;
  const activation = {
    request: { method: req.method, path: req.path, host: req.authority, scheme: req.scheme, headers: req.headers.toObject() },
    source: { address: req.remoteAddress, port: req.remotePort },
  };
  for (const entry of policy.entries) {
    if (entry.condition === undefined) return entry.config;
    try {
      if (entry.condition.evaluate(activation) === true) return entry.config;
    } catch (err) {
      logger.warn({ condition: entry.condition.source, err: (err as Error).message }, 'extProc condition failed to evaluate; treated as false');
    }
  }
  return undefined;
}
