/**
 * Per-request state shared by the pipeline, policies and observability: one object per exchange.
 */
import type { Listener, Route, WeightedBackend } from '../config/model.js';
import type { AbortSource } from './abort.js';

/** What ext_proc did on this request, for the access log and metrics. */
export interface ExtProcLog {
  /** Processor display name (e.g. `127.0.0.1:9000`). */
  target: string;
  /** Phases sent, in order, e.g. ['request_headers', 'request_body', 'response_headers']. */
  phases: string[];
  /** Total time spent waiting on the processor, ms. */
  timeMs: number;
  /** 'ok' | 'immediate_response' | 'failed' | 'fail_open' | 'closed_by_processor' | 'skipped' | 'aborted' (client gone, or the client stream was aborted after a late failure) */
  outcome: string;
  /** Why it failed, if it did. */
  failureReason?: string;
  /** True when failOpen was taken. */
  failOpen?: boolean;
}

/** Gen-AI fields for the access log and metrics. */
export interface AiLog {
  provider: string;
  requestModel?: string;
  responseModel?: string;
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  timeToFirstTokenMs?: number;
  streaming?: boolean;
}

/** The access-log record, filled in as the request progresses. */
export interface AccessLogRecord {
  id: string;
  gateway: string;
  listener: string;
  method: string;
  path: string;
  authority: string;
  protocol: string;
  remote: string;
  /** `namespace/name` of the route (the metrics label). */
  route?: string | undefined;
  /** The route's full key (`<listenerKey>/<namespace>/<name>`), unique per listener. */
  routeKey?: string | undefined;
  backend?: string | undefined;
  status?: number | undefined;
  durationMs?: number | undefined;
  bytesIn?: number | undefined;
  bytesOut?: number | undefined;
  error?: string | undefined;
  errorCode?: string | undefined;
  extProc?: ExtProcLog[] | undefined;
  ai?: AiLog | undefined;
  /** ext_proc dynamic_metadata (merged), when any. */
  dynamicMetadata?: Record<string, unknown> | undefined;
}

export interface RequestContext {
  readonly id: string;
  /** performance.now() at arrival. */
  readonly start: number;
  readonly listener: Listener;
  route: Route | undefined;
  backend: WeightedBackend | undefined;
  /** Aborted when the client goes away or the request timeout fires. */
  readonly signal: AbortSignal;
  /** The same abort as `signal`, observed through a plain callback (no AbortSignal or EventTarget per request). */
  readonly abort: AbortSource;
  /** Bound on every body the gateway buffers. */
  readonly maxBufferSize: number;
  /** W3C traceparent of the request (if any), propagated to processors. */
  readonly traceparent: string | undefined;
  /** ext_proc dynamic_metadata merged by top-level key; readable by CEL as `extproc.<key>`. */
  readonly extprocMetadata: Record<string, unknown>;
  readonly log: AccessLogRecord;
}
