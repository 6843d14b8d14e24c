/**
 * Route types and upstream paths for the OpenAI provider (reference/agentgateway-config.md §3.3).
 * Pure functions: the request path in, the type and the upstream path out.
 */

/**
 * What kind of OpenAI call a request is; decides body handling and the upstream path. `passthrough` is a
 * non-POST call other than models (e.g. `GET /v1/responses/{id}`): forwarded without body handling, path kept.
 */
export type AiRouteType = 'completions' | 'embeddings' | 'models' | 'responses' | 'passthrough';

/** The part of a backend's config that decides the upstream path. */
export interface PathConfig {
  readonly hostOverride: string | undefined;
  readonly pathOverride: string | undefined;
  readonly pathPrefix: string | undefined;
}

/** Splits `/a/b?x=1` into `['/a/b', '?x=1']` (the query keeps its `?`; empty when there is none). */
export function splitPath(pathAndQuery: string): [string, string] {
  const q = pathAndQuery.indexOf('?');
  return q < 0 ? [pathAndQuery, ''] : [pathAndQuery.slice(0, q), pathAndQuery.slice(q)];
}

const MODELS_RE = /\/models(\/[^/]+)?\/?$/;

/**
 * The route type by path suffix, longest suffix first. Unknown POST paths are chat completions, as in
 * agentgateway's route-based form where every request is `completions` unless told otherwise; other
 * methods (retrieve/delete calls) are passthrough, since rewriting them to a POST endpoint cannot work.
 */
export function routeTypeFor(pathAndQuery: string, method = 'POST'): AiRouteType {
  const [path] = splitPath(pathAndQuery);
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (MODELS_RE.test(p)) return 'models';
  if (method !== 'POST') return 'passthrough';
  if (p.endsWith('/chat/completions')) return 'completions';
  if (p.endsWith('/embeddings')) return 'embeddings';
  if (p.endsWith('/responses')) return 'responses';
  return 'completions';
}

/** The base path: `pathPrefix` with trailing slashes trimmed, or `/v1`. */
function basePath(cfg: PathConfig): string {
  if (cfg.pathPrefix === undefined) return '/v1';
  const trimmed = cfg.pathPrefix.replace(/\/+$/, '');
  return trimmed.startsWith('/') || trimmed === '' ? trimmed : `/${trimmed}`;
}

/** The provider suffix for a type; models keeps the client's `/models[/id]` tail. */
function suffixFor(type: AiRouteType, clientPath: string): string {
  switch (type) {
    case 'responses':
      return '/responses';
    case 'embeddings':
      return '/embeddings';
    case 'models': {
      const m = MODELS_RE.exec(clientPath);
      return m === null ? '/models' : `/models${m[1] ?? ''}`;
    }
    case 'completions':
      return '/chat/completions';
    case 'passthrough':
      return clientPath;
    default: {
      const never: never = type;
      return never;
    }
  }
}

/**
 * The upstream path (with query) for a client request:
 * - `pathOverride`: replaces path and query verbatim (agentgateway's rule);
 * - `hostOverride` without `pathPrefix`: the client's path and query are forwarded unchanged;
 * - passthrough: the client's path, with only a leading `/v1` replaced by `pathPrefix`;
 * - otherwise `/v1` (or `pathPrefix`) + the type's suffix, keeping the client's query string.
 */
export function upstreamPath(cfg: PathConfig, type: AiRouteType, clientPathAndQuery: string): string {
  if (cfg.pathOverride !== undefined) return cfg.pathOverride;
  if (cfg.hostOverride !== undefined && cfg.pathPrefix === undefined) return clientPathAndQuery;
  const [path, query] = splitPath(clientPathAndQuery);
  if (type === 'passthrough') {
    if (cfg.pathPrefix === undefined) return clientPathAndQuery;
    return path === '/v1' || path.startsWith('/v1/') ? `${basePath(cfg)}${path.slice(3)}${query}` : clientPathAndQuery;
  }
  return `${basePath(cfg)}${suffixFor(type, path)}${query}`;
}
