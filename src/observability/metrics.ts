/**
 * Prometheus metrics, fed only by the diagnostics channels (the pipeline never touches prom-client).
 * Names follow agentgateway's with a `tollgate_` prefix; see docs/operations.md for the list.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram, type CounterSeries, type HistogramSeries } from './fast-metrics.js';
import { logger } from './logger.js';
import type { AccessLogRecord } from '../http/context.js';
import {
  channels,
  type ConfigReloadEvent,
  type ExtProcFailureEvent,
  type ExtProcMutationRejectedEvent,
  type ExtProcPhaseEvent,
  type ExtProcStreamOpenEvent,
  type RequestEndEvent,
} from './diagnostics.js';

/** The metrics of one process, with a way to stop listening (tests create several). */
export interface Metrics {
  readonly registry: Registry;
  /** Unsubscribes from every channel. */
  dispose(): void;
}

// Seconds buckets from 1 ms to 60 s: gateway overhead is sub-millisecond, AI calls take tens of seconds.
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// OpenTelemetry's advisory buckets for gen_ai.client.token.usage (powers of four).
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** Client-chosen label values (HTTP method, model names) are bounded so a client cannot explode series. */
class BoundedValues {
  readonly #seen = new Set<string>();
  constructor(readonly limit: number) {}
  get(v: string): string {
    if (v === '' || this.#seen.has(v)) return v;
    if (this.#seen.size >= this.limit) return '_OTHER';
    this.#seen.add(v);
    return v;
  }
}

/** Creates a registry with every tollgate metric and subscribes it to the diagnostics channels. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const requests = new FastCounter(
    'tollgate_requests_total',
    'HTTP requests handled, by gateway, listener, route, backend, method and response status.',
    ['gateway', 'listener', 'route', 'backend', 'method', 'status'],
    registry,
  );
  const duration = new FastHistogram(
    'tollgate_request_duration_seconds',
    'Time from request arrival to the end of the response, in seconds.',
    ['gateway', 'listener', 'route', 'backend', 'status'],
    SECONDS_BUCKETS,
    registry,
  );
  const extProcStreams = new FastCounter('tollgate_ext_proc_streams_total', 'ext_proc Process streams opened, by processor.', ['target'], registry);
  const extProcPhase = new FastHistogram(
    'tollgate_ext_proc_phase_duration_seconds',
    'Round trip of one ext_proc phase (message sent to matching reply), in seconds.',
    ['target', 'phase'],
    SECONDS_BUCKETS,
    registry,
  );
  const extProcFailures = new FastCounter(
    'tollgate_ext_proc_failures_total',
    'ext_proc exchanges that failed, by processor and reason.',
    ['target', 'reason'],
    registry,
  );
  const extProcFailOpen = new FastCounter(
    'tollgate_ext_proc_fail_open_total',
    'ext_proc failures where failOpen let the request continue unmodified.',
    ['target'],
    registry,
  );
  const extProcRejected = new FastCounter(
    'tollgate_ext_proc_mutations_rejected_total',
    'Header mutations from a processor that were dropped (CR/LF/NUL, forbidden header).',
    ['target'],
    registry,
  );
  const tokens = new FastHistogram(
    'tollgate_gen_ai_client_token_usage',
    'Gen-AI tokens used per request, by token type (input/output), model and route.',
    ['gen_ai_token_type', 'request_model', 'response_model', 'route'],
    TOKEN_BUCKETS,
    registry,
  );
  const ttft = new FastHistogram(
    'tollgate_gen_ai_server_time_to_first_token_seconds',
    'Time from sending a gen-AI request to the first response token (streaming), in seconds.',
    ['request_model', 'response_model', 'route'],
    SECONDS_BUCKETS,
    registry,
  );
  // Reloads are rare: plain prom-client metrics are fine here.
  const reloads = new Counter({
    name: 'tollgate_config_reloads_total',
    help: 'Config file reload attempts, by result (success/failure).',
    labelNames: ['result'],
    registers,
  });
  const synchronized = new Gauge({
    name: 'tollgate_config_synchronized',
    help: '1 when the running config matches the config file, 0 after a reload failed.',
    // In cluster mode only the primary sees reloads; workers always report 1, so `min` keeps a failure visible.
    aggregator: 'min',
    registers,
  });
  synchronized.set(1);

  // OpenTelemetry's rule for http.request.method: anything outside the standard set is `_OTHER`.
  const method = (m: string): string => (METHODS.has(m) ? m : '_OTHER');
  const models = new BoundedValues(200);

  // The series of the previous request: under load most requests share its labels, and comparing six strings
  // is cheaper than building two label arrays and walking eleven Map levels.
  let last: { r: LabelsOf; requests: CounterSeries; duration: HistogramSeries } | undefined;

  const onRequestEnd = (message: unknown): void => {
    const r: AccessLogRecord = (message as RequestEndEvent).record;
    const route = r.route ?? '';
    const backend = r.backend ?? '';
    let series = last;
    if (series === undefined || !sameLabels(series.r, r)) {
      const status = String(r.status ?? 0);
      series = last = {
        r: { gateway: r.gateway, listener: r.listener, route: r.route, backend: r.backend, method: r.method, status: r.status },
        requests: requests.series([r.gateway, r.listener, route, backend, method(r.method), status]),
        duration: duration.series([r.gateway, r.listener, route, backend, status]),
      };
    }
    series.requests.inc();
    if (r.durationMs !== undefined) series.duration.observe(r.durationMs / 1000);
    const ai = r.ai;
    if (ai !== undefined) {
      const req = models.get(ai.requestModel ?? '');
      const res = models.get(ai.responseModel ?? '');
      if (ai.inputTokens !== undefined) tokens.series(['input', req, res, route]).observe(ai.inputTokens);
      if (ai.outputTokens !== undefined) tokens.series(['output', req, res, route]).observe(ai.outputTokens);
      if (ai.timeToFirstTokenMs !== undefined) ttft.series([req, res, route]).observe(ai.timeToFirstTokenMs / 1000);
    }
  };
  const onOpen = (m: unknown): void => extProcStreams.series([(m as ExtProcStreamOpenEvent).target]).inc();
  const onPhase = (m: unknown): void => {
    const e = m as ExtProcPhaseEvent;
    extProcPhase.series([e.target, e.phase]).observe(e.seconds);
  };
  const onFailure = (m: unknown): void => {
    const e = m as ExtProcFailureEvent;
    extProcFailures.series([e.target, e.reason]).inc();
    if (e.failOpen) extProcFailOpen.series([e.target]).inc();
  };
  const onRejected = (m: unknown): void =>
    extProcRejected.series([(m as ExtProcMutationRejectedEvent).target]).inc();
  const onReload = (m: unknown): void => {
    const e = m as ConfigReloadEvent;
    reloads.labels(e.result).inc();
    synchronized.set(e.result === 'success' ? 1 : 0);
  };

  const subscriptions: [{ subscribe(f: (m: unknown) => void): void; unsubscribe(f: (m: unknown) => void): unknown }, (m: unknown) => void][] = [
    [channels.requestEnd, onRequestEnd],
    [channels.extProcOpen, onOpen],
    [channels.extProcPhase, onPhase],
    [channels.extProcFailure, onFailure],
    [channels.extProcMutationRejected, onRejected],
    [channels.configReload, onReload],
  ];
  // diagnostics_channel rethrows a subscriber's exception as an uncaught exception: a metrics bug must
  // never take the gateway down, so each subscriber is guarded and the first failure logged.
  let warned = false;
  const guarded = subscriptions.map(([ch, fn]) => {
    const g = (m: unknown): void => {
      try {
        fn(m);
      } catch (err) {
        if (!warned) logger.error({ error: err instanceof Error ? err.message : String(err) }, 'metrics subscriber failed');
        warned = true;
      }
    };
    ch.subscribe(g);
    return [ch, g] as const;
  });
  return {
    registry,
    dispose() {
      for (const [ch, g] of guarded) ch.unsubscribe(g);
    },
  };
}

/** The record fields the request metrics are labelled by. */
type LabelsOf = Pick<AccessLogRecord, 'gateway' | 'listener' | 'route' | 'backend' | 'method' | 'status'>;

function sameLabels(a: LabelsOf, b: LabelsOf): boolean {
  return a.status === b.status && a.route === b.route && a.backend === b.backend && a.method === b.method && a.listener === b.listener && a.gateway === b.gateway;
}
