/**
 * Normalizes `extProc` (plain or conditional) into ExtProcPolicy: SPEC §2 defaults, the processor target,
 * and every CEL expression compiled at load.
 */
import { CONDITION_SCOPE, FIELD_SCOPE, compileCel } from '../cel/cel.js';
import type { CelScope } from '../cel/cel.js';
import type { CelExpr, ExtProcConfig, ExtProcPolicy, ProcessorTarget } from './model.js';
import type { PathSegment } from './config-error.js';
import { parseDuration } from './duration.js';
import { parseHostOrUrl } from './host.js';
import { unknownBackendHint } from './normalize-context.js';
import type { NormalizeContext } from './normalize-context.js';
import { normalizeBackendTls } from './normalize-policies.js';
import type { RawExtProc, RawExtProcFields } from './schema-extproc.js';

const MAX_CONDITIONAL = 64;
const DEFAULT_MESSAGE_TIMEOUT_MS = 10_000;

/**
 * Compiles one CEL expression, recording a config error (with path) when it does not parse or uses a variable or
 * function that `scope` does not provide.
 */
export function compileAt(
  ctx: NormalizeContext,
  source: string,
  path: readonly PathSegment[],
  scope: CelScope = FIELD_SCOPE,
): CelExpr | undefined {
  try {
    return compileCel(source, scope);
  } catch (err) {
    ctx.fail(path, (err as Error).message);
    return undefined;
  }
}

function compileMap(
  ctx: NormalizeContext,
  raw: Readonly<Record<string, string>> | undefined,
  path: readonly PathSegment[],
): Record<string, CelExpr> | undefined {
  if (raw === undefined) return undefined;
  const out: Record<string, CelExpr> = {};
  for (const [k, src] of Object.entries(raw)) {
    const e = compileAt(ctx, src, [...path, k]);
    if (e) out[k] = e;
  }
  return out;
}

function target(ctx: NormalizeContext, raw: RawExtProcFields, path: readonly PathSegment[]): ProcessorTarget | undefined {
  if ((raw.host === undefined) === (raw.backend === undefined)) {
    ctx.fail(
      path,
      raw.host === undefined
        ? 'extProc needs a processor: set exactly one of host or backend'
        : 'set exactly one of host or backend, not both',
    );
    return undefined;
  }
  const ownTls = raw.policies?.backendTLS;
  const tlsPath = [...path, 'policies', 'backendTLS'];
  const tls = ownTls && normalizeBackendTls(ctx, ownTls, tlsPath);
  if (raw.host !== undefined) {
    const r = parseHostOrUrl(raw.host);
    if (!r.ok) {
      ctx.fail([...path, 'host'], r.message);
      return undefined;
    }
    const https = r.target.scheme === 'https' || tls !== undefined;
    return {
      ...r.target,
      scheme: https ? 'https' : 'http',
      display: raw.host,
      tls: https ? (tls ?? { insecure: false, caCert: undefined }) : undefined,
    };
  }
  const name = raw.backend ?? '';
  const named = ctx.namedBackends.get(name);
  if (named === undefined) {
    const known = [...ctx.namedBackends.keys()];
    ctx.fail([...path, 'backend'], `unknown backend ${JSON.stringify(name)}${unknownBackendHint(name, known)}`);
    return undefined;
  }
  if (named.value.host === undefined) {
    ctx.fail([...path, 'backend'], `backend ${JSON.stringify(name)} must be a host backend to serve as an ext_proc processor`);
    return undefined;
  }
  const r = parseHostOrUrl(named.value.host);
  if (!r.ok) return undefined; // reported where the named backend is normalized
  const namedTlsRaw = named.value.policies?.backendTLS;
  const namedTls = namedTlsRaw && normalizeBackendTls(ctx, namedTlsRaw, [...named.path, 'policies', 'backendTLS']);
  const effTls = tls ?? namedTls;
  const https = r.target.scheme === 'https' || effTls !== undefined;
  return {
    ...r.target,
    scheme: https ? 'https' : 'http',
    display: `backend:${name}`,
    tls: https ? (effTls ?? { insecure: false, caCert: undefined }) : undefined,
  };
}

function config(ctx: NormalizeContext, raw: RawExtProcFields, path: readonly PathSegment[]): ExtProcConfig | undefined {
  const t = target(ctx, raw, path);
  const po = raw.processingOptions ?? {};
  const metadataContext: Record<string, Record<string, CelExpr>> | undefined = raw.metadataContext && {};
  for (const [ns, entries] of Object.entries(raw.metadataContext ?? {})) {
    const m = compileMap(ctx, entries, [...path, 'metadataContext', ns]);
    if (m && metadataContext) metadataContext[ns] = m;
  }
  const requestAttributes = compileMap(ctx, raw.requestAttributes, [...path, 'requestAttributes']);
  const responseAttributes = compileMap(ctx, raw.responseAttributes, [...path, 'responseAttributes']);
  if (t === undefined) return undefined;
  return {
    target: t,
    failureMode: raw.failureMode ?? 'failClosed',
    processingOptions: {
      requestHeaderMode: po.requestHeaderMode ?? 'send',
      responseHeaderMode: po.responseHeaderMode ?? 'send',
      requestBodyMode: po.requestBodyMode ?? 'fullDuplexStreamed',
      responseBodyMode: po.responseBodyMode ?? 'fullDuplexStreamed',
      requestTrailerMode: po.requestTrailerMode ?? 'send',
      responseTrailerMode: po.responseTrailerMode ?? 'send',
      allowModeOverride: po.allowModeOverride ?? false,
    },
    messageTimeoutMs:
      raw.messageTimeout === undefined ? DEFAULT_MESSAGE_TIMEOUT_MS : (parseDuration(raw.messageTimeout) ?? DEFAULT_MESSAGE_TIMEOUT_MS),
    statusOnError: raw.statusOnError ?? 500,
    metadataContext,
    requestAttributes,
    responseAttributes,
  };
}

/** Normalizes one `extProc` policy found at `path`. */
export function normalizeExtProc(
  ctx: NormalizeContext,
  raw: RawExtProc,
  path: readonly PathSegment[],
): ExtProcPolicy | undefined {
  return ctx.memo('extProc', path, () => {
    const { conditional, ...fields } = raw;
    if (conditional === undefined) {
      const c = config(ctx, fields, path);
      return c && { kind: 'static' as const, config: c };
    }
    const stray = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k]) => k);
    if (stray.length > 0) {
      ctx.fail(path, `with conditional, put ${stray.join(', ')} inside each conditional entry, not next to it`);
    }
    const cpath = [...path, 'conditional'];
    if (conditional.length === 0) ctx.fail(cpath, 'conditional policies must have at least one entry');
    if (conditional.length > MAX_CONDITIONAL) ctx.fail(cpath, `conditional policies may have at most ${MAX_CONDITIONAL} entries (got ${conditional.length})`);
    const entries: { condition: CelExpr | undefined; config: ExtProcConfig }[] = [];
    conditional.forEach((entry, i) => {
      const epath = [...cpath, i];
      const { condition, ...rest } = entry;
      if (condition === undefined && i !== conditional.length - 1) {
        ctx.fail(epath, 'an entry without a condition must be the last entry (it is the fallback)');
      }
      const cond = condition === undefined ? undefined : compileAt(ctx, condition, [...epath, 'condition'], CONDITION_SCOPE);
      const c = config(ctx, rest, epath);
      if (c) entries.push({ condition: cond, config: c });
    });
    return { kind: 'conditional' as const, entries };
  });
}
