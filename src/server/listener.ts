/**
 * One server per bind port speaking HTTP/1.1 and HTTP/2. Plaintext: the first bytes are sniffed for the
 * HTTP/2 connection preface (h2c prior knowledge) and the socket is handed to an internal `http2` or
 * `http` server. TLS: ALPN picks `h2` or `http/1.1`. Node's `allowHTTP1` only exists for TLS, hence this.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { ServerTls } from '../config/model.js';
import { logger } from '../observability/logger.js';
import { hostnameMatches } from '../routing/match.js';
import { serveUpgrade, type UpgradeHooks } from './upgrade.js';
import { serveHttp1, type Http1Hooks } from './http1.js';
import { publishRejected, type Rejection } from './rejected.js';
import { serveHttp2 } from './http2.js';
import type { RequestSink } from './respond.js';

/**
 * Largest request head accepted on HTTP/1.1 (node's default is 16 KiB): 64 KiB, about Envoy's 60 KiB default and
 * HTTP/2's default header list limit here, so large cookies or tokens that pass Envoy pass here too.
 */
const MAX_HEADER_BYTES = 64 * 1024;

/** How long a new plaintext connection may stay silent before its first bytes. */
const SNIFF_TIMEOUT_MS = 30_000;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function tlsOptions(t: ServerTls): tls.SecureContextOptions & { ALPNProtocols: string[] } {
  return { cert: t.cert, key: t.key.reveal(), ALPNProtocols: ['h2', 'http/1.1'] };
}

/** In-flight HTTP/1.1 requests of a socket, kept on the socket (cheaper than a Map lookup per request). */
const kInFlight = Symbol('tollgate.inFlight');
interface CountedSocket extends net.Socket {
  [kInFlight]?: number;
}

/** In-flight HTTP/1.1 requests on `socket`; one at 0 is idle keep-alive and may be closed on drain. */
function inFlight(socket: net.Socket): number {
  return (socket as CountedSocket)[kInFlight] ?? 0;
}

/** A certificate and the listener hostname it serves (undefined = any name). */
export interface HostCert {
  readonly hostname: string | undefined;
  readonly tls: ServerTls;
}

/** How the bind serves: plaintext (no certs) or TLS, choosing the certificate by SNI. */
export interface BindServerOptions {
  readonly host: string;
  readonly port: number;
  /** Empty for plaintext; otherwise the first entry is the default certificate. */
  readonly certs: readonly HostCert[];
  readonly sink: RequestSink;
  /** The bind's name in logs and metrics of refused requests (default `bind/<port>`). */
  readonly name?: string;
  /** Time a client has to send a complete HTTP/1.1 request head (default 60 s, node's); then 408. */
  readonly headersTimeoutMs?: number;
}

/** A stable fingerprint of the certificate set, to detect changes on reload. */
function certsKey(certs: readonly HostCert[]): string {
  return certs.map((c) => `${c.hostname ?? '*'}\n${c.tls.cert}`).join('\n--\n');
}

/** A listening socket for one bind port, with both protocols behind it. */
export class BindServer {
  readonly port: number;
  readonly host: string;
  readonly #outer: net.Server;
  readonly #h1: http.Server;
  readonly #h2: http2.Http2Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #h2Sockets = new WeakSet<net.Socket>();
  #draining = false;
  #certsKey: string;
  #contexts: { hostname: string | undefined; ctx: tls.SecureContext }[] = [];

  constructor(opts: BindServerOptions) {
    this.port = opts.port;
    this.host = opts.host;
    const scheme = opts.certs.length === 0 ? 'http' : 'https';
    const name = opts.name ?? `bind/${opts.port}`;
    this.#certsKey = certsKey(opts.certs);
    const sink = opts.sink;
    // requestTimeout 0: uploads and downloads may stream for a long time; idle limits are the policies' job.
    // requireHostHeader off: http1-request.ts refuses a missing Host itself, with a reason, logged (node's 400 is neither).
    const headersTimeout = opts.headersTimeoutMs ?? 60_000;
    const hooks: Http1Hooks = {
      draining: () => this.#draining,
      rejected: (socket, r) => publishRejected(name, socket, r),
      released: (socket) => {
        const n = inFlight(socket) - 1;
        (socket as CountedSocket)[kInFlight] = n;
        if (n === 0 && this.#draining) socket.end();
      },
    };
    this.#h1 = http.createServer({ requestTimeout: 0, requireHostHeader: false, headersTimeout, keepAliveTimeout: 5_000, connectionsCheckingInterval: Math.min(30_000, Math.max(100, headersTimeout / 4)), maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
      const socket = req.socket as CountedSocket;
      socket[kInFlight] = inFlight(socket) + 1;
      serveHttp1(req, res, sink, scheme, hooks);
    });
    // This server never listens itself (sockets are handed to it), but node only tracks connections, and so
    // enforces headersTimeout (slow-header clients) and closeIdleConnections, once 'listening' fired.
    this.#h1.emit('listening');
    /** Answers a refused request and closes its connection; it is logged and counted (rejected.ts). */
    const refuse = (socket: net.Socket, status: number, statusText: string, body: string, r: Omit<Rejection, 'status'>): void => {
      socket.end(`HTTP/1.1 ${status} ${statusText}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      publishRejected(name, socket, { ...r, status });
    };
    this.#h1.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && socket.writable) {
        refuse(socket, 408, 'Request Timeout', 'request timeout\n', { reason: `request head not complete within ${headersTimeout}ms` });
      } else if (err.code === 'HPE_HEADER_OVERFLOW' && socket.writable) {
        // As HTTP/2 (and Envoy) answer it: 431, not a generic 400.
        refuse(socket, 431, 'Request Header Fields Too Large', `request headers larger than ${MAX_HEADER_BYTES} bytes\n`, { reason: `request headers larger than ${MAX_HEADER_BYTES} bytes` });
      } else if (socket.writable && err.code !== 'ECONNRESET') {
        // node's parser message and code (e.g. "Parse Error: Invalid header value char", HPE_INVALID_HEADER_TOKEN),
        // never the raw bytes (`err.rawPacket`), which may hold credentials.
        refuse(socket, 400, 'Bad Request', 'bad request\n', { reason: `malformed request: ${err.message}${err.code === undefined ? '' : ` (${err.code})`}` });
      } else socket.destroy();
    });
    // Upgrades (WebSocket, …) are tunnelled to the upstream when it answers 101 (upgrade.ts).
    // The connection counts as busy for good: a drain leaves a tunnel open until its deadline, as a request in flight.
    const upgradeHooks: UpgradeHooks = {
      rejected: hooks.rejected,
      decline: (socket, bytes) => {
        (socket as CountedSocket)[kInFlight] = inFlight(socket) - 1;
        // node's parser let go of the connection at the upgrade; a fresh one reads it again from these bytes.
        socket.unshift(bytes);
        this.#h1.emit('connection', socket);
      },
    };
    this.#h1.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      (socket as CountedSocket)[kInFlight] = inFlight(socket) + 1;
      serveUpgrade(req, socket, head, sink, scheme, upgradeHooks);
    });
    // CONNECT (tunnels) is not supported: say so, rather than node's silent close.
    this.#h1.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      refuse(socket, 501, 'Not Implemented', 'CONNECT is not supported\n', { reason: 'CONNECT is not supported', method: 'CONNECT', path: req.url });
    });
    this.#h2 = http2.createServer({ maxSessionMemory: 64 });
    this.#h2.on('stream', (stream, headers, flags) => serveHttp2(stream, headers, flags, sink, scheme));
    this.#h2.on('session', (s: http2.ServerHttp2Session) => {
      this.#sessions.add(s);
      s.once('close', () => this.#sessions.delete(s));
      s.on('error', () => undefined);
      if (this.#draining) s.close();
    });
    this.#h2.on('sessionError', () => undefined);
    if (opts.certs.length === 0) {
      // noDelay: small writes (SSE tokens, gRPC messages) must not wait on the peer's delayed ACK (Nagle).
      this.#outer = net.createServer({ noDelay: true }, (socket) => this.#track(socket) && this.#sniff(socket));
    } else {
      this.#setContexts(opts.certs);
      this.#outer = tls.createServer({
        ...tlsOptions(opts.certs[0]!.tls),
        noDelay: true,
        SNICallback: (servername, cb) => cb(null, this.#contextFor(servername)),
      });
      this.#outer.on('secureConnection', (socket: tls.TLSSocket) => {
        // The accepted TCP socket got noDelay from the server options; set it on the TLS wrapper too.
        socket.setNoDelay(true);
        this.#track(socket);
        if (socket.alpnProtocol === 'h2') this.#h2Sockets.add(socket);
        (socket.alpnProtocol === 'h2' ? this.#h2 : this.#h1).emit('connection', socket);
      });
      this.#outer.on('tlsClientError', () => undefined);
    }
    this.#outer.on('error', (err) => logger.error({ err, port: this.port }, 'bind server error'));
  }

  #setContexts(certs: readonly HostCert[]): void {
    this.#contexts = certs.map((c) => ({ hostname: c.hostname?.toLowerCase(), ctx: tls.createSecureContext(tlsOptions(c.tls)) }));
  }

  /** SNI: exact listener hostname, then the longest matching wildcard, then the default (first) cert. */
  #contextFor(servername: string): tls.SecureContext | undefined {
    const name = servername.toLowerCase();
    let best: tls.SecureContext | undefined;
    let bestLen = -1;
    for (const c of this.#contexts) {
      if (c.hostname === name) return c.ctx;
      if (c.hostname?.startsWith('*.') === true && hostnameMatches(c.hostname, name) && c.hostname.length > bestLen) {
        best = c.ctx;
        bestLen = c.hostname.length;
      }
    }
    return best ?? this.#contexts[0]?.ctx;
  }

  /** True when the certificates differ from the ones this server uses. */
  certsChanged(certs: readonly HostCert[]): boolean {
    return certsKey(certs) !== this.#certsKey;
  }

  /** Swaps the certificates on a TLS bind (new connections use them). */
  updateCerts(certs: readonly HostCert[]): void {
    if (this.#outer instanceof tls.Server && certs.length > 0) {
      this.#setContexts(certs);
      this.#outer.setSecureContext(tlsOptions(certs[0]!.tls));
      this.#certsKey = certsKey(certs);
    }
  }

  #track(socket: net.Socket): true {
    if (!this.#sockets.has(socket)) {
      this.#sockets.add(socket);
      socket.once('close', () => {
        this.#sockets.delete(socket);
      });
      socket.on('error', () => undefined);
    }
    return true;
  }

  /** Reads until the bytes either diverge from the h2 preface or complete it, then hands the socket over. */
  #sniff(socket: net.Socket): void {
    let seen: Buffer = Buffer.alloc(0);
    // A connection that never says anything must not be held open forever.
    const silent = (): void => void socket.destroy();
    socket.setTimeout(SNIFF_TIMEOUT_MS, silent);
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && seen.length < PREFACE.length) return;
      socket.removeListener('data', onData);
      socket.setTimeout(0);
      socket.removeListener('timeout', silent);
      socket.pause();
      socket.unshift(seen);
      if (isH2) this.#h2Sockets.add(socket);
      (isH2 ? this.#h2 : this.#h1).emit('connection', socket);
      process.nextTick(() => socket.resume());
    };
    socket.on('data', onData);
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#outer.once('error', onError);
      this.#outer.listen(this.port, this.host, () => {
        this.#outer.removeListener('error', onError);
        const a = this.#outer.address();
        resolve(typeof a === 'object' && a !== null ? a.port : this.port);
      });
    });
  }

  /** The bound address, once listening. */
  address(): net.AddressInfo | undefined {
    const a = this.#outer.address();
    return typeof a === 'object' && a !== null ? a : undefined;
  }

  /** Stops accepting, asks HTTP/2 peers to go away (GOAWAY) and closes idle HTTP/1.1 keep-alive sockets. */
  drain(): void {
    this.#draining = true;
    this.#outer.close();
    for (const s of this.#sessions) s.close();
    for (const socket of this.#sockets) {
      if (!this.#h2Sockets.has(socket) && inFlight(socket) === 0) socket.destroy();
    }
  }

  /**
   * Resolves when every HTTP/2 connection has finished writing, or after `timeoutMs`. After `drain()` each session
   * got GOAWAY and closes gracefully once its last stream closed: the stream's final frames (END_STREAM, trailers)
   * and the GOAWAY are flushed, then the socket is ended. A response counts as done as soon as its END_STREAM is
   * queued, so destroying sessions right after the last request ended would cut that frame off.
   */
  h2Flushed(timeoutMs: number): Promise<void> {
    const pending: net.Socket[] = [];
    for (const socket of this.#sockets) {
      if (this.#h2Sockets.has(socket) && !socket.destroyed && !socket.writableFinished) pending.push(socket);
    }
    if (pending.length === 0 || timeoutMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      let left = pending.length;
      const timer = setTimeout(resolve, timeoutMs);
      const one = (): void => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const socket of pending) {
        let counted = false;
        const settle = (): void => {
          if (counted) return;
          counted = true;
          socket.removeListener('finish', settle);
          socket.removeListener('close', settle);
          one();
        };
        socket.once('finish', settle);
        socket.once('close', settle);
      }
    });
  }

  /** Number of open client sockets. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Closes everything now. */
  destroy(): void {
    this.#draining = true;
    this.#outer.close();
    // Stops node's connection-checking interval of the inner HTTP/1.1 server.
    this.#h1.close();
    for (const s of this.#sessions) s.destroy();
    for (const s of this.#sockets) s.destroy();
  }
}
