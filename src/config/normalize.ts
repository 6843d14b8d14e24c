/**
 * Raw validated config → the frozen GatewayModel. Both shapes (seed `binds` and current `gateways` + `routes`)
 * become listener drafts, targeted policies are resolved, then routes and gateway-phase policies are normalized.
 * Every problem is collected with its path; the caller turns them into one ConfigError.
 */
import type { Bind, GatewayModel, Listener, Route } from './model.js';
import { formatPath, type PathSegment } from './config-error.js';
import { deepFreeze } from './freeze.js';
import { attachTopLevelRoutes, resolveAttachments } from './normalize-attach.js';
import { registerNamedBackends } from './normalize-backends.js';
import { NormalizeContext, type NormalizeOptions, type Sourced } from './normalize-context.js';
import { normalizeExtProc } from './normalize-extproc.js';
import { bindListeners, gatewayListeners, type ListenerDraft } from './normalize-listeners.js';
import { layer } from './normalize-policies.js';
import { normalizeRoute } from './normalize-routes.js';
import { normalizeFrontend, normalizeStatic } from './normalize-static.js';
import type { RawConfig } from './schema.js';
import type { RawExtProc } from './schema-extproc.js';

export type { NormalizeOptions } from './normalize-context.js';

/** The outcome: a model when there were no problems, and the problems found. */
export interface NormalizeResult {
  readonly model: GatewayModel | undefined;
  readonly issues: readonly { path: readonly PathSegment[]; message: string }[];
}

/** Every port a bind or gateway opens, in config order; a port used twice is an error. */
function collectPorts(ctx: NormalizeContext, raw: RawConfig): number[] {
  const owners = new Map<number, readonly PathSegment[]>();
  const entries: [number, PathSegment[]][] = [
    ...(raw.binds ?? []).map((b, i): [number, PathSegment[]] => [b.port, ['binds', i, 'port']]),
    ...Object.entries(raw.gateways ?? {}).map(([k, g]): [number, PathSegment[]] => [g.port, ['gateways', k, 'port']]),
  ];
  for (const [port, path] of entries) {
    const first = owners.get(port);
    if (first !== undefined) ctx.fail(path, `port ${port} is already used by ${formatPath(first)}`);
    else owners.set(port, path);
  }
  return [...owners.keys()];
}

function checkTlsMix(ctx: NormalizeContext, drafts: readonly ListenerDraft[]): void {
  const first = new Map<number, ListenerDraft>();
  for (const d of drafts) {
    const f = first.get(d.port);
    if (f === undefined) first.set(d.port, d);
    else if (f.protocol !== d.protocol) {
      ctx.fail(d.path, `listeners on port ${d.port} mix HTTP and HTTPS; one port is either plaintext or TLS`);
    }
  }
}

function buildListener(ctx: NormalizeContext, d: ListenerDraft, extra: readonly Sourced<Readonly<Record<string, unknown>>>[], routeDefaults: (r: ListenerDraft['routes'][number]) => Sourced<Readonly<Record<string, unknown>>>[]): Listener {
  const layers = new Map<string, Sourced<unknown>>();
  for (const s of [...d.gatewayPolicies, ...extra]) layer(layers, s.value, s.path);
  const ep = layers.get('extProc') as Sourced<RawExtProc> | undefined;
  const routes: Route[] = [];
  const keys = new Map<string, readonly PathSegment[]>();
  for (const r of d.routes) {
    const route = normalizeRoute(ctx, r.raw, { listenerKey: d.key, index: r.index, path: r.path, defaults: routeDefaults(r) });
    if (route === undefined) continue;
    const dup = keys.get(route.key);
    if (dup !== undefined) ctx.fail([...r.path, 'name'], `duplicate route ${route.namespace}/${route.name} on listener ${d.key} (also ${formatPath(dup)})`);
    keys.set(route.key, r.path);
    routes.push(route);
  }
  return {
    key: d.key,
    name: d.name,
    gatewayName: d.gatewayName,
    hostname: d.hostname,
    protocol: d.protocol,
    tls: d.tls,
    policies: {
      extProc: ep && normalizeExtProc(ctx, ep.value, ep.path),
      unimplemented: [...layers.keys()].filter((k) => k !== 'extProc'),
    },
    routes,
  };
}

/** Normalizes a schema-valid raw config. Pure apart from reading referenced files through `opts.readFile`. */
export function normalizeConfig(raw: RawConfig, opts: NormalizeOptions): NormalizeResult {
  const ctx = new NormalizeContext(opts);
  const config = normalizeStatic(ctx, raw.config);
  const frontend = normalizeFrontend(raw.frontendPolicies);
  registerNamedBackends(ctx, raw.backends);
  const drafts = [...bindListeners(ctx, raw.binds), ...gatewayListeners(ctx, raw.gateways)];
  attachTopLevelRoutes(ctx, raw, drafts);
  const ports = collectPorts(ctx, raw);
  checkTlsMix(ctx, drafts);
  const att = resolveAttachments(ctx, raw, drafts);

  const binds = new Map<number, Listener[]>(ports.map((p) => [p, []]));
  for (const d of drafts) {
    const listener = buildListener(ctx, d, att.gatewayPhase.get(d.key) ?? [], (r) => [
      ...(att.routeDefaultsByRoute.get(`${r.raw.namespace ?? 'default'}/${r.raw.name ?? `route${r.index}`}`) ?? []),
      ...(att.routeDefaultsByListener.get(d.key) ?? []),
    ]);
    const list = binds.get(d.port);
    if (list) list.push(listener);
    else binds.set(d.port, [listener]);
  }
  const model: GatewayModel = {
    config,
    frontend,
    binds: [...binds].map(([port, listeners]): Bind => ({ key: `bind/${port}`, port, listeners })),
  };
  const seen = new Set<string>();
  const issues = ctx.issues.items.filter((i) => {
    const k = `${formatPath(i.path)}\n${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return { model: issues.length === 0 ? deepFreeze(model) : undefined, issues };
}
