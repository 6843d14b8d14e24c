/**
 * Upstream connection pools: one undici `Pool` per backend origin (HTTP/1.1 keep-alive) and one pooled
 * `node:http2` session per origin (h2c prior knowledge or TLS+ALPN h2), used for gRPC and HTTP/2 clients.
 * undici 7's HTTP/2 client cannot send request trailers (client-h2.js leaves it as a TODO), which gRPC and
 * SPEC §5 need, so HTTP/2 goes through node:http2.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { Pool } from 'undici';
import { upstreamError } from './errors.js';

/** Where to connect. */
export interface UpstreamTarget {
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  /** backendTLS: skip verification or trust a custom CA (PEM). */
  readonly tls?: { readonly insecure: boolean; readonly caCert: string | undefined } | undefined;
}

/** `host:port` for messages (IPv6 literals bracketed). */
export function display(t: UpstreamTarget): string {
  return `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}

function originOf(t: UpstreamTarget): string {
  return `${t.scheme}://${display(t)}`;
}

function tlsKey(t: UpstreamTarget): string {
  return t.tls === undefined ? '' : `|${t.tls.insecure ? 'insecure' : ''}|${t.tls.caCert ?? ''}`;
}

/** The origin answered, but not as an HTTP/2 server (e.g. an HTTP/1.1-only backend given h2c). */
export class NotHttp2Error extends Error {
  constructor(origin: string, cause: unknown) {
    super(`upstream ${origin} does not speak HTTP/2`, { cause });
    this.name = 'NotHttp2Error';
  }
}

/** How long an origin that refused HTTP/2 is sent HTTP/1.1 without asking again. */
const H1_ONLY_MS = 60_000;
/** A peer that sends no HTTP/2 SETTINGS within this long is not an HTTP/2 server. */
const SETTINGS_WAIT_MS = 10_000;

/** Idle HTTP/2 sessions are closed after this long, so a gateway with changing backends doesn't leak. */
const H2_IDLE_MS = 60_000;

/** All upstream connections of one gateway. */
export class Upstreams {
  readonly #pools = new Map<string, Pool>();
  #byTarget = new WeakMap<UpstreamTarget, Pool>();
  readonly #h2 = new Map<string, Promise<http2.ClientHttp2Session>>();
  readonly #h1Agent = new http.Agent({ keepAlive: true });
  readonly #h1Only = new Map<string, number>();
  #closed = false;

  /** The keep-alive undici pool for an origin. */
  pool(t: UpstreamTarget): Pool {
    // Host backends hand in the same target object every time (pipeline.ts): no key string per request.
    const known = this.#byTarget.get(t);
    if (known !== undefined) return known;
    const key = originOf(t) + tlsKey(t);
    let p = this.#pools.get(key);
    if (p === undefined) {
      p = new Pool(originOf(t), {
        pipelining: 1,
        keepAliveTimeout: 4_000,
        // Response heads up to 64 KiB, as the server side accepts for requests (undici's default is 16 KiB).
        maxHeaderSize: 64 * 1024,
        ...(t.scheme === 'https'
          ? { connect: { rejectUnauthorized: !(t.tls?.insecure ?? false), ...(t.tls?.caCert !== undefined ? { ca: t.tls.caCert } : {}) } }
          : {}),
      });
      this.#pools.set(key, p);
    }
    this.#byTarget.set(t, p);
    return p;
  }

  /** Keep-alive agent for the rare node:http path (HTTP/1.1 request trailers). */
  get h1Agent(): http.Agent {
    return this.#h1Agent;
  }

  /** True when the origin recently showed it does not speak HTTP/2. */
  knownHttp1Only(t: UpstreamTarget): boolean {
    const until = this.#h1Only.get(originOf(t) + tlsKey(t));
    return until !== undefined && until > Date.now();
  }

  /**
   * A connected HTTP/2 session for an origin (connects on first use; reconnects after close/GOAWAY).
   * Rejects with NotHttp2Error when the peer answered without HTTP/2 SETTINGS, so the caller may fall back
   * to HTTP/1.1 (nothing of the request was sent yet).
   */
  h2Session(t: UpstreamTarget): Promise<http2.ClientHttp2Session> {
    const key = originOf(t) + tlsKey(t);
    let p = this.#h2.get(key);
    if (p === undefined) {
      const forget = (): void => {
        if (this.#h2.get(key) === created) this.#h2.delete(key);
      };
      const created = this.#connectH2(t, key, forget);
      created.catch(forget);
      this.#h2.set(key, created);
      p = created;
    }
    return p;
  }

  async #connectH2(t: UpstreamTarget, key: string, forget: () => void): Promise<http2.ClientHttp2Session> {
    if (this.#closed) throw new Error('gateway closed');
    const session = http2.connect(originOf(t), {
      ...(t.scheme === 'https'
        ? { rejectUnauthorized: !(t.tls?.insecure ?? false), ...(t.tls?.caCert !== undefined ? { ca: t.tls.caCert } : {}), ALPNProtocols: ['h2', 'http/1.1'] }
        : {}),
    }, (_s, socket) => {
      // Small gRPC/SSE frames must not wait for delayed ACKs (undici and node:http set noDelay themselves).
      socket.setNoDelay(true);
    });
    session.on('error', forget);
    session.once('close', forget);
    session.once('goaway', forget);
    session.setTimeout(H2_IDLE_MS, () => {
      forget();
      session.close();
    });
    try {
      // The server's SETTINGS frame proves an HTTP/2 peer; 'connect' alone only means TCP/TLS is up.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no HTTP/2 SETTINGS from the peer')), SETTINGS_WAIT_MS);
        const done = (err?: unknown): void => {
          clearTimeout(timer);
          session.removeListener('error', done);
          session.removeListener('close', closed);
          if (err === undefined) resolve();
          else reject(err instanceof Error ? err : new Error(String(err)));
        };
        const closed = (): void => done(new Error('connection closed before HTTP/2 SETTINGS'));
        session.once('remoteSettings', () => done());
        session.once('error', done);
        session.once('close', closed);
      });
    } catch (err) {
      session.destroy();
      const g = upstreamError(err, display(t));
      // A TLS server that refuses ALPN h2 answers with a no_application_protocol alert: HTTP/1.1-only, not down.
      const code = String((err as NodeJS.ErrnoException).code ?? '');
      if (g.code === 'upstream_connect' && !code.includes('NO_APPLICATION_PROTOCOL')) throw g;
      this.#h1Only.set(key, Date.now() + H1_ONLY_MS);
      throw new NotHttp2Error(display(t), err);
    }
    // Don't keep the process alive for an idle upstream session.
    session.unref();
    return session;
  }

  /** Closes every pool and session. */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    this.#byTarget = new WeakMap();
    const sessions = [...this.#h2.values()];
    this.#h2.clear();
    this.#h1Agent.destroy();
    await Promise.allSettled([
      ...pools.map((p) => p.destroy()),
      ...sessions.map(async (s) => (await s).destroy()),
    ]);
  }
}
