/**
 * The OpenAI request body: read it (bounded, decompressed), validate it, force the model and ask for
 * streamed usage (reference/agentgateway-config.md §3.4). The bytes are re-serialized only when
 * something changed, so an untouched request reaches the provider byte for byte.
 */
import zlib from 'node:zlib';
import { GatewayError } from '../errors.js';
import { readAll } from '../http/body.js';
import type { Body } from '../http/message.js';
import { AiBadRequestError } from './errors.js';
import type { AiRouteType } from './paths.js';

/** How to rewrite a body. */
export interface RewriteOptions {
  readonly type: AiRouteType;
  /** `provider.openAI.model`: overwrites the request's `model` when set. */
  readonly forcedModel: string | undefined;
}

/** The rewritten body and what the gateway learned from it. */
export interface RewriteResult {
  readonly body: Buffer;
  /** True when `body` differs from the input bytes. */
  readonly changed: boolean;
  /** The model sent upstream. */
  readonly requestModel: string;
  /** The client asked for an SSE response (`stream: true`). */
  readonly streaming: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** V8's JSON error can quote the input; keep only the position so prompt text never lands in an error. */
function parsePosition(err: unknown): string {
  const m = err instanceof Error ? /position (\d+)/.exec(err.message) : null;
  if (m !== null) return ` (at byte ${m[1]})`;
  return err instanceof Error && /end of JSON/.test(err.message) ? ' (unexpected end of input)' : '';
}

/**
 * Validates and rewrites a JSON request body. Throws AiBadRequestError on malformed JSON, a non-object
 * body, or a missing model (after the override, so a forced model makes `model` optional for clients).
 */
export function rewriteRequestBody(raw: Buffer, opts: RewriteOptions): RewriteResult {
  if (raw.length === 0) throw new AiBadRequestError('the request body is empty; a JSON object is required', null, 'invalid_json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new AiBadRequestError(`the request body is not valid JSON${parsePosition(err)}`, null, 'invalid_json');
  }
  if (!isRecord(parsed)) throw new AiBadRequestError('the request body must be a JSON object', null, 'invalid_json');
  let changed = false;
  if (opts.forcedModel !== undefined && parsed['model'] !== opts.forcedModel) {
    parsed['model'] = opts.forcedModel;
    changed = true;
  }
  const model = parsed['model'];
  if (typeof model !== 'string' || model === '') {
    throw new AiBadRequestError('you must provide a model parameter (a non-empty string)', 'model', 'missing_model');
  }
  const streaming = parsed['stream'] === true;
  // Only chat completions know stream_options.include_usage; without it the stream carries no usage.
  if (streaming && opts.type === 'completions') {
    const so = parsed['stream_options'];
    if (so === undefined || so === null) {
      parsed['stream_options'] = { include_usage: true };
      changed = true;
    } else if (isRecord(so) && so['include_usage'] === undefined) {
      so['include_usage'] = true;
      changed = true;
    }
  }
  return { body: changed ? Buffer.from(JSON.stringify(parsed)) : raw, changed, requestModel: model, streaming };
}

/**
 * Reads a request body up to `limit` bytes, decompressing gzip/deflate/br (the decompressed size is
 * bounded too). Returns the plain bytes and whether they were decompressed.
 */
export async function readRequestBody(
  body: Body | null,
  contentEncoding: string | undefined,
  limit: number,
): Promise<{ bytes: Buffer; decompressed: boolean }> {
  const tooLarge = (): Error =>
    new GatewayError('payload_too_large', `the AI request body is larger than maxBufferSize (${limit} bytes)`);
  const raw = body === null ? Buffer.alloc(0) : await readAll(body, limit, tooLarge);
  const enc = contentEncoding?.trim().toLowerCase().slice(0, 40);
  if (enc === undefined || enc === '' || enc === 'identity') return { bytes: raw, decompressed: false };
  const opts = { maxOutputLength: Math.max(1, limit) };
  try {
    if (enc === 'gzip' || enc === 'x-gzip') return { bytes: zlib.gunzipSync(raw, opts), decompressed: true };
    if (enc === 'deflate') return { bytes: zlib.inflateSync(raw, opts), decompressed: true };
    if (enc === 'br') return { bytes: zlib.brotliDecompressSync(raw, opts), decompressed: true };
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw new AiBadRequestError(`the request body could not be decoded as ${enc}`, null, 'invalid_encoding');
  }
  throw new AiBadRequestError(`unsupported content-encoding "${enc}" for an AI request`, null, 'invalid_encoding');
}
