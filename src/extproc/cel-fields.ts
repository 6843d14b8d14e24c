/**
 * The CEL-driven parts of each ProcessingRequest: `attributes` (requestAttributes / responseAttributes under
 * `envoy.filters.http.ext_proc`, first message of each direction) and `metadata_context` (metadataContext,
 * every message). Expressions were compiled at config load; an expression that fails at runtime (for example
 * a header that is absent) is left out, as Envoy omits attributes it cannot produce.
 */
import { prepareActivation } from '../cel/cel.js';
import type { CelExpr, ExtProcConfig } from '../config/model.js';
import type { RequestContext } from '../http/context.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { logger } from '../observability/logger.js';
import type { ProcessingRequest } from './messages.js';
import type { Direction } from './modes.js';
import { jsonToStruct } from './struct.js';

/** The attributes namespace Envoy and agentgateway use. */
export const ATTRIBUTES_KEY = 'envoy.filters.http.ext_proc';

/** The variables CEL expressions see (agentgateway's names). */
export function celActivation(ctx: RequestContext, req: GatewayRequest, res: GatewayResponse | undefined): Record<string, unknown> {
  const act: Record<string, unknown> = {
    request: { method: req.method, path: req.path, host: req.authority, scheme: req.scheme, headers: req.headers.toObject() },
    source: { address: req.remoteAddress, port: req.remotePort },
    extproc: ctx.extprocMetadata,
  };
  if (res !== undefined) act['response'] = { code: res.status, headers: res.headers.toObject() };
  return act;
}

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/**
 * A CEL result as a JSON value for a google.protobuf.Struct. CEL `bytes` become a string of those bytes, as Envoy
 * renders a bytes attribute (its ext_proc filter sets `string_value` to the printed value, and CEL prints bytes
 * as their raw content); a protobuf string must be UTF-8, so invalid sequences become U+FFFD. (Not base64: the
 * reference notes describe no base64 step.) Ints beyond the safe range become (inexact) numbers, as Struct numbers
 * are doubles. Lists and maps are converted element by element.
 */
export function toStructJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return utf8.decode(v);
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toStructJson);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toStructJson(x);
    return out;
  }
  return v;
}

function evaluateAll(exprs: Readonly<Record<string, CelExpr>>, activation: Readonly<Record<string, unknown>>, requestId: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, expr] of Object.entries(exprs)) {
    try {
      const v = expr.evaluate(activation);
      if (v !== undefined) out[name] = toStructJson(v);
    } catch (err) {
      logger.debug({ requestId, expression: expr.source, err: (err as Error).message }, 'ext_proc CEL value left out');
    }
  }
  return out;
}

/** Hooks for the channel: `attributes(dir)` and `metadataContext()`, or undefined when the config has none. */
export function celHooks(
  config: ExtProcConfig,
  ctx: RequestContext,
  req: GatewayRequest,
  response: () => GatewayResponse | undefined,
): { attributes: (dir: Direction) => ProcessingRequest['attributes']; metadataContext: () => ProcessingRequest['metadataContext'] } | undefined {
  const { requestAttributes, responseAttributes, metadataContext } = config;
  if (requestAttributes === undefined && responseAttributes === undefined && metadataContext === undefined) return undefined;
  // metadata_context goes on every message: evaluate it once per direction, not once per body chunk.
  const cached = new Map<Direction, ProcessingRequest['metadataContext']>();
  const activation = () => prepareActivation(celActivation(ctx, req, response()));
  return {
    attributes: (dir) => {
      const exprs = dir === 'request' ? requestAttributes : responseAttributes;
      if (exprs === undefined) return undefined;
      return { [ATTRIBUTES_KEY]: jsonToStruct(evaluateAll(exprs, activation(), ctx.id)) };
    },
    metadataContext: () => {
      if (metadataContext === undefined) return undefined;
      const dir: Direction = response() === undefined ? 'request' : 'response';
      const hit = cached.get(dir);
      if (hit !== undefined) return hit;
      const act = activation();
      const filterMetadata: Record<string, ReturnType<typeof jsonToStruct>> = {};
      for (const [ns, exprs] of Object.entries(metadataContext)) filterMetadata[ns] = jsonToStruct(evaluateAll(exprs, act, ctx.id));
      const md = { filterMetadata };
      cached.set(dir, md);
      return md;
    },
  };
}
