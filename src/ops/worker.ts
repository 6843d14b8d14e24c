/**
 * A cluster worker: runs one gateway on the shared bind sockets and does what the primary asks (start,
 * reload, report metrics, drain). Signals are the primary's business; a worker whose primary vanished
 * drains on its own.
 */
import cluster from 'node:cluster';
import { loadConfigText } from '../config/load.js';
import { createGateway, type Gateway } from '../gateway.js';
import { createAccessLog, type AccessLog } from '../observability/access-log.js';
import { logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { isMessage, type FromWorker, type ToWorker } from './cluster-messages.js';
import { DEFAULT_DRAIN_MS } from './shutdown.js';

/** Sends to the primary; resolves once the message is handed to the IPC channel (safe to exit after). */
function send(m: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || process.send === undefined) resolve();
    else process.send(m, undefined, {}, () => resolve());
  });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs this process as a cluster worker until the primary tells it to drain. */
export function runWorker(): void {
  let gateway: Gateway | undefined;
  let metrics: Metrics | undefined;
  let accessLog: AccessLog | undefined;
  let load: ((text: string) => ReturnType<typeof loadConfigText>) | undefined;
  let draining = false;

  const drain = async (deadlineMs: number): Promise<void> => {
    if (draining) return;
    draining = true;
    let abandoned = 0;
    if (gateway !== undefined) {
      await gateway.drain(deadlineMs);
      abandoned = gateway.inFlight;
      await gateway.close();
    }
    accessLog?.dispose();
    metrics?.dispose();
    await send({ t: 'drained', abandoned });
    process.exit(0);
  };

  const onMessage = async (m: ToWorker): Promise<void> => {
    switch (m.t) {
      case 'start': {
        try {
          const opts = { source: m.source, baseDir: m.baseDir };
          load = (text) => loadConfigText(text, opts);
          const model = load(m.text);
          metrics = createMetrics();
          accessLog = createAccessLog({ enabled: model.frontend.accessLog });
          gateway = createGateway(model, m.bindHost === undefined ? {} : { bindHost: m.bindHost });
          await gateway.start();
          await send({ t: 'ready', addresses: gateway.addresses() });
        } catch (err) {
          await send({ t: 'failed', error: errorText(err) });
          process.exit(1);
        }
        return;
      }
      case 'reload': {
        try {
          if (gateway === undefined || load === undefined) throw new Error('worker not started');
          const model = load(m.text);
          await gateway.reload(model);
          accessLog?.setEnabled(model.frontend.accessLog);
          await send({ t: 'reloaded', id: m.id });
        } catch (err) {
          await send({ t: 'reloaded', id: m.id, error: errorText(err) });
        }
        return;
      }
      case 'metrics':
        await send({ t: 'metrics', id: m.id, data: metrics === undefined ? [] : await metrics.registry.getMetricsAsJSON() });
        return;
      case 'drain':
        await drain(m.deadlineMs);
        return;
    }
  };

  process.on('message', (m: unknown) => {
    if (isMessage<ToWorker>(m)) void onMessage(m);
  });
  // A terminal Ctrl-C reaches the whole process group; only the primary decides when workers stop.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  // node's cluster makes a worker exit at once when its IPC channel closes unexpectedly (the primary died): every
  // in-flight request would be cut. Marking the disconnect as expected leaves it to the handler below, which drains.
  if (cluster.worker !== undefined) cluster.worker.exitedAfterDisconnect = true;
  process.on('disconnect', () => {
    if (!draining) logger.warn({ pid: process.pid }, 'cluster primary went away; draining this worker');
    void drain(DEFAULT_DRAIN_MS);
  });
  void send({ t: 'hello' });
}
