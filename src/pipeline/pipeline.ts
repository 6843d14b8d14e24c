/**
 * THE ordered phases of a request (docs/architecture.md draws the same list; keep them in sync):
 *
 *  1. listener select (bind hostname)           → 404 when no listener accepts the host
 *  2. x-forwarded-for / x-forwarded-proto       (before ext_proc, as Envoy's HCM does, so processors see them)
 *  3. route match (pure, precompiled)
 *  4. request timeout starts                    (covers everything below, ext_proc included → 504; after an
 *                                                ext_proc re-route, the new route's, counted from arrival)
 *  5. ext_proc choice: route-level extProc, else the listener's gateway-phase one (SPEC §2: only one runs);
 *     `conditional` resolved by CEL
 *  6. unimplemented gateway/route policies      → 500 naming the policy (never silently skipped)
 *  7. ext_proc request phases                   → may respond; may rewrite routing → route re-matched, and the
 *     re-selected route's own extProc runs too (at most two processors per request: ext-proc-chain.ts)
 *  8. no route → 404; directResponse → respond
 *  9. route requestHeaderModifier
 * 10. backend pick (weighted random)            → 500 when the route has no backend
 * 11. backend policies: requestHeaderModifier, backendAuth (after ext_proc: processors never see the key)
 * 12. ai backends: prepareAiRequest            (after ext_proc: processors see the client-format body)
 * 13. forward upstream                          → 502/503/504 on failure
 * 14. ai backends: observeAiResponse           (before ext_proc response phases)
 * 15. ext_proc response phases                  → may respond (the later-started processor first)
 * 16. responseHeaderModifier (backend, then route)
 * Any throw → GatewayError → text/plain error (gRPC: trailers-only grpc-status). `Exchange.done` runs once,
 * after the server wrote the response.
 */
import type { AiBackend, Backend, ExtProcConfig, HostBackend, Listener, Route, WeightedBackend } from '../config/model.js';
import { GatewayError } from '../errors.js';
import type { RequestAbort } from '../http/abort.js';
import { immediateCause } from '../extproc/session.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { isGrpc } from '../http/message.js';
import { observeAiResponse, openAiErrorResponse, prepareAiRequest } from '../ai/openai.js';
import { applyBackendAuth } from '../policies/backend-auth.js';
import { directResponse } from '../policies/direct-response.js';
import { applyHeaderModifier } from '../policies/header-modifier.js';
import { startRequestTimeout } from '../policies/timeout.js';
import { matchRoute, selectListener, type RouteTable } from '../routing/match.js';
import { errorResponse, type Deliver } from '../server/respond.js';
import type { Upstreams, UpstreamTarget } from '../upstream/dispatchers.js';
import { forward, forwardTo, type ForwardOptions } from '../upstream/forward.js';
import type { UpstreamReceiver } from '../upstream/forward-undici.js';
import type { CompiledBind } from './compiled.js';
import { Exchange } from './exchange.js';
import { chooseExtProc, extProcRequest, extProcResponse } from './ext-proc-chain.js';
import type { ExtProcStarter } from './policy.js';

/** What the pipeline needs from the gateway. */
export interface PipelineDeps {
  readonly upstreams: Upstreams;
  readonly startExtProc: ExtProcStarter;
  /** Called once per request when its exchange ended (the gateway's in-flight count). */
  readonly onEnd?: () => void;
}

/**
 * Runs one request through every phase and hands the response to `deliver(target, …)` exactly once; never throws.
 * Phases run synchronously until something must be waited for. A plain proxied request (no ext_proc, host
 * backend) has no promise at all: its response is delivered from undici's callback for the upstream's head.
 */
export function handleRequest<T>(
  deps: PipelineDeps,
  cb: CompiledBind,
  req: GatewayRequest,
  abort: RequestAbort,
  deliver: Deliver<T>,
  target: T,
): void {
  const listener = selectListener(cb.bind.listeners, req.authority);
  const ex = new Exchange(req, listener ?? cb.bind.listeners[0] ?? placeholderListener(cb), abort, cb.model.model.frontend.maxBufferSize, deps.onEnd);
  ex.deliverTo(deliver as Deliver<unknown>, target);
  let result: GatewayResponse | Promise<GatewayResponse> | undefined;
  try {
    if (listener === undefined) throw new GatewayError('route_not_found', 'route not found');
    result = runPhases(deps, cb, listener, ex, req);
  } catch (err) {
    result = failed(err, ex, req);
  }
  if (result === undefined) return;
  if (result instanceof Promise) {
    result.then(
      (response) => ex.send(response),
      (err: unknown) => ex.send(failed(err, ex, req)),
    );
  } else ex.send(result);
}

/** Records a failure and makes its response. */
function failed(err: unknown, ex: Exchange, req: GatewayRequest): GatewayResponse {
  const g = GatewayError.from(err);
  ex.error(g);
  return failureResponse(g, err, ex, req);
}

/**
 * The response for a failed request (the head was not sent yet: the pipeline returns before any write).
 * A processor's immediate response that arrived mid-body is sent as the processor wrote it; errors on AI
 * routes use the OpenAI error format (SDK clients read `error.message` from a JSON body); everything else
 * is the gateway's text (or gRPC) form.
 */
function failureResponse(g: GatewayError, err: unknown, ex: Exchange, req: GatewayRequest): GatewayResponse {
  const immediate = immediateCause(err);
  if (immediate !== undefined) return immediate.response;
  const backend = ex.ctx.backend ?? ex.ctx.route?.backends[0];
  if (g.code === 'ai_bad_request' || backend?.backend.kind === 'ai') return openAiErrorResponse(g);
  return errorResponse(g, req);
}

/**
 * Phases 2–16. Returns the response itself when it is known without waiting (e.g. a direct response), a promise
 * of it, or undefined when a HostResponse will send it (the plain path).
 */
function runPhases(deps: PipelineDeps, cb: CompiledBind, listener: Listener, ex: Exchange, req: GatewayRequest): GatewayResponse | Promise<GatewayResponse> | undefined {
  const ctx = ex.ctx;
  addForwardedHeaders(req);
  const table = cb.tables.get(listener)!;
  const route = matchRoute(table, req);
  ctx.route = route;
  ex.timer = startRequestTimeout(route?.policies.timeout, ex.abort);

  const extProc = chooseExtProc(route, listener, req);
  rejectUnimplemented(listener.policies.unimplemented, route?.policies.unimplemented);
  if (extProc !== undefined) return withExtProc(deps, extProc, table, ex, req);
  const wb = requestPhases(route, ex, req);
  if (!isBackend(wb)) return wb;
  if (wb.backend.kind === 'ai') return toAiBackend(deps, wb, wb.backend, route!, ex, req);
  forwardTo(deps.upstreams, req, forwardOptions(hostTarget(wb, route!), wb.backend, route!, ex, req), new HostResponse(ex, req, wb, route!));
  return undefined;
}

/** Phase 7 (ext_proc request phases, ext-proc-chain.ts), then the rest, with the ext_proc response phases. */
async function withExtProc(deps: PipelineDeps, config: ExtProcConfig, table: RouteTable, ex: Exchange, req: GatewayRequest): Promise<GatewayResponse> {
  const ctx = ex.ctx;
  const first = ctx.route;
  const outcome = await extProcRequest(deps.startExtProc, config, table, ex, req);
  if (outcome.kind === 'respond') return outcome.response;
  const route = ctx.route;
  // A re-selected route's policies that tollgate cannot enforce (an auth policy, say) fail it as on arrival:
  // re-routing must not be a way around them.
  if (route !== first) {
    rejectUnimplemented([], route?.policies.unimplemented);
    // The route the request is sent to sets its deadline (as its backendRequestTimeout applies), still counted
    // from arrival: a re-route can neither escape a short timeout nor inherit the arrival route's.
    if (route?.policies.timeout !== first?.policies.timeout) {
      if (ex.timer !== undefined) clearTimeout(ex.timer);
      ex.timer = startRequestTimeout(route?.policies.timeout, ex.abort, performance.now() - ctx.start);
    }
  }
  const wb = requestPhases(route, ex, req);
  if (!isBackend(wb)) return wb;
  if (wb.backend.kind === 'ai') return toAiBackend(deps, wb, wb.backend, route!, ex, req);
  const res = forward(deps.upstreams, req, forwardOptions(hostTarget(wb, route!), wb.backend, route!, ex, req));
  return responsePhases(await res, wb, route!, ex);
}

/**
 * Phases 8–12: the route's own answer (a direct response), or the backend the request goes to, with the route's
 * and the backend's request policies applied.
 */
function requestPhases(route: Route | undefined, ex: Exchange, req: GatewayRequest): WeightedBackend | GatewayResponse {
  if (route === undefined) throw new GatewayError('route_not_found', 'route not found');
  if (route.policies.directResponse !== undefined) return directResponse(route.policies.directResponse);
  applyHeaderModifier(route.policies.requestHeaderModifier, req.headers);
  const wb = pickBackend(route);
  ex.ctx.backend = wb;
  applyHeaderModifier(wb.policies.requestHeaderModifier, req.headers);
  applyBackendAuth(wb.policies.backendAuth ?? route.policies.backendAuth, req);
  return wb;
}

function isBackend(x: WeightedBackend | GatewayResponse): x is WeightedBackend {
  return (x as Partial<GatewayResponse>).status === undefined;
}

/** Receives a host backend's response head on the plain path (no ext_proc): phase 16, then the client. */
class HostResponse implements UpstreamReceiver {
  constructor(
    private readonly ex: Exchange,
    private readonly req: GatewayRequest,
    private readonly wb: WeightedBackend,
    private readonly route: Route,
  ) {}

  upstreamResponse(res: GatewayResponse): void {
    let out: GatewayResponse;
    try {
      out = responseHeaders(res, this.wb, this.route);
    } catch (err) {
      out = failed(err, this.ex, this.req);
    }
    this.ex.send(out);
  }

  upstreamFailed(err: unknown): void {
    this.ex.send(failed(err, this.ex, this.req));
  }
}

async function toAiBackend(deps: PipelineDeps, wb: WeightedBackend, backend: AiBackend, route: Route, ex: Exchange, req: GatewayRequest): Promise<GatewayResponse> {
  const tls = wb.policies.backendTLS ?? route.policies.backendTLS;
  const target: UpstreamTarget = { ...(await prepareAiRequest(backend, req, ex.ctx)), tls };
  const res = await forward(deps.upstreams, req, forwardOptions(target, backend, route, ex, req));
  observeAiResponse(backend, res, ex.ctx);
  return responsePhases(res, wb, route, ex);
}

/** How phase 13 sends the request. */
function forwardOptions(target: UpstreamTarget, backend: Backend, route: Route, ex: Exchange, req: GatewayRequest): ForwardOptions {
  const grpc = isGrpc(req.headers);
  return {
    target,
    // gRPC needs HTTP/2 end to end; HTTP/2 clients keep HTTP/2 to host backends (AI APIs stay on HTTP/1.1),
    // falling back to HTTP/1.1 for a backend that does not speak it.
    http2: grpc || (req.httpVersion === '2' && backend.kind === 'host'),
    http1Fallback: !grpc,
    timeoutMs: route.policies.timeout?.backendRequestTimeoutMs,
    abort: ex.abort,
  };
}

/** Phases 15–16 for a response from the backend. */
async function responsePhases(res: GatewayResponse, wb: WeightedBackend, route: Route, ex: Exchange): Promise<GatewayResponse> {
  if (ex.extProcs !== undefined) {
    const outcome = await extProcResponse(ex.extProcs, res, ex.ctx.abort);
    if (outcome.kind === 'respond') return outcome.response;
  }
  return responseHeaders(res, wb, route);
}

/** Phase 16. */
function responseHeaders(res: GatewayResponse, wb: WeightedBackend, route: Route): GatewayResponse {
  applyHeaderModifier(wb.policies.responseHeaderModifier, res.headers);
  applyHeaderModifier(route.policies.responseHeaderModifier, res.headers);
  return res;
}

/**
 * The upstream of a host backend, made once per backend entry of a route (the model is frozen, so it never
 * changes): the same object every time also lets `Upstreams.pool` find its pool without building a key.
 */
const hostTargets = new WeakMap<WeightedBackend, UpstreamTarget>();
function hostTarget(wb: WeightedBackend, route: Route): UpstreamTarget {
  let t = hostTargets.get(wb);
  if (t === undefined) {
    const b = wb.backend as HostBackend;
    const tls = wb.policies.backendTLS ?? route.policies.backendTLS;
    // A route's backendTLS is pushed down to its backends (agentgateway), so it turns TLS on as well.
    t = Object.freeze({ scheme: tls !== undefined ? 'https' : b.scheme, host: b.host, port: b.port, tls });
    hostTargets.set(wb, t);
  }
  return t;
}

/** Stands in for the listener in the log when a bind has none that accepts the request. */
function placeholderListener(cb: CompiledBind): Listener {
  return {
    key: cb.bind.key,
    name: cb.bind.key,
    gatewayName: cb.bind.key,
    hostname: undefined,
    protocol: 'HTTP',
    tls: undefined,
    policies: { extProc: undefined, unimplemented: [] },
    routes: [],
  };
}

/** Appends the client address to x-forwarded-for and records the downstream scheme. */
function addForwardedHeaders(req: GatewayRequest): void {
  const h = req.headers;
  const ip = req.remoteAddress.startsWith('::ffff:') ? req.remoteAddress.slice(7) : req.remoteAddress;
  // `set` rebuilds the list, so it is only used when the header is already there (the rarer case).
  if (h.has('x-forwarded-for')) h.set('x-forwarded-for', `${h.getAll('x-forwarded-for').join(', ')}, ${ip}`);
  else h.append('x-forwarded-for', ip);
  if (h.has('x-forwarded-proto')) h.set('x-forwarded-proto', req.scheme);
  else h.append('x-forwarded-proto', req.scheme);
}

function rejectUnimplemented(gateway: readonly string[], route: readonly string[] | undefined): void {
  const names = route === undefined || route.length === 0 ? gateway : [...gateway, ...route];
  if (names.length > 0) {
    throw new GatewayError('policy_not_implemented', `policy ${names.join(', ')} is not implemented yet`);
  }
}

/** Weighted random choice (agentgateway: one backend per request by weight). */
function pickBackend(route: Route): WeightedBackend {
  const bs = route.backends;
  if (bs.length === 1 && bs[0]!.weight > 0) return bs[0]!;
  let total = 0;
  for (const b of bs) total += Math.max(0, b.weight);
  if (total <= 0) throw new GatewayError('no_backend', `route ${route.name} has no backend to send to`);
  let r = Math.random() * total;
  for (const b of bs) {
    r -= Math.max(0, b.weight);
    if (r < 0) return b;
  }
  return bs[bs.length - 1]!;
}
