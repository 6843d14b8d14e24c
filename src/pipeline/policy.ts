/**
 * Policy contracts. Policies are typed by phase and return one outcome: continue, or respond with a
 * response the gateway sends instead of calling (or instead of relaying) the upstream.
 */
import type { ExtProcConfig } from '../config/model.js';
import type { RequestContext } from '../http/context.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';

export type PolicyOutcome = { readonly kind: 'continue' } | { readonly kind: 'respond'; readonly response: GatewayResponse };

export const CONTINUE: PolicyOutcome = Object.freeze({ kind: 'continue' });

/**
 * One ext_proc exchange (one Process stream) for one HTTP exchange (a re-routed request may have two:
 * pipeline/ext-proc-chain.ts). The pipeline calls `onRequest` once before routing to the backend, `onResponse`
 * once with the upstream response, and `finish` exactly once when the exchange is over (ok or not) so the stream
 * and timers are released.
 */
export interface ExtProcExchange {
  /**
   * Runs the request phases. On continue, `req` has been mutated in place (headers, and `body` replaced by
   * the processed body stream when body processing is on). May reject with a GatewayError (fail closed).
   */
  onRequest(req: GatewayRequest): Promise<PolicyOutcome>;
  /** Runs the response phases; mutates `res` in place on continue. May reject with a GatewayError. */
  onResponse(res: GatewayResponse): Promise<PolicyOutcome>;
  /**
   * True when the request phases changed any request header, or :path, :authority/host or :method (the
   * route is re-selected).
   */
  readonly routingChanged: boolean;
  /** Releases the stream; `error` set when the exchange failed or the client went away. */
  finish(error?: unknown): void;
}

/** Creates the exchange for one request; the seam where src/extproc plugs into the pipeline. */
export type ExtProcStarter = (config: ExtProcConfig, ctx: RequestContext, req: GatewayRequest) => ExtProcExchange;
