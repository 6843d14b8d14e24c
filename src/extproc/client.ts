/**
 * The ext_proc transports and the process-wide registry that hands out one client per processor target. Both
 * transports share one HTTP/2 connection per processor and open one stream per `open`:
 * - `WireProcessorClient` (the default) speaks HTTP/2 itself on a socket (src/extproc/wire/);
 * - `H2ProcessorClient` uses node:http2. `TOLLGATE_EXTPROC_TRANSPORT=node-http2` selects it.
 */
import type { ProcessorTarget } from '../config/model.js';
import type { OpenOptions, ProcessorClient, ProcessorStream, StreamHandlers } from './transport.js';
import { DEFAULT_MAX_RECEIVE_BYTES } from './grpc-framing.js';
import { H2Call } from './h2-call.js';
import { H2Connection, type ConnectionOptions } from './h2-session.js';
import { WireLink } from './wire/link.js';
import { WireCall, type WireCallConfig } from './wire/call.js';
import { encodeIndexedStatic, encodeLiteral, encodeLiteralIndexedName } from './wire/hpack.js';
import { PROCESS_PATH, USER_AGENT } from './call-metadata.js';
import net from 'node:net';
import { domainToASCII } from 'node:url';

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

/**
 * The request headers every call to `t` sends, HPACK-encoded once. It starts with a dynamic table size update to 0:
 * we never index what we send, and saying so keeps decoders that shrank their table (nghttp2 expects the update
 * then) satisfied without tracking the peer's SETTINGS_HEADER_TABLE_SIZE.
 */
export function requestHeaderBlock(t: ProcessorTarget): Buffer {
  const ascii = asciiHost(t.host);
  const host = net.isIPv6(ascii) ? `[${ascii}]` : ascii;
  return Buffer.concat([
    Buffer.from([0x20]),
    encodeIndexedStatic(':method', 'POST')!,
    encodeIndexedStatic(':scheme', t.scheme)!,
    encodeLiteralIndexedName(':path', PROCESS_PATH),
    encodeLiteralIndexedName(':authority', `${host}:${t.port}`),
    encodeLiteralIndexedName('content-type', 'application/grpc'),
    encodeLiteral('te', 'trailers'),
    encodeLiteralIndexedName('user-agent', USER_AGENT),
  ]);
}

/**
 * The host as it goes on the wire: an IP as written, a name lowercased and in its ASCII (punycode) form, as
 * node's URL handling gives the node:http2 transport. A name with no ASCII form is kept (the dial then fails).
 */
export function asciiHost(host: string): string {
  if (net.isIP(host)) return host;
  return domainToASCII(host.toLowerCase()) || host;
}

/** A ProcessorClient on tollgate's own HTTP/2 framing over one lazily dialed socket (h2c, or TLS with ALPN h2). */
export class WireProcessorClient implements ProcessorClient {
  readonly #link: WireLink;
  readonly #config: WireCallConfig;

  constructor(target: ProcessorTarget, opts: ClientOptions = {}) {
    this.#link = new WireLink({ ...target, host: asciiHost(target.host) }, opts);
    let headerBlock: Buffer | undefined;
    try {
      headerBlock = requestHeaderBlock(target);
    } catch {
      headerBlock = undefined; // a host that cannot go in a header: every call ends `connect` (WireCall says why)
    }
    this.#config = { maxReceiveBytes: opts.maxReceiveBytes ?? DEFAULT_MAX_RECEIVE_BYTES, display: target.display, headerBlock };
  }

  /** Opens a Process call; never throws (failures arrive through `handlers.onEnd`). */
  open(handlers: StreamHandlers, options?: OpenOptions): ProcessorStream {
    return new WireCall(this.#link, handlers, this.#config, options);
  }

  /** Closes the connection (in-flight calls finish unless `force`). */
  close(force = false): Promise<void> {
    return this.#link.close(force);
  }
}

/** The transports, by the name `TOLLGATE_EXTPROC_TRANSPORT` takes. */
export const TRANSPORTS = {
  wire: WireProcessorClient,
  'node-http2': H2ProcessorClient,
} as const;
export type TransportName = keyof typeof TRANSPORTS;

/** The transport the registry uses: `TOLLGATE_EXTPROC_TRANSPORT`, default `wire`. */
export function selectedTransport(env: NodeJS.ProcessEnv = process.env): TransportName {
  const v = env.TOLLGATE_EXTPROC_TRANSPORT;
  if (v === undefined || v === '') return 'wire';
  if (Object.hasOwn(TRANSPORTS, v)) return v as TransportName;
  throw new Error(`TOLLGATE_EXTPROC_TRANSPORT must be one of ${Object.keys(TRANSPORTS).join(', ')}, not "${v}"`);
}

/** The registry key: everything that makes two targets need different connections. */
export function targetKey(t: ProcessorTarget): string {
  const tls = t.scheme === 'https' ? `|insecure=${t.tls?.insecure ?? false}|ca=${t.tls?.caCert ?? ''}` : '';
  return `${t.scheme}://${t.host.toLowerCase()}:${t.port}${tls}`;
}

const registry = new Map<string, ProcessorClient>();
/**
 * The client of each target object: config targets are frozen and live as long as their model, so a request
 * finds its client without building the key string. Replaced (not cleared: a WeakMap cannot be) on close.
 */
let byTarget = new WeakMap<ProcessorTarget, ProcessorClient>();

/** Returns the shared client for a processor target (created on first use; it dials on the first `open`). */
export function getProcessorClient(target: ProcessorTarget): ProcessorClient {
  let c = byTarget.get(target);
  if (c !== undefined) return c;
  const key = targetKey(target);
  c = registry.get(key);
  if (!c) {
    c = new TRANSPORTS[selectedTransport()](target);
    registry.set(key, c);
  }
  byTarget.set(target, c);
  return c;
}

/** Closes and forgets every shared client (gateway shutdown, tests). */
export async function closeAllProcessorClients(force = false): Promise<void> {
  const all = [...registry.values()];
  registry.clear();
  byTarget = new WeakMap();
  await Promise.all(all.map((c) => c.close(force)));
}
