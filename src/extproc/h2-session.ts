/**
 * One shared HTTP/2 connection to one ext_proc processor: dialed lazily, replaced when it dies or gets GOAWAY, and
 * redialed with a capped exponential backoff after connect failures. While backing off, callers get an immediate
 * "unavailable" answer instead of waiting (a request must never hang on a dead processor).
 */
import http2 from 'node:http2';
import net from 'node:net';
import type { ProcessorTarget } from '../config/model.js';
import { CONNECTION_DEFAULTS, Redial } from './redial.js';

/** Tunables for a processor connection (defaults suit production; tests may shorten them). */
export interface ConnectionOptions {
  /** First backoff after a failed dial (ms). */
  readonly backoffBaseMs?: number;
  /** Backoff cap (ms); kept short so a restarted processor is used again quickly. */
  readonly backoffMaxMs?: number;
  /** A dial that has not connected by then fails (ms). */
  readonly connectTimeoutMs?: number;
  /** Before using a connection that has been quiet this long, check it with a PING (ms). */
  readonly idlePingAfterMs?: number;
  /** A PING not answered within this is a dead connection: it is destroyed and the next open redials (ms). */
  readonly pingTimeoutMs?: number;
}

/** The result of asking for a session: a usable one, or why not (fail fast). */
export type Acquired =
  | { readonly ok: true; readonly session: http2.ClientHttp2Session }
  | { readonly ok: false; readonly message: string };


/** Builds the URL authority for node's http2.connect (brackets IPv6 literals). */
function authorityOf(t: ProcessorTarget): string {
  const host = net.isIPv6(t.host) ? `[${t.host}]` : t.host;
  return `${t.scheme}://${host}:${t.port}`;
}

/** Manages the single HTTP/2 session to a processor target. */
export class H2Connection {
  readonly #target: ProcessorTarget;
  readonly #opts: typeof CONNECTION_DEFAULTS;
  readonly #redial: Redial;
  #session: http2.ClientHttp2Session | undefined;
  #connected = false;
  #active = 0;
  #lastTraffic = 0;
  #pinging = false;
  #closed = false;

  constructor(target: ProcessorTarget, opts: ConnectionOptions = {}) {
    this.#target = target;
    this.#opts = { ...CONNECTION_DEFAULTS, ...opts };
    this.#redial = new Redial(this.#opts.backoffBaseMs, this.#opts.backoffMaxMs);
  }

  /** Returns the live session (dialing one if needed), or a fail-fast reason while backing off or closed. */
  acquire(): Acquired {
    if (this.#closed) return { ok: false, message: `the client for processor ${this.#target.display} is closed` };
    const s = this.#session;
    if (s && !s.closed && !s.destroyed) {
      if (this.#connected && Date.now() - this.#lastTraffic >= this.#opts.idlePingAfterMs) this.#checkAlive(s);
      return { ok: true, session: s };
    }
    const blocked = this.#redial.blocked(this.#target.display);
    if (blocked !== undefined) return { ok: false, message: blocked };
    return { ok: true, session: this.#dial() };
  }

  /** Records that the processor sent something (the connection is alive). */
  sawTraffic(): void {
    this.#lastTraffic = Date.now();
  }

  /** Counts streams so an idle connection does not keep the process alive. */
  streamStarted(): void {
    if (this.#active++ === 0) this.#session?.ref();
  }

  /** Pairs with streamStarted. */
  streamEnded(): void {
    if (--this.#active === 0) this.#session?.unref();
  }

  /** Closes the connection: gracefully (after in-flight streams) or at once. */
  async close(force = false): Promise<void> {
    this.#closed = true;
    const s = this.#session;
    this.#session = undefined;
    if (!s || s.destroyed) return;
    if (force) {
      s.destroy();
      return;
    }
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  #dial(): http2.ClientHttp2Session {
    const t = this.#target;
    const options: http2.SecureClientSessionOptions = {
      // Many concurrent exchanges share this connection; nghttp2's default 10 MB cap would refuse streams under load.
      maxSessionMemory: 128,
      settings: { initialWindowSize: 1 << 20, enablePush: false },
    };
    if (t.scheme === 'https') {
      options.ALPNProtocols = ['h2'];
      if (t.tls?.insecure) options.rejectUnauthorized = false;
      if (t.tls?.caCert) options.ca = t.tls.caCert;
      if (!net.isIP(t.host)) options.servername = t.host;
    }
    const s = http2.connect(authorityOf(t), options);
    this.#session = s;
    this.#connected = false;
    if (this.#active === 0) s.unref();
    const timer = setTimeout(() => {
      if (!this.#connected || this.#session !== s) s.destroy(new Error(`connect timed out after ${this.#opts.connectTimeoutMs} ms`));
    }, this.#opts.connectTimeoutMs);
    timer.unref();
    s.once('connect', () => {
      clearTimeout(timer);
      if (this.#session !== s) return;
      this.#connected = true;
      this.#lastTraffic = Date.now();
      this.#redial.succeeded();
      // A larger connection window lets big bodies on many streams flow without waiting on WINDOW_UPDATEs.
      try { s.setLocalWindowSize(16 << 20); } catch { /* session already closing */ }
    });
    s.on('error', (err: Error) => {
      if (this.#session !== s) return;
      this.#redial.lastError = err.message;
      if (!this.#connected) {
        this.#session = undefined;
        this.#redial.failed();
      }
    });
    s.on('goaway', () => {
      // Streams already accepted finish on the old session; new ones dial a new connection.
      if (this.#session === s) this.#session = undefined;
      if (!s.closed) s.close();
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (this.#session !== s) return;
      this.#session = undefined;
      if (!this.#connected) this.#redial.failed();
    });
    // Streams report their own frame errors; a listener keeps node from treating them as unhandled.
    s.on('frameError', () => {});
    return s;
  }

  /**
   * A connection that has been quiet may be half-open (processor host gone without a FIN): PING it before relying
   * on it. Only after idleness, so gRPC servers' ping-abuse limits (too_many_pings) are not hit.
   */
  #checkAlive(s: http2.ClientHttp2Session): void {
    if (this.#pinging) return;
    this.#pinging = true;
    this.#lastTraffic = Date.now();
    const timer = setTimeout(() => {
      this.#pinging = false;
      if (this.#session === s) this.#session = undefined;
      s.destroy(new Error(`the processor did not answer an HTTP/2 PING within ${this.#opts.pingTimeoutMs} ms`));
    }, this.#opts.pingTimeoutMs);
    timer.unref();
    try {
      s.ping((err) => {
        clearTimeout(timer);
        this.#pinging = false;
        if (!err) this.#lastTraffic = Date.now();
      });
    } catch {
      clearTimeout(timer);
      this.#pinging = false;
    }
  }
}
