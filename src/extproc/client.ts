/**
 * The ext_proc transport: `ProcessorClient` on raw node:http2 (one shared HTTP/2 connection per processor, one
 * stream per `open`), and the process-wide registry that hands out one client per processor target.
 */
import type { ProcessorTarget } from '../config/model.js';
import type { OpenOptions, ProcessorClient, ProcessorStream, StreamHandlers } from './transport.js';
import { DEFAULT_MAX_RECEIVE_BYTES } from './grpc-framing.js';
import { H2Call } from './h2-call.js';
import { H2Connection, type ConnectionOptions } from './h2-session.js';

/** Options for a processor client. */
export interface ClientOptions extends ConnectionOptions {
  /** Largest ProcessingResponse accepted; a bigger one resets the call (default 64 MiB). */
  readonly maxReceiveBytes?: number;
}

/** A ProcessorClient over one lazily dialed HTTP/2 connection (h2c prior knowledge, or TLS with ALPN h2). */
export class H2ProcessorClient implements ProcessorClient {
  readonly #conn: H2Connection;
  readonly #limits: { maxReceiveBytes: number; display: string };

  constructor(target: ProcessorTarget, opts: ClientOptions = {}) {
    this.#conn = new H2Connection(target, opts);
    this.#limits = { maxReceiveBytes: opts.maxReceiveBytes ?? DEFAULT_MAX_RECEIVE_BYTES, display: target.display };
  }

  /** Opens a Process call; never throws (failures arrive through `handlers.onEnd`). */
  open(handlers: StreamHandlers, options?: OpenOptions): ProcessorStream {
    return new H2Call(this.#conn, handlers, this.#limits, options);
  }

  /** Closes the connection (in-flight calls finish unless `force`). */
  close(force = false): Promise<void> {
    return this.#conn.close(force);
  }
}

/** The registry key: everything that makes two targets need different connections. */
export function targetKey(t: ProcessorTarget): string {
  const tls = t.scheme === 'https' ? `|insecure=${t.tls?.insecure ?? false}|ca=${t.tls?.caCert ?? ''}` : '';
  return `${t.scheme}://${t.host.toLowerCase()}:${t.port}${tls}`;
}

const registry = new Map<string, H2ProcessorClient>();

/** Returns the shared client for a processor target (created on first use; it dials on the first `open`). */
export function getProcessorClient(target: ProcessorTarget): ProcessorClient {
  const key = targetKey(target);
  let c = registry.get(key);
  if (!c) {
    c = new H2ProcessorClient(target);
    registry.set(key, c);
  }
  return c;
}

/** Closes and forgets every shared client (gateway shutdown, tests). */
export async function closeAllProcessorClients(force = false): Promise<void> {
  const all = [...registry.values()];
  registry.clear();
  await Promise.all(all.map((c) => c.close(force)));
}
