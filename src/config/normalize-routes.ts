/**
 * Normalizes routes: defaults (name, namespace, `pathPrefix: /`), anchored regexes, lower-cased header names,
 * layered route policies (inline ▸ route-targeted ▸ gateway-targeted), and backends.
 */
import type { PathMatch, Route, RouteMatch, RoutePolicies, ValueMatch, WeightedBackend } from './model.js';
import type { PathSegment } from './config-error.js';
import { normalizeRouteBackend } from './normalize-backends.js';
import type { NormalizeContext, Sourced } from './normalize-context.js';
import { normalizeExtProc } from './normalize-extproc.js';
import {
  layer,
  normalizeBackendAuth,
  normalizeBackendTls,
  normalizeDirectResponse,
  normalizeHeaderModifier,
  normalizeTimeout,
} from './normalize-policies.js';
import type { RawRoute } from './schema-routes.js';
import type { RawRoutePolicies } from './schema-policies.js';

type RawMatch = NonNullable<RawRoute['matches']>[number];

/** Compiles a user regex so it must match the whole input (agentgateway's full-match rule). */
export function anchoredRegex(ctx: NormalizeContext, source: string, path: readonly PathSegment[]): RegExp | undefined {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch (err) {
    // V8's message quotes our anchored wrapper; keep only the reason.
    const reason = (err as Error).message.split(': ').pop() ?? String(err);
    ctx.fail(path, `invalid regex ${JSON.stringify(source)}: ${reason}`);
    return undefined;
  }
}

function valueMatch(
  ctx: NormalizeContext,
  raw: { exact?: string | undefined; regex?: string | undefined },
  path: readonly PathSegment[],
): ValueMatch | undefined {
  if ((raw.exact === undefined) === (raw.regex === undefined)) {
    ctx.fail(path, 'set exactly one of exact or regex');
    return undefined;
  }
  if (raw.exact !== undefined) return { kind: 'exact', value: raw.exact };
  const re = anchoredRegex(ctx, raw.regex ?? '', [...path, 'regex']);
  return re && { kind: 'regex', value: raw.regex ?? '', regex: re };
}

function pathMatch(ctx: NormalizeContext, raw: RawMatch['path'], path: readonly PathSegment[]): PathMatch | undefined {
  if (raw === undefined) return { kind: 'prefix', value: '/' };
  const set = (['exact', 'pathPrefix', 'regex'] as const).filter((k) => raw[k] !== undefined);
  if (set.length !== 1) {
    ctx.fail(path, 'set exactly one of exact, pathPrefix or regex');
    return undefined;
  }
  if (raw.exact !== undefined) return { kind: 'exact', value: raw.exact };
  if (raw.pathPrefix !== undefined) return { kind: 'prefix', value: raw.pathPrefix };
  const re = anchoredRegex(ctx, raw.regex ?? '', [...path, 'regex']);
  return re && { kind: 'regex', value: raw.regex ?? '', regex: re };
}

function match(ctx: NormalizeContext, raw: RawMatch, path: readonly PathSegment[]): RouteMatch | undefined {
  const p = pathMatch(ctx, raw.path, [...path, 'path']);
  const named = (list: RawMatch['headers'], field: string, lower: boolean) =>
    (list ?? []).flatMap((h, i) => {
      const v = valueMatch(ctx, h.value, [...path, field, i, 'value']);
      return v ? [{ name: lower ? h.name.toLowerCase() : h.name, value: v }] : [];
    });
  const headers = named(raw.headers, 'headers', true);
  const query = named(raw.query, 'query', false);
  if (p === undefined) return undefined;
  return { path: p, method: raw.method?.toUpperCase(), headers, query };
}

const ROUTE_KEYS_BACKEND_TYPE = ['backendAuth', 'backendTLS'];
const ROUTE_KEYS_IMPLEMENTED = [
  'requestHeaderModifier',
  'responseHeaderModifier',
  'directResponse',
  'timeout',
  'backendAuth',
  'backendTLS',
  'extProc',
];

function policies(ctx: NormalizeContext, layers: ReadonlyMap<string, Sourced<unknown>>): RoutePolicies {
  const get = <K extends keyof RawRoutePolicies>(k: K) => layers.get(k) as Sourced<NonNullable<RawRoutePolicies[K]>> | undefined;
  const rhm = get('requestHeaderModifier');
  const shm = get('responseHeaderModifier');
  const dr = get('directResponse');
  const to = get('timeout');
  const auth = get('backendAuth');
  const tls = get('backendTLS');
  const ep = get('extProc');
  return {
    requestHeaderModifier: rhm && ctx.memo('hm', rhm.path, () => normalizeHeaderModifier(ctx, rhm.value, rhm.path)),
    responseHeaderModifier: shm && ctx.memo('hm', shm.path, () => normalizeHeaderModifier(ctx, shm.value, shm.path)),
    directResponse: dr && normalizeDirectResponse(dr.value),
    timeout: to && normalizeTimeout(to.value),
    backendAuth: auth && ctx.memo('auth', auth.path, () => normalizeBackendAuth(ctx, auth.value, auth.path)),
    backendTLS: tls && ctx.memo('tls', tls.path, () => normalizeBackendTls(ctx, tls.value, tls.path)),
    extProc: ep && normalizeExtProc(ctx, ep.value, ep.path),
    unimplemented: [...layers.keys()].filter((k) => !ROUTE_KEYS_IMPLEMENTED.includes(k)),
  };
}

/** Where a route sits and what applies to it besides its inline policies. */
export interface RoutePlacement {
  readonly listenerKey: string;
  readonly index: number;
  readonly path: readonly PathSegment[];
  /** Targeted route-phase policies, most specific first (route-targeted before gateway-targeted). */
  readonly defaults: readonly Sourced<Readonly<Record<string, unknown>>>[];
}

/** Normalizes one route for one listener. */
export function normalizeRoute(ctx: NormalizeContext, raw: RawRoute, at: RoutePlacement): Route | undefined {
  const { path } = at;
  const name = raw.name ?? `route${at.index}`;
  const namespace = raw.namespace ?? 'default';
  const layers = new Map<string, Sourced<unknown>>();
  layer(layers, raw.policies, [...path, 'policies']);
  for (const d of at.defaults) layer(layers, d.value, d.path);
  const pushed = new Map([...layers].filter(([k]) => ROUTE_KEYS_BACKEND_TYPE.includes(k)));

  const matches = ctx.memo('matches', path, () =>
    raw.matches === undefined
      ? [{ path: { kind: 'prefix', value: '/' }, method: undefined, headers: [], query: [] } satisfies RouteMatch]
      : raw.matches.flatMap((m, i) => match(ctx, m, [...path, 'matches', i]) ?? []),
  );
  const unimplemented = new Set<string>();
  const backends: WeightedBackend[] = [];
  (raw.backends ?? []).forEach((b, i) => {
    const r = normalizeRouteBackend(ctx, b, [...path, 'backends', i], pushed);
    if (r === undefined) return;
    backends.push(r.backend);
    for (const u of r.unimplemented) unimplemented.add(u);
  });
  const pol = policies(ctx, layers);
  for (const u of pol.unimplemented) unimplemented.add(u);
  if (backends.length > 0 && backends.every((b) => b.weight === 0)) ctx.fail([...path, 'backends'], 'all backend weights are 0');
  return {
    key: `${at.listenerKey}/${namespace}/${name}`,
    name,
    namespace,
    index: at.index,
    hostnames: (raw.hostnames ?? []).map((h) => h.toLowerCase()),
    matches,
    backends,
    policies: { ...pol, unimplemented: [...unimplemented] },
  };
}
