/**
 * One ext_proc session per HTTP exchange: implements the pipeline's `ExtProcExchange` on top of a
 * ProcessorChannel (stream + state machine) and the direction runner. It owns the exchange-wide decisions:
 * which modes run, what a failure means (failure.ts), how an immediate response becomes a reply,
 * dynamic metadata, the access-log entry and the diagnostics events.
 */
import type { ExtProcConfig } from '../config/model.js';
import { GatewayError } from '../errors.js';
import { bufferBody } from '../http/body.js';
import type { ExtProcLog, RequestContext } from '../http/context.js';
import { isGrpc, type GatewayRequest, type GatewayResponse } from '../http/message.js';
import { channels, publish } from '../observability/diagnostics.js';
import { logger } from '../observability/logger.js';
import { CONTINUE, type ExtProcExchange, type PolicyOutcome } from '../pipeline/policy.js';
import { ProcessorChannel, type Answer, type ProcessorFailure } from './channel.js';
import { localResponse, type LocalServices } from './local-reply.js';
import { runDirection, type DirectionIo, type ExchangeServices } from './direction.js';
import { decideOnFailure } from './failure.js';
import type { ProcessingResponse } from './messages.js';
import { effectiveModes, localReplyAllowed, sendsNothing, unsupportedBodyMode, type Direction, type EffectiveModes } from './modes.js';
import { immediateResponse, type RejectedMutation } from './mutation.js';
import { requestIo, responseIo } from './phase-io.js';
import { structToJson } from './struct.js';
import { celHooks } from './cel-fields.js';
import type { ProcessorClient } from './transport.js';

const noop = (): void => undefined;
/** The metadataContext and attributes hooks of a processor with no CEL fields (shared, not made per exchange). */
const nothing = (): undefined => undefined;
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** Hooks for the CEL-driven fields (issue 4: metadataContext and request/response attributes). */
export interface SessionHooks {
  readonly metadataContext?: () => import('./messages.js').ProcessingRequest['metadataContext'];
  readonly attributes?: (dir: Direction) => import('./messages.js').ProcessingRequest['attributes'];
}

/** Everything one session needs. */
export interface SessionOptions {
  readonly config: ExtProcConfig;
  readonly ctx: RequestContext;
  readonly req: GatewayRequest;
  readonly client: ProcessorClient;
  readonly hooks?: SessionHooks;
}

/** The ext_proc exchange for one HTTP request. */
export class ExtProcSession implements ExtProcExchange, ExchangeServices {
  readonly channel: ProcessorChannel;
  modes: EffectiveModes;
  readonly allowModeOverride: boolean;
  readonly maxBufferSize: number;
  readonly failOpen: boolean;
  #routingChanged = false;
  #response: GatewayResponse | undefined;
  #finished = false;
  #responded = false;
  readonly #config: ExtProcConfig;
  readonly #ctx: RequestContext;
  readonly #grpc: boolean;
  /** The request as the pipeline forwards it (a `:method` rewrite shows here), and the client's own method. */
  readonly #req: GatewayRequest;
  readonly #clientMethod: string;
  readonly #log: ExtProcLog;
  readonly #offAbort: () => void;
  /**
   * The streamed input body failed because an earlier processor answered the request mid-body (two processors
   * after a re-route: pipeline/ext-proc-chain.ts): that answer, not this processor's failure, is what the client gets.
   */
  #inputAnswered: ImmediateResponseError | undefined;

  constructor(opts: SessionOptions) {
    const { config, ctx, req } = opts;
    this.#config = config;
    this.#ctx = ctx;
    this.modes = effectiveModes(config.processingOptions);
    this.allowModeOverride = config.processingOptions.allowModeOverride;
    this.maxBufferSize = ctx.maxBufferSize;
    this.failOpen = config.failureMode === 'failOpen';
    this.#grpc = isGrpc(req.headers);
    this.#req = req;
    this.#clientMethod = req.method;
    const cel = opts.hooks === undefined ? celHooks(config, ctx, req, () => this.#response) : undefined;
    const metadata = ctx.traceparent === undefined ? NO_METADATA : { traceparent: ctx.traceparent };
    this.channel = new ProcessorChannel({
      client: opts.client,
      target: config.target.display,
      messageTimeoutMs: config.messageTimeoutMs,
      metadata,
      modes: () => this.modes,
      metadataContext: opts.hooks?.metadataContext ?? cel?.metadataContext ?? nothing,
      attributes: opts.hooks?.attributes ?? cel?.attributes ?? nothing,
      onDynamicMetadata: (msg) => this.#dynamicMetadata(msg),
      localReplyAllowed: localReplyAllowed(this.modes),
    });
    this.#log = { target: config.target.display, phases: this.channel.phases, timeMs: 0, outcome: 'skipped' };
    (ctx.log.extProc ??= []).push(this.#log);
    const abort = ctx.abort;
    if (abort.aborted) {
      queueMicrotask(() => this.finish(abort.reason));
      this.#offAbort = noop;
    } else {
      this.#offAbort = abort.onAbort(() => this.finish(abort.reason));
    }
  }

  get routingChanged(): boolean {
    return this.#routingChanged;
  }

  async onRequest(req: GatewayRequest): Promise<PolicyOutcome> {
    this.#refuseUnsupported();
    if (sendsNothing(this.modes)) return CONTINUE;
    const { method, authority, path } = req;
    const headersBefore = req.headers.version;
    const outcome = await runDirection(this, requestIo(req));
    // Any header edit may change which route matches (a body-based router sets e.g. `x-route-to`); matching
    // again is cheap, so every request-header mutation counts, as Envoy's clear_route_cache would.
    if (outcome.kind === 'continue') {
      this.#routingChanged = req.headers.version !== headersBefore || req.method !== method || req.authority !== authority || req.path !== path;
    }
    return outcome;
  }

  async onResponse(res: GatewayResponse): Promise<PolicyOutcome> {
    if (this.#responded || this.#finished || sendsNothing(this.modes)) return CONTINUE;
    this.#response = res;
    // A response to HEAD has no body on the wire, whatever content-length says (the client's HEAD for the
    // servers, the forwarded one for the upstream).
    const head = this.#clientMethod === 'HEAD' || this.#req.method === 'HEAD';
    return runDirection(this, responseIo(res, head));
  }

  finish(error?: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#offAbort();
    const state = this.channel.state;
    this.channel.finish();
    this.#log.timeMs = Math.round(this.channel.waitedMs * 1000) / 1000;
    if (this.#log.outcome === 'skipped') {
      if (state.t === 'passThrough' && state.why === 'closed_ok') this.#log.outcome = 'closed_by_processor';
      else if (this.channel.opened) this.#log.outcome = error === undefined ? 'ok' : 'aborted';
    }
  }

  /** Streamed modes arrive with issue 4; until then a config asking for them fails clearly, never wrongly. */
  #refuseUnsupported(): void {
    const u = unsupportedBodyMode(this.modes);
    if (u === undefined) return;
    const key = u.direction === 'request' ? 'requestBodyMode' : 'responseBodyMode';
    const reason = `body mode ${u.mode} is not supported yet (processingOptions.${key}); use none, buffered or bufferedPartial`;
    this.#log.outcome = 'failed';
    this.#log.failureReason = reason;
    throw new GatewayError('ext_proc_failed', `ext_proc failed: ${reason}`, { status: this.#config.statusOnError });
  }

  laterPhases(dir: Direction): boolean {
    if (dir === 'response') return false;
    const r = this.modes.response;
    return r.headers || r.body !== 'none';
  }

  rejected(list: readonly RejectedMutation[]): void {
    for (const r of list) {
      publish(channels.extProcMutationRejected, { target: this.#config.target.display, header: r.header, why: r.why });
      // Only the name: a value may carry credentials.
      logger.warn({ requestId: this.#ctx.id, processor: this.#config.target.display, header: r.header, why: r.why }, 'ext_proc header mutation not applied');
    }
  }

  overrideIgnored(reasons: readonly string[]): void {
    logger.warn({ requestId: this.#ctx.id, processor: this.#config.target.display, reasons }, 'ext_proc mode_override not fully applied');
  }

  immediate(msg: ProcessingResponse): PolicyOutcome {
    const r = immediateResponse(msg.immediateResponse ?? {}, this.#grpc);
    this.rejected(r.rejected);
    this.#responded = true;
    this.#log.outcome = 'immediate_response';
    // A gRPC reply is trailers-only: no body at all, so grpc-status goes out in the one HEADERS frame.
    const response: GatewayResponse = { status: r.status, headers: r.headers, body: this.#grpc ? null : bufferBody(r.body) };
    return { kind: 'respond', response };
  }

  localReply(first: Extract<Answer, { kind: 'local' }>, bodyFlows: boolean): PolicyOutcome {
    // Nothing more will be sent unless a pump still streams the request body (its last message ends the input).
    if (!bodyFlows) this.channel.directionDone('request');
    const services: LocalServices = {
      ch: this.channel,
      rejected: (list) => this.rejected(list),
      // The client already has the local headers: a failure can only abort its stream.
      failure: (err) => this.lateFailure(err, 'response', false),
    };
    const response = localResponse(services, first);
    if (typeof response === 'string') throw new GatewayError('ext_proc_failed', `ext_proc failed: ${response}`, { status: this.#config.statusOnError });
    this.#responded = true;
    this.#log.outcome = 'immediate_response'; // a local reply is one, streamed (context.ts lists the outcomes)
    return { kind: 'respond', response };
  }

  failure(err: ProcessorFailure, dir: Direction, heldEverything: boolean): PolicyOutcome {
    return this.#decide(err, dir, false, heldEverything);
  }

  lateFailure(err: ProcessorFailure, dir: Direction, heldEverything: boolean): never {
    this.#decide(err, dir, true, heldEverything);
    throw new Error('unreachable: a failure after the headers were forwarded always fails the body');
  }

  lateImmediate(msg: ProcessingResponse, dir: Direction): Error {
    const r = immediateResponse(msg.immediateResponse ?? {}, this.#grpc);
    this.rejected(r.rejected);
    this.#responded = true;
    this.#log.outcome = 'immediate_response';
    const body = Object.assign(bufferBody(r.body), { bytes: r.body });
    const response: GatewayResponse = { status: r.status, headers: r.headers, body };
    return new ImmediateResponseError(response, dir);
  }

  bodyTooLarge(dir: Direction, err: GatewayError): GatewayError {
    if (this.#finished) return err;
    const cfg = this.#config;
    const reason = err.message.startsWith('ext_proc failed: ') ? err.message.slice('ext_proc failed: '.length) : err.message;
    // Not a decision (failure.ts): the limit is the gateway's, so failOpen does not apply and the status is fixed.
    publish(channels.extProcFailure, { target: cfg.target.display, reason: 'body_too_large', failOpen: false });
    this.#log.outcome = 'failed';
    this.#log.failureReason = reason;
    logger.warn({ requestId: this.#ctx.id, processor: cfg.target.display, reason, direction: dir, failOpen: false }, 'ext_proc failure');
    return err;
  }

  headersForwarded(dir: Direction): void {
    if (dir === 'response') this.channel.responseHeadersOut();
  }

  inputFailed(dir: Direction, err: unknown): void {
    this.#inputAnswered ??= immediateCause(err);
    const why = err instanceof Error ? err.message : String(err);
    this.channel.fail({ kind: 'reset', detail: `the ${dir} body failed while it was streaming to the processor: ${why}` });
  }

  #decide(err: ProcessorFailure, dir: Direction, headersForwarded: boolean, heldEverything: boolean): PolicyOutcome {
    const cfg = this.#config;
    if (this.#finished) {
      // The exchange is already over (client gone, or the pipeline finished): nothing to decide or report.
      throw new GatewayError('ext_proc_failed', 'ext_proc failed: the exchange already finished', { status: cfg.statusOnError, cause: err });
    }
    const d = decideOnFailure({
      failureMode: cfg.failureMode,
      statusOnError: cfg.statusOnError,
      direction: dir,
      headersForwarded,
      heldEverything,
      cause: err.cause,
    });
    const failOpen = d.action === 'continue-unmodified';
    publish(channels.extProcFailure, { target: cfg.target.display, reason: err.cause.kind, failOpen });
    this.#log.failureReason = d.reason;
    logger.warn({ requestId: this.#ctx.id, processor: cfg.target.display, reason: d.reason, failOpen }, 'ext_proc failure');
    if (failOpen) {
      this.#log.outcome = 'fail_open';
      this.#log.failOpen = true;
      this.channel.failOpen();
      return CONTINUE;
    }
    this.#log.outcome = d.action === 'abort-stream' ? 'aborted' : 'failed';
    if (this.#inputAnswered !== undefined) throw this.#inputAnswered;
    const code = err.cause.kind === 'timeout' ? 'ext_proc_timeout' : 'ext_proc_failed';
    throw new GatewayError(code, `ext_proc failed: ${d.reason}`, { status: d.status, cause: err });
  }

  #dynamicMetadata(msg: ProcessingResponse): void {
    if (msg.dynamicMetadata == null) return;
    const md = structToJson(msg.dynamicMetadata);
    if (Object.keys(md).length === 0) return;
    Object.assign(this.#ctx.extprocMetadata, md);
    this.#ctx.log.dynamicMetadata = this.#ctx.extprocMetadata;
  }
}

/**
 * An immediate response that arrived after the request headers went upstream (streaming request body): it
 * fails the upstream request body at once, and carries the response the client must get instead. The
 * pipeline answers with `response` when the upstream call rejects with this error; otherwise the client
 * gets its status with a text body.
 */
export class ImmediateResponseError extends GatewayError {
  readonly response: GatewayResponse;
  constructor(response: GatewayResponse, dir: Direction) {
    const text = response.body === null ? '' : immediateText(response);
    super('ext_proc_failed', text.length > 0 ? text : `ext_proc immediate response (${response.status}) during the ${dir} body`, { status: response.status });
    this.response = response;
  }
}

/** The ImmediateResponseError behind `err`, if any (a body's failure or a transport may wrap it as a cause). */
export function immediateCause(err: unknown): ImmediateResponseError | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e instanceof Error; i++, e = e.cause) {
    if (e instanceof ImmediateResponseError) return e;
  }
  return undefined;
}

function immediateText(r: GatewayResponse): string {
  const b = (r.body as { bytes?: Buffer } | null)?.bytes;
  return b === undefined ? '' : b.toString('utf8');
}

/** Keeps DirectionIo exported alongside the session for tests that drive a direction directly. */
export type { DirectionIo };
