/**
 * Body-based router: picks a backend pool from the JSON request body (`"model"`), which a route cannot see.
 * In full-duplex mode (tollgate's default) it holds its reply to the request headers, collects the body, then
 * answers the headers with the routing decision followed by the body itself. In buffered mode the decision
 * rides on the body reply (the gateway still holds the headers).
 *
 * The decision is the header `x-route-to: <pool>` (+ `clear_route_cache`, which is how Envoy is told to
 * re-route on a header). tollgate selects the route again after any request-header edit, so the routes in
 * config.yaml match on that header alone and the path reaches the backend unchanged.
 *
 * Run: node --import tsx examples/body-router/index.ts --port 9004
 */
import {
  bodyReply, bufferBody, headersReply, streamedChunk, type ProcessorHandlers, type ReplyOptions,
} from '../../src/processor/index.js';
import { isMain, serveFromCli } from '../shared/serve.js';

/** Backend pool per model; anything else goes to `a`. */
export const POOLS: Readonly<Record<string, 'a' | 'b'>> = { 'small-model': 'a', 'large-model': 'b' };

/** The pool for a request body (`a` unless it is a JSON object whose `model` maps to another pool). */
export function choosePool(body: Buffer): 'a' | 'b' {
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    const model = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['model'] : undefined;
    return (typeof model === 'string' ? POOLS[model] : undefined) ?? 'a';
  } catch {
    return 'a';
  }
}

function routeTo(pool: 'a' | 'b'): ReplyOptions {
  return { set: { 'x-route-to': pool }, clearRouteCache: true };
}

/** The router's handlers, made once per exchange (the chosen pool is reported on the response). */
export function bodyRouter(): ProcessorHandlers {
  let chosen: 'a' | 'b' = 'a';
  const decide = (pool: 'a' | 'b'): ReplyOptions => {
    chosen = pool;
    return routeTo(pool);
  };
  return {
    onRequestHeaders: (headers, ctx) => {
      if (headers.endOfStream) return headersReply('request', decide('a')); // no body to read
      // Full duplex: hold the headers reply until the body decided. Other modes: continue now.
      return ctx.fullDuplex('request') ? null : undefined;
    },
    onRequestBody: bufferBody((body, ctx) => {
      const route = decide(choosePool(body));
      if (!ctx.fullDuplex('request')) return bodyReply('request', route);
      const eos = !!ctx.message.requestBody?.endOfStream;
      return [headersReply('request', route), streamedChunk('request', body, eos)];
    }),
    onResponseHeaders: () => headersReply('response', { set: { 'x-routed-to': chosen } }),
  };
}

if (isMain(import.meta.url)) await serveFromCli('body-router', bodyRouter, 9004);
