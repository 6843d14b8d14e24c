/**
 * An HTTP/1.1 upgrade request (WebSocket and any other `Upgrade` protocol) to the upstream, over node:http(s): a new
 * connection per upgrade, never pooled, since a 101 hands the connection over to the switched protocol for good.
 * The 101 resolves as a response with a `tunnel` (the upstream's connection and the bytes that followed its head);
 * any other answer resolves as a plain response, body streamed, and the request was just not upgraded.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { HeaderList } from '../http/headers.js';
import { headersFromRaw } from '../http/hop-by-hop.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import type { UpstreamTarget } from './dispatchers.js';
import { upstreamError } from './errors.js';
import { fromNodeResponse } from './forward-node-h1.js';

/**
 * Sends the upgrade request with `headers` (hop-by-hop already stripped; `Connection: upgrade` and `Upgrade` are
 * added back here). `signal` cancels it until the upstream answered, and only until then: a tunnel outlives the
 * request's deadline, and its end is the tunnel's business (server/upgrade.ts).
 */
export function forwardUpgrade(target: UpstreamTarget, req: GatewayRequest, headers: HeaderList, upstream: string, signal: AbortSignal): Promise<GatewayResponse> {
  return new Promise<GatewayResponse>((resolve, reject) => {
    const flat = headers.toFlat();
    const options: https.RequestOptions = {
      host: target.host,
      port: target.port,
      method: req.method,
      path: req.path,
      agent: false,
      setHost: false,
      maxHeaderSize: 64 * 1024,
      ...(target.scheme === 'https'
        ? {
            rejectUnauthorized: !(target.tls?.insecure ?? false),
            ...(target.tls?.caCert !== undefined ? { ca: target.tls.caCert } : {}),
            // SNI carries host names only (RFC 6066 §3).
            ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
          }
        : {}),
    };
    const out = (target.scheme === 'https' ? https : http).request(options);
    for (let i = 0; i + 1 < flat.length; i += 2) out.appendHeader(flat[i]!, flat[i + 1]!);
    // The protocol as the request now says it (a processor may have changed it), else as the client asked.
    const upgrade = req.upgrade!;
    const protocol = headers.get('upgrade') ?? upgrade.protocol;
    out.setHeader('connection', 'upgrade');
    out.setHeader('upgrade', protocol);
    let settled = false;
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      out.destroy();
      reject(upstreamError(signal.reason, upstream));
    };
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      return true;
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    out.on('error', (err) => {
      if (settle()) reject(upstreamError(err, upstream));
    });
    out.once('upgrade', (inc: http.IncomingMessage, socket: Socket, head: Buffer) => {
      // From here the connection is the gateway's alone: its errors must never go unhandled, and its end is kept
      // (not answered with an automatic close) until the tunnel passes it on, however long a processor takes.
      socket.on('error', () => undefined);
      socket.allowHalfOpen = true;
      // node's client leaves it flowing with no 'data' listener: what arrives before the tunnel listens (bytes, or
      // the upstream's FIN) would be emitted to nobody. Paused, it waits in the buffer.
      socket.pause();
      if (!settle()) {
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      const switched = inc.headers.upgrade ?? protocol;
      const h = headersFromRaw(inc.rawHeaders);
      // Hop-by-hop, so stripped above, but they are what the client's 101 must say.
      h.set('connection', 'upgrade');
      h.set('upgrade', switched);
      const tunnel = { socket, protocol: switched, head };
      // Held on the request until delivered: a processor may replace the 101, and then nobody else would close it.
      upgrade.tunnel = tunnel;
      resolve({ status: 101, headers: h, body: null, tunnel });
    });
    out.once('response', (inc) => {
      if (!settle()) {
        inc.destroy();
        return;
      }
      // Not upgraded: an ordinary answer (401, 426, …), passed on as such. Until its body ended, the request's
      // abort (client gone, deadline) still cancels it, or a stalled upstream would hold the exchange forever.
      const cancel = (): void => {
        inc.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal.addEventListener('abort', cancel, { once: true });
      inc.once('close', () => signal.removeEventListener('abort', cancel));
      resolve(fromNodeResponse(inc, req.method, upstream));
    });
    // An upgrade request carries no body of its own: what the client sends next belongs to the new protocol.
    out.end();
  });
}
