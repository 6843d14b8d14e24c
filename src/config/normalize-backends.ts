/**
 * Normalizes route backends: `host` (address or URL), `backend: name` (top-level named backend) and `ai`
 * (OpenAI), with backend policies layered most specific first (ai.policies ▸ entry ▸ named backend ▸ route).
 */
import type { AiBackend, Backend, WeightedBackend } from './model.js';
import type { PathSegment } from './config-error.js';
import { parseHostOrUrl, parseHostPort } from './host.js';
import { unknownBackendHint } from './normalize-context.js';
import type { NormalizeContext, Sourced } from './normalize-context.js';
import { layer, normalizeBackendPolicies } from './normalize-policies.js';
import type { RawAiBackend, RawRouteBackend } from './schema-routes.js';

const OPENAI = { scheme: 'https', host: 'api.openai.com', port: 443 } as const;

function aiBackend(ctx: NormalizeContext, raw: RawAiBackend, path: readonly PathSegment[], tls: boolean): AiBackend | undefined {
  let target: AiBackend['target'] = OPENAI;
  if (raw.hostOverride !== undefined) {
    const r = parseHostPort(raw.hostOverride);
    if (!r.ok) {
      ctx.fail([...path, 'hostOverride'], r.message);
      return undefined;
    }
    // agentgateway: an override dials plaintext unless backendTLS is added.
    target = { ...r.target, scheme: tls ? 'https' : 'http' };
  }
  return {
    kind: 'ai',
    name: raw.name,
    provider: { kind: 'openAI', model: raw.provider.openAI.model },
    target,
    hostOverride: raw.hostOverride,
    pathOverride: raw.pathOverride,
    pathPrefix: raw.pathPrefix,
  };
}

function hostBackend(
  ctx: NormalizeContext,
  text: string,
  name: string,
  path: readonly PathSegment[],
  tls: boolean,
): Backend | undefined {
  const r = parseHostOrUrl(text);
  if (!r.ok) {
    ctx.fail(path, r.message);
    return undefined;
  }
  return { kind: 'host', name, ...r.target, scheme: r.target.scheme === 'https' || tls ? 'https' : 'http' };
}

/** Normalizes one route backend entry; `routeLayers` holds backend-type policies pushed down from the route. */
export function normalizeRouteBackend(
  ctx: NormalizeContext,
  raw: RawRouteBackend,
  path: readonly PathSegment[],
  routeLayers: ReadonlyMap<string, Sourced<unknown>>,
): { backend: WeightedBackend; unimplemented: string[] } | undefined {
  const kinds = (['host', 'backend', 'ai'] as const).filter((k) => raw[k] !== undefined);
  if (kinds.length !== 1) {
    ctx.fail(path, kinds.length === 0 ? 'a backend needs exactly one of host, backend or ai' : `set only one of ${kinds.join(', ')}`);
    return undefined;
  }
  const layers = new Map<string, Sourced<unknown>>();
  if (raw.ai !== undefined) layer(layers, raw.ai.policies, [...path, 'ai', 'policies']);
  layer(layers, raw.policies, [...path, 'policies']);
  let named: Sourced<NonNullable<ReturnType<NormalizeContext['namedBackends']['get']>>['value']> | undefined;
  if (raw.backend !== undefined) {
    named = ctx.namedBackends.get(raw.backend);
    if (named === undefined) {
      const known = [...ctx.namedBackends.keys()];
      ctx.fail(
        [...path, 'backend'],
        `unknown backend ${JSON.stringify(raw.backend)}${unknownBackendHint(raw.backend, known)}`,
      );
      return undefined;
    }
    if (named.value.ai !== undefined) layer(layers, named.value.ai.policies, [...named.path, 'ai', 'policies']);
    layer(layers, named.value.policies, [...named.path, 'policies']);
  }
  for (const [k, v] of routeLayers) if (!layers.has(k)) layers.set(k, v);
  const { policies, unimplemented } = normalizeBackendPolicies(ctx, layers);
  const tls = policies.backendTLS !== undefined;

  let backend: Backend | undefined;
  if (raw.host !== undefined) backend = hostBackend(ctx, raw.host, raw.host, [...path, 'host'], tls);
  else if (raw.ai !== undefined) backend = aiBackend(ctx, raw.ai, [...path, 'ai'], tls);
  else if (named !== undefined) {
    const nv = named.value;
    if (nv.host !== undefined) backend = ctx.memo('nb-host', named.path, () => hostBackend(ctx, nv.host ?? '', nv.name, [...named.path, 'host'], tls));
    else if (nv.ai !== undefined) backend = aiBackend(ctx, nv.ai, [...named.path, 'ai'], tls);
    else ctx.fail(named.path, `backend ${JSON.stringify(nv.name)} needs exactly one of host or ai`);
  }
  if (backend === undefined) return undefined;
  return { backend: { weight: raw.weight ?? 1, backend, policies }, unimplemented };
}

/** Checks the top-level named backends (names unique, exactly one kind) and registers them. */
export function registerNamedBackends(
  ctx: NormalizeContext,
  raws: readonly NonNullable<ReturnType<NormalizeContext['namedBackends']['get']>>['value'][] | undefined,
): void {
  (raws ?? []).forEach((b, i) => {
    const path = ['backends', i];
    const kinds = (['host', 'ai'] as const).filter((k) => b[k] !== undefined);
    if (kinds.length !== 1) ctx.fail(path, kinds.length === 0 ? 'a named backend needs exactly one of host or ai' : 'set only one of host or ai');
    if (ctx.namedBackends.has(b.name)) ctx.fail([...path, 'name'], `duplicate backend name ${JSON.stringify(b.name)}`);
    else ctx.namedBackends.set(b.name, { value: b, path });
    if (b.host !== undefined) {
      const r = parseHostOrUrl(b.host);
      if (!r.ok) ctx.fail([...path, 'host'], r.message);
    }
  });
}
