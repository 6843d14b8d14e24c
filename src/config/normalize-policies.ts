/**
 * Normalizes the policies tollgate implements (header modifiers, directResponse, timeout, backendAuth,
 * backendTLS) and computes which accepted-but-unimplemented policies a route carries.
 */
import { z } from 'zod';
import type {
  BackendAuth,
  BackendPolicies,
  DirectResponse,
  HeaderModifier,
  Secret,
  TimeoutPolicy,
} from './model.js';
import { parseDuration } from './duration.js';
import type { NormalizeContext, Sourced } from './normalize-context.js';
import type { PathSegment } from './config-error.js';
import type { backendAuth, backendTls, directResponse, headerModifier, secret, timeout } from './schema-common.js';
import { makeSecret, readReferenced } from './secrets.js';

type RawHeaderModifier = z.infer<typeof headerModifier>;
type RawSecret = z.infer<typeof secret>;

/** Turns an inline string or `{file}` into a Secret; a missing file is a config error. */
export function normalizeSecret(ctx: NormalizeContext, raw: RawSecret, path: readonly PathSegment[]): Secret | undefined {
  if (typeof raw === 'string') return makeSecret(raw, 'inline');
  const r = readReferenced(ctx.opts.readFile, ctx.opts.baseDir, raw.file);
  if (!r.ok) {
    ctx.fail([...path, 'file'], r.message);
    return undefined;
  }
  return makeSecret(r.text.trim(), `file:${r.path}`);
}

function headerList(raw: RawHeaderModifier['add']): { name: string; value: string }[] {
  if (raw === undefined) return [];
  if (Array.isArray(raw)) return raw.map((h) => ({ name: h.name.toLowerCase(), value: h.value }));
  return Object.entries(raw).map(([name, value]) => ({ name: name.toLowerCase(), value }));
}

const BAD_HEADER_TEXT = /[\r\n\0]/;

/** requestHeaderModifier / responseHeaderModifier; names are lower-cased, CR/LF/NUL rejected. */
export function normalizeHeaderModifier(
  ctx: NormalizeContext,
  raw: RawHeaderModifier,
  path: readonly PathSegment[],
): HeaderModifier {
  const set = headerList(raw.set);
  const add = headerList(raw.add);
  const remove = (raw.remove ?? []).map((n) => n.toLowerCase());
  for (const [field, list] of [['set', set], ['add', add]] as const) {
    for (const h of list) {
      if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(h.name)) ctx.fail([...path, field], `invalid header name ${JSON.stringify(h.name)}`);
      if (BAD_HEADER_TEXT.test(h.value)) ctx.fail([...path, field], `header ${h.name} value contains CR, LF or NUL`);
    }
  }
  return { set, add, remove };
}

/** directResponse: status default 200, body default empty. */
export function normalizeDirectResponse(raw: z.infer<typeof directResponse>): DirectResponse {
  return { status: raw.status ?? 200, body: raw.body ?? '' };
}

/** timeout: durations to milliseconds (already validated by the schema). */
export function normalizeTimeout(raw: z.infer<typeof timeout>): TimeoutPolicy {
  return {
    requestTimeoutMs: raw.requestTimeout === undefined ? undefined : parseDuration(raw.requestTimeout),
    backendRequestTimeoutMs: raw.backendRequestTimeout === undefined ? undefined : parseDuration(raw.backendRequestTimeout),
  };
}

/** backendTLS: reads the optional CA file. */
export function normalizeBackendTls(
  ctx: NormalizeContext,
  raw: z.infer<typeof backendTls>,
  path: readonly PathSegment[],
): { insecure: boolean; caCert: string | undefined } {
  let caCert: string | undefined;
  if (raw.root !== undefined) {
    const r = readReferenced(ctx.opts.readFile, ctx.opts.baseDir, raw.root);
    if (r.ok) caCert = r.text;
    else ctx.fail([...path, 'root'], r.message);
  }
  return { insecure: raw.insecure ?? false, caCert };
}

/** backendAuth: short form `{key}`, long form `{key: {value, location}}`, or `{passthrough: {}}`. */
export function normalizeBackendAuth(
  ctx: NormalizeContext,
  raw: z.infer<typeof backendAuth>,
  path: readonly PathSegment[],
): BackendAuth | undefined {
  const kinds = (['key', 'passthrough'] as const).filter((k) => raw[k] !== undefined);
  if (kinds.length !== 1) {
    ctx.fail(path, kinds.length === 0 ? 'set one of key or passthrough' : 'set only one of key or passthrough');
    return undefined;
  }
  if (raw.passthrough !== undefined || raw.key === undefined) return { kind: 'passthrough' };
  const k = raw.key;
  if (typeof k === 'string' || 'file' in k) {
    const s = normalizeSecret(ctx, k, [...path, 'key']);
    return s && { kind: 'key', key: s, header: 'authorization', prefix: 'Bearer ' };
  }
  const s = normalizeSecret(ctx, k.value, [...path, 'key', 'value']);
  const header = k.location?.header;
  return (
    s && {
      kind: 'key',
      key: s,
      header: header === undefined ? 'authorization' : header.name.toLowerCase(),
      prefix: header === undefined ? 'Bearer ' : (header.prefix ?? ''),
    }
  );
}

/** Raw backend-policy keys that tollgate implements. */
export const IMPLEMENTED_BACKEND_KEYS = [
  'requestHeaderModifier',
  'responseHeaderModifier',
  'backendAuth',
  'backendTLS',
] as const;

/**
 * Normalizes a layered set of backend policies (each key from its most specific source) and returns the names
 * of unimplemented keys that were present.
 */
export function normalizeBackendPolicies(
  ctx: NormalizeContext,
  layered: ReadonlyMap<string, Sourced<unknown>>,
): { policies: BackendPolicies; unimplemented: string[] } {
  const get = <T>(k: string): Sourced<T> | undefined => layered.get(k) as Sourced<T> | undefined;
  const rhm = get<RawHeaderModifier>('requestHeaderModifier');
  const shm = get<RawHeaderModifier>('responseHeaderModifier');
  const auth = get<z.infer<typeof backendAuth>>('backendAuth');
  const tls = get<z.infer<typeof backendTls>>('backendTLS');
  const policies: BackendPolicies = {
    requestHeaderModifier: rhm && ctx.memo('hm', rhm.path, () => normalizeHeaderModifier(ctx, rhm.value, rhm.path)),
    responseHeaderModifier: shm && ctx.memo('hm', shm.path, () => normalizeHeaderModifier(ctx, shm.value, shm.path)),
    backendAuth: auth && ctx.memo('auth', auth.path, () => normalizeBackendAuth(ctx, auth.value, auth.path)),
    backendTLS: tls && ctx.memo('tls', tls.path, () => normalizeBackendTls(ctx, tls.value, tls.path)),
  };
  const unimplemented = [...layered.keys()].filter(
    (k) => !(IMPLEMENTED_BACKEND_KEYS as readonly string[]).includes(k),
  );
  return { policies, unimplemented };
}

/** Adds the defined keys of a raw policy object to `layers`, unless a more specific source already set them. */
export function layer(
  layers: Map<string, Sourced<unknown>>,
  raw: Readonly<Record<string, unknown>> | undefined,
  path: readonly PathSegment[],
  only?: readonly string[],
): void {
  if (raw === undefined) return;
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || layers.has(k)) continue;
    if (only !== undefined && !only.includes(k)) continue;
    layers.set(k, { value: v, path: [...path, k] });
  }
}
