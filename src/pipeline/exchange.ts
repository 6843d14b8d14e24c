/**
 * The bookkeeping of one HTTP exchange: its RequestContext, the ext_proc exchanges (if any), the request
 * timer, and the single end-of-request step (finish each ext_proc once, complete the access-log record, publish
 * `requestEnd` once).
 */
import type { Listener, Route, WeightedBackend } from '../config/model.js';
import { GatewayError } from '../errors.js';
import type { AccessLogRecord, RequestContext } from '../http/context.js';
import type { HeaderList } from '../http/headers.js';
import type { RequestAbort } from '../http/abort.js';
import { requestId } from '../http/request-id.js';
import type { Body, GatewayRequest, GatewayResponse } from '../http/message.js';
import type { Deliver, HandledResponse } from '../server/respond.js';
import { channels, publish } from '../observability/diagnostics.js';
import type { ExtProcExchange } from './policy.js';

/**
 * The RequestContext of an exchange. A class rather than an object literal: its `signal` getter then lives on the
 * prototype instead of being a new closure (and a new hidden class) per request.
 */
class Context implements RequestContext {
  readonly start = performance.now();
  route: Route | undefined = undefined;
  backend: WeightedBackend | undefined = undefined;
  #extprocMetadata: Record<string, unknown> | undefined = undefined;
  /** null until first read. */
  #traceparent: string | undefined | null = null;

  constructor(
    readonly id: string,
    readonly listener: Listener,
    readonly abort: RequestAbort,
    readonly maxBufferSize: number,
    private readonly headers: HeaderList,
    readonly log: AccessLogRecord,
  ) {}

  /**
   * Read on first use: only ext_proc sends it, when its stream opens (phase 7, before any policy can change the
   * request's headers), so the plain path never scans the headers for it.
   */
  get traceparent(): string | undefined {
    if (this.#traceparent === null) this.#traceparent = this.headers.get('traceparent');
    return this.#traceparent;
  }

  /** Made on first use: only ext_proc reads or fills it. */
  get extprocMetadata(): Record<string, unknown> {
    return (this.#extprocMetadata ??= {});
  }

  /** Made on first use: the plain proxy path never needs an AbortSignal. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }
}

/** `namespace/name` of each route (the log field and metrics label), made once per route. */
const labels = new WeakMap<Route, string>();
function routeLabel(route: Route): string {
  let label = labels.get(route);
  if (label === undefined) labels.set(route, (label = `${route.namespace}/${route.name}`));
  return label;
}

/**
 * Mutable per-request state owned by the pipeline. It is also what the server gets back (`HandledResponse`): the
 * response, and `done` to call once it was written, without another object or a bound closure per request.
 */
export class Exchange implements HandledResponse {
  readonly ctx: RequestContext;
  /** Aborted on client abort (by the server) or request timeout; `ctx.signal` is its signal. */
  readonly abort: RequestAbort;
  /** The ext_proc exchanges started for this request, in start order (at most two: pipeline/ext-proc-chain.ts). */
  extProcs: ExtProcExchange[] | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The response the client is sent (set by `respond`). */
  response!: GatewayResponse;
  #ended = false;
  /** The client's body as received (ext_proc may replace `req.body`); it counts the bytes read. */
  readonly #clientBody: Body | null;
  readonly #onEnd: (() => void) | undefined;
  #deliver: Deliver<unknown> | undefined;
  #target: unknown;
  /** `send` ran: one response per exchange, whichever path produced it first. */
  #sent = false;

  constructor(req: GatewayRequest, listener: Listener, abort: RequestAbort, maxBufferSize: number, onEnd?: () => void) {
    this.abort = abort;
    this.#onEnd = onEnd;
    this.#clientBody = req.body;
    const id = requestId();
    this.ctx = new Context(id, listener, abort, maxBufferSize, req.headers, {
      id,
      gateway: listener.gatewayName,
      listener: listener.name,
      method: req.method,
      path: req.path,
      authority: req.authority,
      protocol: req.httpVersion === '2' ? 'HTTP/2' : 'HTTP/1.1',
      remote: req.remoteAddress,
      // Every field the exchange may fill in is declared now, so all records share one shape.
      route: undefined,
      routeKey: undefined,
      backend: undefined,
      status: undefined,
      durationMs: undefined,
      bytesIn: undefined,
      bytesOut: undefined,
      error: undefined,
      errorCode: undefined,
      extProc: undefined,
      ai: undefined,
      dynamicMetadata: undefined,
    });
  }

  /** Where `send` hands the response (the server's writer and its per-request target). */
  deliverTo(deliver: Deliver<unknown>, target: unknown): void {
    this.#deliver = deliver;
    this.#target = target;
  }

  /** Records the response and hands it to the server's writer. */
  send(response: GatewayResponse): void {
    if (this.#sent) return;
    this.#sent = true;
    this.respond(response);
    this.#deliver!(this.#target, this);
  }

  /** Records the response the client is being sent. */
  respond(response: GatewayResponse): void {
    this.response = response;
    this.ctx.log.status = response.status;
  }

  /**
   * Records a failure (the first one wins). Once the client went away, that is the failure: whatever broke
   * because of it (the ext_proc stream, the upstream body) is not logged as a processor or upstream fault.
   */
  error(err: unknown): void {
    if (this.ctx.log.error !== undefined) return;
    const reason: unknown = this.abort.aborted ? this.abort.reason : undefined;
    const g = reason instanceof GatewayError && reason.code === 'client_closed' ? reason : GatewayError.from(err);
    this.ctx.log.error = g.message;
    this.ctx.log.errorCode = g.code;
  }

  /** Stops the request timeout (an upgraded connection's 101 went out: the tunnel is not bounded by it). */
  endDeadline(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Ends the exchange exactly once: every ext_proc exchange released, timer cleared, log completed and published. */
  done(error: unknown, bytesOut: number, status?: number, bytesIn?: number): void {
    if (this.#ended) return;
    this.#ended = true;
    if (status !== undefined) this.ctx.log.status = status;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (error !== undefined) this.error(error);
    const procs = this.extProcs;
    if (procs !== undefined) {
      for (const p of procs) {
        try {
          p.finish(error);
        } catch {
          // finish must not throw; a broken exchange must still be logged, and the other one finished.
        }
      }
    }
    const log = this.ctx.log;
    log.durationMs = performance.now() - this.ctx.start;
    log.bytesIn = bytesIn ?? this.#clientBody?.bytesRead ?? 0;
    log.bytesOut = bytesOut;
    const route = this.ctx.route;
    if (route !== undefined) {
      log.route = routeLabel(route);
      log.routeKey = route.key;
    }
    if (this.ctx.backend !== undefined) log.backend = this.ctx.backend.backend.name;
    try {
      publish(channels.requestEnd, { record: log });
    } finally {
      this.#onEnd?.();
    }
  }
}
