/**
 * The AI backend (OpenAI provider): turns a client request into the provider request (path, authority,
 * JSON body) and watches the response for gen-AI telemetry. The pipeline calls `prepareAiRequest` after
 * ext_proc's request phases (so processors see the client-format request, before the model override) and
 * `observeAiResponse` before ext_proc's response phases. See docs/ai.md.
 */
import type { AiBackend } from '../config/model.js';
import { bufferBody } from '../http/body.js';
import type { AiLog, RequestContext } from '../http/context.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { routeTypeFor, upstreamPath } from './paths.js';
import { readRequestBody, rewriteRequestBody } from './request.js';
import { observeJsonBody, observeSseBody } from './response.js';

export { AiBadRequestError, openAiErrorBody, openAiErrorResponse } from './errors.js';

/** Where and how to send an AI request upstream. */
export interface AiUpstreamPlan {
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
}

/** The gen_ai.system value for this provider (OpenTelemetry gen-AI semantic conventions). */
const PROVIDER = 'openai';

/** The authority the provider expects: `api.openai.com` by default, the dial target with `hostOverride`. */
function authorityFor(backend: AiBackend): string {
  if (backend.hostOverride !== undefined) return backend.hostOverride;
  const { scheme, host, port } = backend.target;
  const defaultPort = scheme === 'https' ? 443 : 80;
  return port === defaultPort ? host : `${host}:${port}`;
}

/**
 * Rewrites `req` for the provider (path, authority, JSON body: model override, stream_options) and says
 * where to send it. Runs after ext_proc's request phases (the processor sees the client-format body).
 * Rejects with an AiBadRequestError (code `ai_bad_request`, 400) on malformed JSON or a missing model, and
 * with `payload_too_large` past `ctx.maxBufferSize`.
 */
export async function prepareAiRequest(
  backend: AiBackend,
  req: GatewayRequest,
  ctx: RequestContext,
): Promise<AiUpstreamPlan> {
  const type = routeTypeFor(req.path, req.method);
  const log: AiLog = { provider: PROVIDER };
  ctx.log.ai = log;
  // Only POSTs to the JSON endpoints carry a request object; GET /v1/models and friends pass through.
  if (type !== 'models' && type !== 'passthrough') {
    const { bytes, decompressed } = await readRequestBody(
      req.body,
      req.headers.get('content-encoding'),
      ctx.maxBufferSize,
    );
    const rewritten = rewriteRequestBody(bytes, { type, forcedModel: backend.provider.model });
    log.requestModel = rewritten.requestModel;
    log.streaming = rewritten.streaming;
    req.body = bufferBody(rewritten.body);
    if (decompressed) req.headers.delete('content-encoding');
    req.headers.set('content-length', String(rewritten.body.length));
    if (!req.headers.has('content-type')) req.headers.set('content-type', 'application/json');
  }
  // An uncompressed response can be read for usage on the fly, and compressing SSE would delay tokens.
  req.headers.set('accept-encoding', 'identity');
  req.path = upstreamPath(backend, type, req.path);
  req.authority = authorityFor(backend);
  return { scheme: backend.target.scheme, host: backend.target.host, port: backend.target.port };
}

/**
 * Observes the upstream response (token usage, models, time to first token) without buffering a stream:
 * wraps `res.body` and fills `ctx.log.ai`. Runs before ext_proc's response phases. Error responses
 * (non-2xx) pass through untouched: OpenAI already speaks its own error format.
 */
export function observeAiResponse(_backend: AiBackend, res: GatewayResponse, ctx: RequestContext): void {
  const log = ctx.log.ai ?? (ctx.log.ai = { provider: PROVIDER });
  if (res.body === null || res.status < 200 || res.status >= 300) return;
  const contentType = (res.headers.get('content-type') ?? '').toLowerCase();
  const sse = contentType.startsWith('text/event-stream');
  const opts = { log, start: ctx.start, maxBuffer: ctx.maxBufferSize };
  // A streamed request answered without a content type is SSE (agentgateway forces it); one answered with
  // JSON (a server that ignores `stream`) is left as JSON rather than mislabelled.
  if (sse || (log.streaming === true && contentType === '')) {
    log.streaming = true;
    res.headers.delete('content-length');
    if (!sse) res.headers.set('content-type', 'text/event-stream');
    res.body = observeSseBody(res.body, opts);
    return;
  }
  if (log.streaming === undefined) log.streaming = false;
  const encoded = res.headers.get('content-encoding');
  if (encoded !== undefined && encoded !== 'identity') return; // cannot read usage from compressed bytes
  res.body = observeJsonBody(res.body, opts);
}
