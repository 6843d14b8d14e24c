/**
 * The AI backend seam (OpenAI provider). Placeholder until the AI backend lands: requests to an `ai`
 * backend fail with a clear 500 rather than being proxied wrongly.
 */
import type { AiBackend } from '../config/model.js';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';

/** Where and how to send an AI request upstream. */
export interface AiUpstreamPlan {
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
}

/**
 * Rewrites `req` for the provider (path, authority, JSON body: model override, stream_options) and says
 * where to send it. Runs after ext_proc's request phases (the processor sees the client-format body).
 * Rejects with GatewayError('ai_bad_request') on malformed JSON or a missing model.
 */
export async function prepareAiRequest(
  _backend: AiBackend,
  _req: GatewayRequest,
  _ctx: RequestContext,
): Promise<AiUpstreamPlan> {
  throw new GatewayError('policy_not_implemented', 'the ai backend is not implemented yet');
}

/**
 * Observes the upstream response (token usage, models, time to first token) without buffering a stream:
 * wraps `res.body` and fills `ctx.log.ai`. Runs before ext_proc's response phases.
 */
export function observeAiResponse(_backend: AiBackend, _res: GatewayResponse, _ctx: RequestContext): void {}
