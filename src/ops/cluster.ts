/**
 * Multi-process mode (`config.workers` > 1 or TOLLGATE_WORKERS): node:cluster workers each run a gateway on
 * the shared bind sockets; the primary owns the ops servers, the file watch, and drain coordination.
 * Metrics are aggregated across workers on every scrape; a worker that dies is replaced.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { GatewayModel } from '../config/model.js';
import { createMetrics } from '../observability/metrics.js';
import { logger } from '../observability/logger.js';
import { isMessage, type FromWorker, type ToWorker } from './cluster-messages.js';
import { drainingShutdown, watchAndReload } from './lifecycle.js';
import { startOpsServers, type OpsServers } from './ops-servers.js';
import { Readiness } from './readiness.js';
import type { RunOptions, Running } from './run.js';
import type { FileWatch } from './watch.js';

/** Cluster mode needs the raw text (workers load it themselves) and how to resolve relative paths. */
export interface ClusterOptions extends RunOptions {
  readonly workers: number;
  readonly text: string;
  readonly source: string;
  readonly baseDir: string;
}

type MetricJson = MetricObjectWithValues<MetricValue<string>>[];
const REPLY_TIMEOUT_MS = 10_000;
/**
 * How long a scrape waits for a worker's metrics. Prometheus gives up on a scrape after 10 s by default, so one
 * stuck worker must not hold every scrape that long: its last reply stands in for it.
 */
const METRICS_TIMEOUT_MS = 2_000;
/** Metric types whose values only grow: a dead worker's last values stay in the merged sum. */
const CUMULATIVE = new Set(['counter', 'histogram']);
const RESTART_DELAY_MS = 500;

/** Starts the primary and `opts.workers` workers; rejects if any worker fails to start. */
export async function runCluster(opts: ClusterOptions): Promise<Running> {
  const metrics = createMetrics();
  const readiness = new Readiness();
  let model: GatewayModel = opts.model;
  let text = opts.text;
  let draining = false;
  let nextId = 1;
  const pending = new Map<number, (m: FromWorker | undefined) => void>();
  const workers = new Set<Worker>();
  /** Workers that finished starting, with the config text each one runs. Reloads go only to these. */
  const serving = new Map<Worker, string>();

  const send = (w: Worker, m: ToWorker): void => {
    if (w.isConnected()) w.send(m);
  };
  /** Sends a request and resolves with the worker's reply, or undefined on timeout / exit. */
  const ask = (w: Worker, make: (id: number) => ToWorker, timeoutMs = REPLY_TIMEOUT_MS): Promise<FromWorker | undefined> => {
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(undefined), timeoutMs);
      const onExit = (): void => settle(undefined);
      function settle(m: FromWorker | undefined): void {
        clearTimeout(timer);
        w.off('exit', onExit);
        pending.delete(id);
        resolve(m);
      }
      w.once('exit', onExit);
      pending.set(id, settle);
      send(w, make(id));
    });
  };

  /** Forks one worker; resolves with its bind addresses once it is serving. */
  const fork = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork();
      workers.add(w);
      logger.debug({ pid: w.process.pid }, 'worker forked');
      let ready = false;
      let startedWith = text;
      w.on('message', (m: unknown) => {
        if (!isMessage<FromWorker>(m)) return;
        if (m.t === 'hello') {
          startedWith = text;
          send(w, { t: 'start', text, source: opts.source, baseDir: opts.baseDir, ...(opts.bindHost === undefined ? {} : { bindHost: opts.bindHost }) });
        } else if (m.t === 'ready') {
          ready = true;
          serving.set(w, startedWith);
          if (readiness.state === 'no worker serving') readiness.state = 'ready';
          // A reload that landed while this worker was starting did not reach it: catch it up.
          if (startedWith !== text) void catchUp(w);
          resolve(m.addresses);
        } else if (m.t === 'failed') reject(new Error(m.error));
        else if ('id' in m) pending.get(m.id)?.(m);
      });
      w.once('exit', (code, signal) => {
        workers.delete(w);
        serving.delete(w);
        retire(w);
        if (serving.size === 0 && readiness.state === 'ready') readiness.state = 'no worker serving';
        if (!ready) reject(new Error(`worker ${w.process.pid ?? '?'} exited during startup (${signal ?? code})`));
        else if (!draining) {
          logger.error({ pid: w.process.pid, code, signal }, 'worker exited; starting a replacement');
          setTimeout(() => {
            if (!draining) fork().catch((err: unknown) => logger.error({ error: String(err) }, 'replacement worker failed to start'));
          }, RESTART_DELAY_MS);
        }
      });
    });

  /** Sends the current config to one worker; returns the error text, if it could not apply it. */
  const reloadWorker = async (w: Worker, next: string): Promise<string | undefined> => {
    const r = await ask(w, (id) => ({ t: 'reload', id, text: next }));
    const error = r === undefined ? 'no reply' : r.t === 'reloaded' ? r.error : undefined;
    if (error === undefined) serving.set(w, next);
    return error;
  };
  const catchUp = async (w: Worker): Promise<void> => {
    const error = await reloadWorker(w, text);
    if (error !== undefined) logger.error({ pid: w.process.pid, error }, 'worker could not apply the current config');
  };

  /** Each worker's last metrics reply. */
  const lastSeen = new Map<Worker, MetricJson>();
  /**
   * The counters and histograms of workers that exited, as last seen: kept in the sum, so a merged counter never
   * goes down when a worker dies (Prometheus would read that as a reset). Gauges leave with their worker.
   */
  let retired: MetricJson[] = [];
  const retire = (w: Worker): void => {
    const last = lastSeen.get(w);
    lastSeen.delete(w);
    // prom-client's types say a numeric enum; at run time `type` is the name ('counter', 'gauge', …).
    if (last !== undefined) retired.push(last.filter((m) => CUMULATIVE.has(String(m.type))));
  };

  const aggregated = {
    contentType: metrics.registry.contentType,
    async metrics(): Promise<string> {
      const live = [...workers];
      const replies = await Promise.all(live.map((w) => ask(w, (id) => ({ t: 'metrics', id }), METRICS_TIMEOUT_MS)));
      if (retired.length > 1) retired = [(await AggregatorRegistry.aggregate(retired).getMetricsAsJSON()) as MetricJson];
      const parts: MetricJson[] = [await metrics.registry.getMetricsAsJSON(), ...retired];
      live.forEach((w, i) => {
        const r = replies[i];
        if (r?.t === 'metrics') lastSeen.set(w, r.data as MetricJson);
        // A worker that did not answer in time counts as it did last time.
        const data = lastSeen.get(w);
        if (data !== undefined) parts.push(data);
      });
      return AggregatorRegistry.aggregate(parts).metrics();
    },
  };

  let ops: OpsServers | undefined;
  let watch: FileWatch | undefined;
  const stopWorkers = async (deadlineMs: number): Promise<void> => {
    draining = true;
    const exits = [...workers].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
    for (const w of workers) send(w, { t: 'drain', deadlineMs });
    // Workers enforce the deadline themselves; the margin only covers a worker that is stuck.
    const hard = setTimeout(() => {
      for (const w of workers) w.process.kill('SIGKILL');
    }, deadlineMs + 5_000);
    await Promise.all(exits);
    clearTimeout(hard);
  };

  try {
    ops = await startOpsServers(opts.model.config, { readiness, model: () => model, metrics: aggregated });
    const started = await Promise.all(Array.from({ length: opts.workers }, () => fork()));
    readiness.state = 'ready';
    const pids = [...workers].map((w) => w.process.pid);
    logger.info({ binds: started[0], workers: pids, ...ops.addresses }, 'tollgate ready');
  } catch (err) {
    await stopWorkers(0);
    await ops?.close();
    metrics.dispose();
    throw err;
  }

  const spec = opts.watch;
  if (spec !== undefined) {
    watch = watchAndReload(spec, opts.model, async (next) => {
      const nextModel = spec.load(next); // validated here first, so an invalid edit never reaches a worker
      // Workers still starting are caught up when they report ready (they compare against `text`).
      const previous = text;
      text = next;
      const errors = await Promise.all([...serving.keys()].map((w) => reloadWorker(w, next)));
      const failures = errors.filter((e) => e !== undefined);
      if (failures.length > 0) {
        text = previous;
        throw new Error(`${failures.length} worker(s) could not apply the config: ${failures[0]}`);
      }
      model = nextModel;
      return nextModel;
    });
  }

  return {
    readiness,
    shutdown: drainingShutdown(readiness, watch, async (drainTimeoutMs) => {
      logger.info({ workers: workers.size, deadlineMs: drainTimeoutMs }, 'draining');
      const t0 = Date.now();
      await stopWorkers(drainTimeoutMs);
      await ops?.close();
      metrics.dispose();
      logger.info({ drainedMs: Date.now() - t0 }, 'stopped');
    }),
  };
}
