/**
 * Hand-built model pieces for unit tests and in-process embedding that must not depend on the YAML loader.
 */
import type {
  BackendPolicies,
  Bind,
  GatewayModel,
  HostBackend,
  Listener,
  PathMatch,
  Route,
  RouteMatch,
  RoutePolicies,
  ValueMatch,
  WeightedBackend,
} from './model.js';

/** Empty backend policies. */
export const NO_BACKEND_POLICIES: BackendPolicies = {
  requestHeaderModifier: undefined,
  responseHeaderModifier: undefined,
  backendAuth: undefined,
  backendTLS: undefined,
};

/** Empty route policies. */
export const NO_ROUTE_POLICIES: RoutePolicies = {
  ...NO_BACKEND_POLICIES,
  directResponse: undefined,
  timeout: undefined,
  extProc: undefined,
  unimplemented: [],
};

/** A path match from a short form: '=/x' exact, '~re' regex, anything else a prefix. */
export function path(p: string): PathMatch {
  if (p.startsWith('=')) return { kind: 'exact', value: p.slice(1) };
  if (p.startsWith('~')) return { kind: 'regex', value: p.slice(1), regex: new RegExp(p.slice(1)) };
  return { kind: 'prefix', value: p };
}

/** A value match: '~re' is a regex, anything else exact. */
export function value(v: string): ValueMatch {
  return v.startsWith('~') ? { kind: 'regex', value: v.slice(1), regex: new RegExp(v.slice(1)) } : { kind: 'exact', value: v };
}

/** A route match. */
export function match(p: string, opts: { method?: string; headers?: Record<string, string>; query?: Record<string, string> } = {}): RouteMatch {
  return {
    path: path(p),
    method: opts.method,
    headers: Object.entries(opts.headers ?? {}).map(([name, v]) => ({ name, value: value(v) })),
    query: Object.entries(opts.query ?? {}).map(([name, v]) => ({ name, value: value(v) })),
  };
}

/** A host backend. */
export function hostBackend(host: string, port: number, weight = 1, policies: BackendPolicies = NO_BACKEND_POLICIES): WeightedBackend {
  const backend: HostBackend = { kind: 'host', name: `${host}:${port}`, scheme: 'http', host, port };
  return { weight, backend, policies };
}

/** A route. */
export function route(
  name: string,
  index: number,
  opts: { hostnames?: string[]; matches?: RouteMatch[]; backends?: WeightedBackend[]; policies?: Partial<RoutePolicies> } = {},
): Route {
  return {
    key: `test/default/${name}`,
    name,
    namespace: 'default',
    index,
    hostnames: opts.hostnames ?? [],
    matches: opts.matches ?? [match('/')],
    backends: opts.backends ?? [],
    policies: { ...NO_ROUTE_POLICIES, ...opts.policies },
  };
}

/** A plaintext listener. */
export function listener(routes: Route[], opts: { hostname?: string; name?: string } = {}): Listener {
  return {
    key: `bind/0/${opts.name ?? 'listener0'}`,
    name: opts.name ?? 'listener0',
    gatewayName: 'bind/0',
    hostname: opts.hostname,
    protocol: 'HTTP',
    tls: undefined,
    policies: { extProc: undefined, unimplemented: [] },
    routes,
  };
}

/** A model with one bind per entry. */
export function model(binds: { port: number; listeners: Listener[] }[]): GatewayModel {
  const bs: Bind[] = binds.map((b) => ({ key: `bind/${b.port}`, port: b.port, listeners: b.listeners }));
  return {
    config: { adminAddr: null, statsAddr: null, readinessAddr: null, logLevel: 'info', logFormat: 'json', workers: 1 },
    frontend: { maxBufferSize: 2 * 1024 * 1024, accessLog: false },
    binds: bs,
  };
}
