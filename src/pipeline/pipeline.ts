/**
 * THE ordered phases of a request (docs/architecture.md draws the same list; keep them in sync):
 *
 *  1. listener select (bind hostname)           → 404 when no listener accepts the host
 *  2. x-forwarded-for / x-forwarded-proto       (before ext_proc, as Envoy's HCM does, so processors see them)
 *  3. route match (pure, precompiled)
 *  4. request timeout starts                    (covers everything below, ext_proc included → 504)
 *  5. ext_proc choice: route-level extProc, else the listener's gateway-phase one (SPEC §2: only one runs);
 *     `conditional` resolved by CEL
 *  6. unimplemented gateway/route policies      → 500 naming the policy (never silently skipped)
 *  7. ext_proc request phases                   → may respond; may rewrite routing → route re-matched
 *  8. no route → 404; directResponse → respond
 *  9. route requestHeaderModifier
 * 10. backend pick (weighted random)            → 500 when the route has no backend
 * 11. backend policies: requestHeaderModifier, backendAuth (after ext_proc: processors never see the key)
 * 12. ai backends: prepareAiRequest            (after ext_proc: processors see the client-format body)
 * 13. forward upstream                          → 502/503/504 on failure
 * 14. ai backends: observeAiResponse           (before ext_proc response phases)
 * 15. ext_proc response phases                  → may respond
 * 16. responseHeaderModifier (backend, then route)
 * Any throw → GatewayError → text/plain error (gRPC: trailers-only grpc-status). `Exchange.done` runs once,
 * after the server wrote the response.
 */
import type { AiBackend, Backend, ExtProcConfig, HostBackend, ExtProcPolicy, Listener, Route, WeightedBackend } from '../config/model.js';
import { GatewayError } from '../errors.js';
import type { RequestAbort } from '../http/abort.js';
import { ImmediateResponseError } from '../extproc/session.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { isGrpc } from '../http/message.js';
import { observeAiResponse, openAiErrorResponse, prepareAiRequest } from '../ai/openai.js';
import { logger } from '../observability/logger.js';
import { applyBackendAuth } from '../policies/backend-auth.js';
import { directResponse } from '../policies/direct-response.js';
import { applyHeaderModifier } from '../policies/header-modifier.js';
import { raceSignal, startRequestTimeout } from '../policies/timeout.js';
import { matchRoute, selectListener, type RouteTable } from '../routing/match.js';
import { errorResponse, type Deliver } from '../server/respond.js';
import type { Upstreams, UpstreamTarget } from '../upstream/dispatchers.js';
import { forward } from '../upstream/forward.js';
import type { CompiledBind } from './compiled.js';
import { Exchange } from './exchange.js';
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
 * Phases run synchronously until something must be waited for: a plain proxied request (no ext_proc, host
 * backend) waits only for the upstream's response head, with one promise reaction, and its response is delivered
 * in the turn that head arrives.
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
  let result: GatewayResponse | Promise<GatewayResponse>;
  try {
    if (listener === undefined) throw new GatewayError('route_not_found', 'route not found');
    result = runPhases(deps, cb, listener, ex, req);
  } catch (err) {
    result = failed(err, ex, req);
  }
  if (result instanceof Promise) {
    result.then(
      (response) => send(ex, response, deliver, target),
      (err: unknown) => send(ex, failed(err, ex, req), deliver, target),
    );
  } else send(ex, result, deliver, target);
}

function send<T>(ex: Exchange, response: GatewayResponse, deliver: Deliver<T>, target: T): void {
  ex.respond(response);
  deliver(target, ex);
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
  const immediate = immediateIn(err);
  if (immediate !== undefined) return immediate.response;
  const backend = ex.ctx.backend ?? ex.ctx.route?.backends[0];
  if (g.code === 'ai_bad_request' || backend?.backend.kind === 'ai') return openAiErrorResponse(g);
  return errorResponse(g, req);
}

/** The ImmediateResponseError behind `err`, if any (transports may wrap the body's failure as a cause). */
function immediateIn(err: unknown): ImmediateResponseError | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e instanceof Error; i++, e = e.cause) {
    if (e instanceof ImmediateResponseError) return e;
  }
  return undefined;
}

/** Phases 2–16; returns the response itself when it is known without waiting (e.g. a direct response). */
function runPhases(deps: PipelineDeps, cb: CompiledBind, listener: Listener, ex: Exchange, req: GatewayRequest): GatewayResponse | Promise<GatewayResponse> {
  const ctx = ex.ctx;
  addForwardedHeaders(req);
  const table = cb.tables.get(listener)!;
  const route = matchRoute(table, req);
  ctx.route = route;
  ex.timer = startRequestTimeout(route?.policies.timeout, ex.abort);

  const extProc = chooseExtProc(route, listener, req);
  rejectUnimplemented(listener.policies.unimplemented, route?.policies.unimplemented);
  if (extProc !== undefined) return withExtProc(deps, extProc, table, ex, req);
  return toBackend(deps, route, ex, req);
}

/** Phase 7 (ext_proc request phases), then the rest. */
async function withExtProc(deps: PipelineDeps, config: ExtProcConfig, table: RouteTable, ex: Exchange, req: GatewayRequest): Promise<GatewayResponse> {
  const ctx = ex.ctx;
  const extProc = (ex.extProc = deps.startExtProc(config, ctx, req));
  const outcome = await raceSignal(extProc.onRequest(req), ctx.abort);
  if (outcome.kind === 'respond') return outcome.response;
  if (extProc.routingChanged) ctx.route = matchRoute(table, req);
  return toBackend(deps, ctx.route, ex, req);
}

/** Phases 8–13: the route's own answer, or the request sent to a backend; then the response phases. */
function toBackend(deps: PipelineDeps, route: Route | undefined, ex: Exchange, req: GatewayRequest): GatewayResponse | Promise<GatewayResponse> {
  const ctx = ex.ctx;
  if (route === undefined) throw new GatewayError('route_not_found', 'route not found');
  if (route.policies.directResponse !== undefined) return directResponse(route.policies.directResponse);
  applyHeaderModifier(route.policies.requestHeaderModifier, req.headers);

  const wb = pickBackend(route);
  ctx.backend = wb;
  applyHeaderModifier(wb.policies.requestHeaderModifier, req.headers);
  applyBackendAuth(wb.policies.backendAuth ?? route.policies.backendAuth, req);

  if (wb.backend.kind === 'ai') return toAiBackend(deps, wb, wb.backend, route, ex, req);
  const res = sendUpstream(deps, hostTarget(wb, route), wb.backend, route, ex, req);
  if (ex.extProc !== undefined) return responsePhases(res, wb, route, ex);
  return res.then((r) => responseHeaders(r, wb, route));
}

async function toAiBackend(deps: PipelineDeps, wb: WeightedBackend, backend: AiBackend, route: Route, ex: Exchange, req: GatewayRequest): Promise<GatewayResponse> {
  const tls = wb.policies.backendTLS ?? route.policies.backendTLS;
  const target: UpstreamTarget = { ...(await prepareAiRequest(backend, req, ex.ctx)), tls };
  const res = await sendUpstream(deps, target, backend, route, ex, req);
  observeAiResponse(backend, res, ex.ctx);
  return responsePhases(res, wb, route, ex);
}

/** Phase 13. */
function sendUpstream(deps: PipelineDeps, target: UpstreamTarget, backend: Backend, route: Route, ex: Exchange, req: GatewayRequest): Promise<GatewayResponse> {
  const grpc = isGrpc(req.headers);
  return forward(deps.upstreams, req, {
    target,
    // gRPC needs HTTP/2 end to end; HTTP/2 clients keep HTTP/2 to host backends (AI APIs stay on HTTP/1.1),
    // falling back to HTTP/1.1 for a backend that does not speak it.
    http2: grpc || (req.httpVersion === '2' && backend.kind === 'host'),
    http1Fallback: !grpc,
    timeoutMs: route.policies.timeout?.backendRequestTimeoutMs,
    abort: ex.abort,
  });
}

/** Phases 15–16 for a response from the backend. */
async function responsePhases(pending: GatewayResponse | Promise<GatewayResponse>, wb: WeightedBackend, route: Route, ex: Exchange): Promise<GatewayResponse> {
  const res = await pending;
  if (ex.extProc !== undefined) {
    const outcome = await raceSignal(ex.extProc.onResponse(res), ex.ctx.abort);
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

/** Route-level extProc wins over the gateway-phase one (SPEC §2); `conditional` picks the first matching entry. */
function chooseExtProc(route: Route | undefined, listener: Listener, req: GatewayRequest): ExtProcConfig | undefined {
  const policy: ExtProcPolicy | undefined = route?.policies.extProc ?? listener.policies.extProc;
  if (policy === undefined) return undefined;
  if (policy.kind === 'static') return policy.config;
  const activation = {
    request: { method: req.method, path: req.path, host: req.authority, scheme: req.scheme, headers: req.headers.toObject() },
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
