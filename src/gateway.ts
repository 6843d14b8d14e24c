/**
 * The gateway: binds (one BindServer per port), the current compiled model, upstream pools, and the
 * lifecycle (start, reload, drain, close). Requests capture the compiled model current at their arrival,
 * so a reload never changes a request in flight.
 */
import type { GatewayModel } from './config/model.js';
import type { RequestAbort } from './http/abort.js';
import type { GatewayRequest } from './http/message.js';
import { logger } from './observability/logger.js';
import { compileModel, type CompiledBind, type CompiledModel } from './pipeline/compiled.js';
import { handleRequest, type PipelineDeps } from './pipeline/pipeline.js';
import type { ExtProcStarter } from './pipeline/policy.js';
import { startExtProc } from './policies/ext-proc.js';
import { BindServer, type HostCert } from './server/listener.js';
import type { Deliver, RequestSink } from './server/respond.js';
import { Upstreams } from './upstream/dispatchers.js';

/** Options for `createGateway`. */
export interface GatewayOptions {
  /** Listen address for every bind; default `TOLLGATE_BIND_HOST` or 0.0.0.0. */
  readonly bindHost?: string;
  /** Replaces the ext_proc starter (tests, embedding). */
  readonly extProc?: ExtProcStarter;
}

/** One bound port. */
export interface BindAddress {
  readonly bind: string;
  readonly host: string;
  /** The configured port. */
  readonly configPort: number;
  /** The port actually bound (differs when the config says 0). */
  readonly port: number;
}

/** A running (or startable) gateway. */
export interface Gateway {
  /** Opens every bind; rejects if one cannot listen (nothing stays open then). */
  start(): Promise<void>;
  /** Swaps in a new model: opens new ports, drains removed ones; in-flight requests keep their model. */
  reload(model: GatewayModel): Promise<void>;
  /** Stops accepting, lets in-flight requests finish (up to `timeoutMs`), closes idle connections. */
  drain(timeoutMs: number): Promise<void>;
  /** Closes everything now. */
  close(): Promise<void>;
  /** Requests currently being handled. */
  readonly inFlight: number;
  /** The current model. */
  readonly model: GatewayModel;
  /** Bound addresses, in bind order. */
  addresses(): BindAddress[];
}

interface LiveBind {
  readonly server: BindServer;
  /** Updated on reload; requests read `holder.current` once at arrival. */
  readonly holder: { current: CompiledBind };
  readonly port: number;
  readonly tls: boolean;
}

/** Creates a gateway for `model` (nothing listens until `start()`). */
export function createGateway(model: GatewayModel, opts: GatewayOptions = {}): Gateway {
  const bindHost = opts.bindHost ?? process.env.TOLLGATE_BIND_HOST ?? '0.0.0.0';
  const deps: PipelineDeps = { upstreams: new Upstreams(), startExtProc: opts.extProc ?? startExtProc, onEnd: () => settle() };
  let compiled: CompiledModel = compileModel(model);
  const live = new Map<number, LiveBind>();
  /** Servers of removed binds, still finishing their in-flight requests. */
  const retired = new Set<BindServer>();
  let inFlight = 0;
  let idleWaiters: Array<() => void> = [];

  const settle = (): void => {
    inFlight--;
    if (inFlight === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  };

  function sinkFor(holder: { current: CompiledBind }): RequestSink {
    return {
      handle<T>(req: GatewayRequest, abort: RequestAbort, deliver: Deliver<T>, target: T): void {
        inFlight++;
        // handleRequest never throws; the exchange calls deps.onEnd (settle) exactly once when it ends.
        handleRequest(deps, holder.current, req, abort, deliver, target);
      },
    };
  }

  function certsOf(cb: CompiledBind): HostCert[] {
    const out: HostCert[] = [];
    for (const l of cb.bind.listeners) if (l.tls !== undefined) out.push({ hostname: l.hostname, tls: l.tls });
    return out;
  }

  async function open(cb: CompiledBind): Promise<LiveBind> {
    const certs = certsOf(cb);
    const holder = { current: cb };
    const server = new BindServer({ host: bindHost, port: cb.bind.port, certs, sink: sinkFor(holder), name: cb.bind.key });
    const port = await server.listen();
    return { server, holder, port, tls: certs.length > 0 };
  }

  function retire(lb: LiveBind): void {
    lb.server.drain();
    retired.add(lb.server);
  }

  function waitIdle(timeoutMs: number): Promise<void> {
    if (inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  return {
    async start() {
      try {
        for (const cb of compiled.binds.values()) live.set(cb.bind.port, await open(cb));
      } catch (err) {
        for (const lb of live.values()) lb.server.destroy();
        live.clear();
        throw err;
      }
    },

    async reload(next) {
      const nextCompiled = compileModel(next);
      const opened: LiveBind[] = [];
      try {
        for (const [port, cb] of nextCompiled.binds) {
          const lb = live.get(port);
          const certs = certsOf(cb);
          if (lb !== undefined && lb.tls === certs.length > 0) {
            if (certs.length > 0 && lb.server.certsChanged(certs)) lb.server.updateCerts(certs);
            continue;
          }
          if (lb !== undefined) {
            // Plaintext ⇄ TLS on one port: the old socket must stop listening before the new one can.
            retire(lb);
            live.delete(port);
          }
          opened.push(await open(cb));
        }
      } catch (err) {
        for (const lb of opened) lb.server.destroy();
        throw err;
      }
      compiled = nextCompiled;
      for (const lb of opened) live.set(lb.holder.current.bind.port, lb);
      for (const [port, lb] of live) {
        const cb = nextCompiled.binds.get(port);
        if (cb === undefined) {
          retire(lb);
          live.delete(port);
          logger.info({ port }, 'bind removed; draining its connections');
        } else lb.holder.current = cb;
      }
    },

    async drain(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const servers = [...[...live.values()].map((lb) => lb.server), ...retired];
      for (const server of servers) server.drain();
      await waitIdle(timeoutMs);
      // Every response is complete, but an HTTP/2 stream's last frames may still be queued in its session: let
      // the sessions (GOAWAY sent by drain) flush and close before close() destroys what is left.
      const left = deadline - Date.now();
      await Promise.all(servers.map((server) => server.h2Flushed(left)));
    },

    async close() {
      for (const lb of live.values()) lb.server.destroy();
      for (const server of retired) server.destroy();
      live.clear();
      retired.clear();
      await deps.upstreams.close();
    },

    get inFlight() {
      return inFlight;
    },

    get model() {
      return compiled.model;
    },

    addresses() {
      return [...live.values()].map((lb) => ({
        bind: lb.holder.current.bind.key,
        host: bindHost,
        configPort: lb.holder.current.bind.port,
        port: lb.port,
      }));
    },
  };
}
