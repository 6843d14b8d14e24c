/**
 * JSON body transformer (buffered mode): the gateway sends each whole body in one message.
 * - Request: fields named in SECRET_FIELDS are removed at any depth and `"transformedBy": "json-transformer"`
 *   is added, so the backend gets a cleaned body. A JSON content type with a body that is not JSON gets a 400.
 * - Response: a JSON body is wrapped as `{"data": <original>, "meta": {"transformedBy": "json-transformer"}}`.
 * Non-JSON bodies pass untouched. The SDK's `bufferBody` sets the new content-length for us.
 *
 * Run: node --import tsx examples/json-transformer/index.ts --port 9003
 */
import { bufferBody, immediateJson, type ProcessorContext, type ProcessorHandlers } from '../../src/processor/index.js';
import { isMain, serveFromCli } from '../shared/serve.js';

/** Keys removed from request bodies. */
export const SECRET_FIELDS: ReadonlySet<string> = new Set(['password', 'secret', 'ssn']);

/** Returns `value` without the secret keys (objects and arrays, recursively). */
export function stripSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripSecrets);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !SECRET_FIELDS.has(k.toLowerCase())).map(([k, v]) => [k, stripSecrets(v)]));
}

const isJson = (ctx: ProcessorContext, dir: 'request' | 'response'): boolean =>
  /\bjson\b/i.test((dir === 'request' ? ctx.requestHeaders : ctx.responseHeaders)?.get('content-type') ?? '');

/** The transformer's handlers. */
export const jsonTransformer: ProcessorHandlers = {
  onRequestBody: bufferBody((body, ctx) => {
    if (!isJson(ctx, 'request') || body.length === 0) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return immediateJson(400, { error: 'request body is not valid JSON' }, { details: 'json-transformer: bad JSON' });
    }
    const cleaned = stripSecrets(parsed);
    const out = typeof cleaned === 'object' && cleaned !== null && !Array.isArray(cleaned) ? { ...cleaned, transformedBy: 'json-transformer' } : cleaned;
    return JSON.stringify(out);
  }),
  onResponseBody: bufferBody((body, ctx) => {
    if (!isJson(ctx, 'response') || body.length === 0) return undefined;
    try {
      return JSON.stringify({ data: JSON.parse(body.toString('utf8')) as unknown, meta: { transformedBy: 'json-transformer' } });
    } catch {
      return undefined; // an upstream that mislabels its body: leave it alone
    }
  }),
};

if (isMain(import.meta.url)) await serveFromCli('json-transformer', jsonTransformer, 9003);
