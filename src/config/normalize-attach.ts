/**
 * Attachment: current-shape top-level routes to gateways by name, and targeted policies (top-level
 * `policies[]` and the legacy `gatewayPolicies`) to listeners and routes.
 */
import type { PathSegment } from './config-error.js';
import type { ListenerDraft } from './normalize-listeners.js';
import type { NormalizeContext, Sourced } from './normalize-context.js';
import type { RawConfig } from './schema.js';
import { UNIMPLEMENTED_GATEWAY_POLICIES } from './schema-policies.js';
import { closest } from './schema-util.js';

type Policy = Sourced<Readonly<Record<string, unknown>>>;

/** Targeted policies resolved per listener and per route, least specific last. */
export interface Attachments {
  /** listener key → gateway-phase sources (listener-targeted before gateway-targeted). */
  readonly gatewayPhase: Map<string, Policy[]>;
  /** listener key → route-phase defaults from gateway targets. */
  readonly routeDefaultsByListener: Map<string, Policy[]>;
  /** "namespace/name" → route-phase policies targeting that route. */
  readonly routeDefaultsByRoute: Map<string, Policy[]>;
}

const GATEWAY_PHASE_KEYS = ['extProc', ...UNIMPLEMENTED_GATEWAY_POLICIES] as readonly string[];

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** Attaches top-level `routes` to the listeners of the gateways they name. */
export function attachTopLevelRoutes(ctx: NormalizeContext, raw: RawConfig, drafts: ListenerDraft[]): void {
  const gatewayNames = Object.keys(raw.gateways ?? {});
  (raw.routes ?? []).forEach((route, i) => {
    const path: PathSegment[] = ['routes', i];
    const refs = route.gateways === undefined ? undefined : typeof route.gateways === 'string' ? [route.gateways] : route.gateways;
    if (refs === undefined && !gatewayNames.includes('default')) {
      ctx.fail([...path, 'gateways'], 'route must set gateways (there is no gateway named "default" to attach to)');
      return;
    }
    const { gateways: _g, ...routeRaw } = route;
    (refs ?? ['default']).forEach((ref, ri) => {
      const refPath = refs === undefined ? [...path, 'gateways'] : typeof route.gateways === 'string' ? [...path, 'gateways'] : [...path, 'gateways', ri];
      const targets = drafts.filter((d) => d.gatewayKey !== undefined && (d.gatewayKey === ref || d.refs.includes(ref)));
      if (targets.length === 0) {
        const known = drafts.filter((d) => d.gatewayKey !== undefined).flatMap((d) => [d.gatewayKey ?? '', ...d.refs.slice(0, 1)]);
        const uniq = [...new Set(known)];
        const guess = closest(ref, uniq);
        ctx.fail(
          refPath,
          `unknown gateway ${JSON.stringify(ref)}${guess ? ` (did you mean "${guess}"?)` : ''}; defined: ${uniq.join(', ') || 'none'}`,
        );
        return;
      }
      for (const d of targets) d.routes.push({ raw: routeRaw, path, index: i });
    });
  });
}

function singlePolicy(ctx: NormalizeContext, policy: Readonly<Record<string, unknown>>, path: readonly PathSegment[]): string | undefined {
  const keys = Object.entries(policy).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (keys.length !== 1) {
    ctx.fail(path, keys.length === 0 ? 'a policy entry needs exactly one policy' : `a policy entry holds exactly one policy, got ${keys.join(', ')}`);
    return undefined;
  }
  return keys[0];
}

/** Resolves top-level `policies[]` and legacy `gatewayPolicies` against the listener drafts. */
export function resolveAttachments(ctx: NormalizeContext, raw: RawConfig, drafts: readonly ListenerDraft[]): Attachments {
  const a: Attachments = { gatewayPhase: new Map(), routeDefaultsByListener: new Map(), routeDefaultsByRoute: new Map() };
  const routeIds = new Set(drafts.flatMap((d) => d.routes.map((r) => `${r.raw.namespace ?? 'default'}/${r.raw.name ?? `route${r.index}`}`)));

  // Legacy gatewayPolicies first: listener targets are more specific than gateway targets.
  const legacy = raw.gatewayPolicies ?? [];
  const legacyOrdered = [...legacy.entries()].sort(([, x], [, y]) => Number(x.target.listener === undefined) - Number(y.target.listener === undefined));
  for (const [i, gp] of legacyOrdered) {
    const path = ['gatewayPolicies', i];
    const t = gp.target;
    if ((t.gateway === undefined) === (t.listener === undefined)) {
      ctx.fail([...path, 'target'], 'set exactly one of gateway or listener');
      continue;
    }
    const matched = drafts.filter((d) => (t.gateway !== undefined ? d.gatewayName === t.gateway : d.refs.includes(t.listener ?? '')));
    if (matched.length === 0) {
      const names = [...new Set(drafts.map((d) => d.gatewayName))];
      ctx.fail(
        [...path, 'target', t.gateway !== undefined ? 'gateway' : 'listener'],
        t.gateway !== undefined
          ? `no listener has gatewayName ${JSON.stringify(t.gateway)}; gateway names: ${names.join(', ') || 'none'}`
          : `no listener ${JSON.stringify(t.listener)}`,
      );
      continue;
    }
    if (singlePolicy(ctx, gp.policy, [...path, 'policy']) === undefined) continue;
    for (const d of matched) push(a.gatewayPhase, d.key, { value: gp.policy, path: [...path, 'policy'] });
  }

  const policies = [...(raw.policies ?? []).entries()];
  // Listener-scoped gateway targets before whole-gateway ones, so the more specific wins in layering.
  policies.sort(([, x], [, y]) => Number(x.target.gateway?.listenerName === undefined) - Number(y.target.gateway?.listenerName === undefined));
  for (const [i, p] of policies) {
    const path = ['policies', i];
    const kind = singlePolicy(ctx, p.policy, [...path, 'policy']);
    const phase = p.phase ?? 'route';
    const t = p.target;
    if ((t.gateway === undefined) === (t.route === undefined)) {
      ctx.fail([...path, 'target'], 'set exactly one of gateway or route');
      continue;
    }
    if (kind === undefined) continue;
    const src: Policy = { value: p.policy, path: [...path, 'policy'] };
    if (t.route !== undefined) {
      if (phase === 'gateway') {
        ctx.fail([...path, 'phase'], 'a route target cannot run in the gateway phase (it runs before route selection)');
        continue;
      }
      const id = `${t.route.namespace ?? 'default'}/${t.route.name}`;
      if (!routeIds.has(id)) {
        ctx.fail([...path, 'target', 'route', 'name'], `no route named ${JSON.stringify(t.route.name)} in namespace ${t.route.namespace ?? 'default'}`);
        continue;
      }
      push(a.routeDefaultsByRoute, id, src);
      continue;
    }
    const g = t.gateway;
    if (g === undefined) continue;
    const matched = drafts.filter(
      (d) => (g.gatewayName === 'default' || d.gatewayName === g.gatewayName) && (g.listenerName === undefined || d.refs.includes(g.listenerName)),
    );
    if (matched.length === 0) {
      ctx.fail([...path, 'target', 'gateway'], `matches no listener (gatewayName ${JSON.stringify(g.gatewayName)}${g.listenerName ? `, listenerName ${JSON.stringify(g.listenerName)}` : ''})`);
      continue;
    }
    if (phase === 'gateway' && !GATEWAY_PHASE_KEYS.includes(kind)) {
      ctx.fail([...path, 'policy', kind], `${kind} cannot run in the gateway phase; allowed: ${GATEWAY_PHASE_KEYS.join(', ')}`);
      continue;
    }
    for (const d of matched) push(phase === 'gateway' ? a.gatewayPhase : a.routeDefaultsByListener, d.key, src);
  }
  return a;
}
