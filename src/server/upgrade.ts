/**
 * HTTP/1.1 upgrade requests (WebSocket, and any other protocol a client names in `Upgrade`). The request goes
 * through the pipeline like any other, with no body (what follows its head belongs to the new protocol): listener,
 * route, policies, and ext_proc's header phases, whose processors see the request's headers and the upstream's
 * 101 and may refuse either. A 101 from the upstream joins the two connections into a tunnel, bytes copied both
 * ways untouched, until either side closes; any other answer goes to the client as it is, and the connection
 * closes after it (it was never going to carry another HTTP request: the client asked to leave HTTP).
 *
 * node's server hands an upgrade request over with the raw socket and no ServerResponse, so the response head is
 * written here.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayError } from '../errors.js';
import { RequestAbort } from '../http/abort.js';
import type { HeaderList } from '../http/headers.js';
import type { GatewayResponse, Tunnel, UpgradeRequest } from '../http/message.js';
import { fromHttp1, refusalOf } from './http1-request.js';
import type { Rejection } from './rejected.js';
import { clientClosed, textResponse, waitWritable, type HandledResponse, type RequestSink } from './respond.js';

/** What the upgrade path needs from its server. */
export interface UpgradeHooks {
  /** A request refused before it became an exchange (rejected.ts). */
  rejected(socket: Socket, r: Rejection): void;
  /**
   * Serves the connection as plain HTTP/1.1 again, starting with `bytes` (a request head and what followed it):
   * for an upgrade this module declines, so that request is answered as the ordinary request it also is.
   */
  decline(socket: Socket, bytes: Buffer): void;
}

/** One upgrade request's client side, until its response is delivered. */
interface UpgradeTarget {
  readonly socket: Socket;
  /** Bytes the client sent after the request head (the new protocol's first bytes, if it did not wait for 101). */
  readonly head: Buffer;
  readonly upgrade: UpgradeRequest;
  readonly method: string;
  readonly onClose: () => void;
}

/** How long a tunnel's connections may be silent before TCP keepalive probes ask whether the peer is still there. */
const KEEPALIVE_MS = 60_000;

/** Serves one HTTP/1.1 upgrade request. */
export function serveUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, sink: RequestSink, scheme: 'http' | 'https', hooks: UpgradeHooks): void {
  const protocol = req.headers.upgrade ?? '';
  // Two kinds are not tunnelled, and are served as the ordinary requests they also are, with keep-alive and body:
  // - h2c: tollgate speaks HTTP/2 to clients by prior knowledge only (curl --http2 then stays on HTTP/1.1);
  // - a request with a body: node's parser stops at an upgrade's head, and a handshake (WebSocket's) has none.
  if (/^\s*h2c\s*$/i.test(protocol) || hasBody(req)) {
    hooks.decline(socket, Buffer.concat([plainHead(req), head]));
    return;
  }
  // The connection is this module's now: a reset client must not crash the process, and an end from the client
  // (it may half-close after its first bytes) is kept for the upstream instead of closing the connection.
  socket.on('error', () => undefined);
  socket.allowHalfOpen = true;
  // Held in the buffer until the tunnel reads it, or the answer closes the connection.
  socket.pause();
  let greq;
  try {
    greq = fromHttp1(req, scheme);
  } catch (err) {
    const { status, reason } = refusalOf(err);
    socket.end(textHead(status, reason));
    hooks.rejected(socket, { status, reason, method: req.method, path: req.url });
    return;
  }
  greq.body = null;
  const upgrade: UpgradeRequest = { protocol };
  greq.upgrade = upgrade;
  // Hop-by-hop, so stripped with the rest; shown again to processors and CEL (as Envoy re-adds it for upgrades).
  greq.headers.append('upgrade', protocol);
  const abort = new RequestAbort();
  const onClose = (): void => abort.abort(clientClosed());
  socket.once('close', onClose);
  sink.handle(greq, abort, deliverUpgrade, { socket, head, upgrade, method: greq.method, onClose });
}

function deliverUpgrade(t: UpgradeTarget, h: HandledResponse): void {
  const res = h.response;
  // The upstream's switched connection, if there is one: this response joins it, or nothing will, and it is closed.
  const pending = t.upgrade.tunnel;
  t.upgrade.tunnel = undefined;
  if (res.status === 101 && pending !== undefined && res.tunnel === pending) {
    t.socket.removeListener('close', t.onClose);
    const upstream = pending.socket as Socket;
    if (t.socket.destroyed) {
      upstream.destroy();
      h.done(clientClosed(), 0);
      return;
    }
    if (upstream.destroyed) {
      void writeAndClose(t, h, textResponse(502, 'upstream closed the upgraded connection before it was joined'), 'upstream closed the upgraded connection before it was joined');
      return;
    }
    h.endDeadline?.();
    join(t, h, res, pending);
    return;
  }
  pending?.socket.destroy();
  // A 101 without the upstream's connection (a processor turned some other answer into one) cannot be honoured.
  if (res.status === 101) {
    void writeAndClose(t, h, textResponse(502, 'a 101 with no upstream connection to join'), 'a 101 with no upstream connection to join');
    return;
  }
  void writeAndClose(t, h, res, undefined);
}

/**
 * Writes the 101 and copies bytes both ways: each side's end is passed on as a half-close, so a protocol that
 * closes one direction first keeps the other. The tunnel is over once both connections closed; a side that closes
 * leaves the other to flush and close after it (`destroySoon`), a side that breaks takes the other down at once.
 */
function join(t: UpgradeTarget, h: HandledResponse, res: GatewayResponse, tunnel: Tunnel): void {
  const client = t.socket;
  const upstream = tunnel.socket as Socket;
  let bytesOut = 0;
  let bytesIn = t.head.length;
  let failure: unknown;
  let closed = 0;
  const onClose = (other: Socket, cause: () => unknown) => (hadError: boolean): void => {
    if (hadError) {
      failure ??= cause();
      other.destroy();
    } else if (!other.destroyed) other.destroySoon();
    if (++closed === 2) h.done(failure, bytesOut, undefined, bytesIn);
  };
  client.once('close', onClose(upstream, clientClosed));
  upstream.once('close', onClose(client, () => new GatewayError('upstream_reset', 'upstream reset the upgraded connection')));
  // A peer that vanished without a FIN or a reset is found by keepalive probes, not held for ever.
  client.setKeepAlive(true, KEEPALIVE_MS);
  upstream.setKeepAlive(true, KEEPALIVE_MS);
  // What makes it a 101 (RFC 9110 §15.2.2), whatever a processor removed from the response.
  const headers = res.headers;
  headers.set('connection', 'upgrade');
  headers.set('upgrade', tunnel.protocol);
  client.write(head(101, headers));
  if (tunnel.head.length > 0) {
    bytesOut += tunnel.head.length;
    client.write(tunnel.head);
  }
  if (t.head.length > 0) upstream.write(t.head);
  pump(upstream, client, (n) => (bytesOut += n));
  pump(client, upstream, (n) => (bytesIn += n));
}

/** Copies `from` (paused until now) into `to` with backpressure, and `from`'s end as `to`'s. */
function pump(from: Socket, to: Socket, counted: (n: number) => void): void {
  from.on('data', (chunk: Buffer) => {
    counted(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  // A client that sent its request, its first bytes and a FIN at once has ended already (node read the FIN with the
  // head, before the socket was handed over): its end is passed on now.
  if (from.readableEnded) to.end();
  else from.once('end', () => to.end());
  from.resume();
}

/** Sends a non-101 answer (an upstream's refusal, a processor's, a gateway error) and closes the connection. */
async function writeAndClose(t: UpgradeTarget, h: HandledResponse, res: GatewayResponse, error: string | undefined): Promise<void> {
  const socket = t.socket;
  let bytes = 0;
  // Nothing the client sends now is forwarded: it is read and dropped, and its end (a FIN, as node's server takes
  // it) closes the connection, so a client that leaves cancels the answer instead of waiting on it unseen.
  socket.allowHalfOpen = false;
  socket.resume();
  try {
    const bodyAllowed = t.method !== 'HEAD' && res.status !== 204 && res.status !== 304 && res.status >= 200;
    const headers = res.headers.clone();
    headers.delete('connection');
    headers.delete('transfer-encoding');
    const length = headers.get('content-length');
    const chunked = bodyAllowed && res.body !== null && length === undefined;
    if (chunked) headers.set('transfer-encoding', 'chunked');
    if (res.body === null && bodyAllowed && length === undefined) headers.set('content-length', '0');
    headers.set('connection', 'close');
    socket.write(head(res.status, headers));
    if (res.body !== null) {
      for await (const chunk of res.body) {
        if (!bodyAllowed || chunk.length === 0) continue;
        bytes += chunk.length;
        const ok = chunked ? socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk) && socket.write('\r\n') : socket.write(chunk);
        if (!ok) await waitWritable(socket);
      }
    }
    if (chunked) socket.end('0\r\n\r\n');
    else socket.end();
    h.done(error === undefined ? undefined : new GatewayError('upstream_reset', error), bytes, error === undefined ? undefined : 502);
  } catch (err) {
    socket.destroy();
    h.done(err, bytes);
  } finally {
    socket.removeListener('close', t.onClose);
  }
}

/**
 * The request's head as plain HTTP/1.1: the same request line and headers, less `Upgrade`, `HTTP2-Settings` and
 * their `Connection` tokens, so node's parser reads it as an ordinary request.
 */
function plainHead(req: IncomingMessage): Buffer {
  let s = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.${req.httpVersionMinor}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower === 'upgrade' || lower === 'http2-settings') continue;
    let value = raw[i + 1]!;
    if (lower === 'connection') {
      value = value.split(',').map((v) => v.trim()).filter((v) => v !== '' && !/^(upgrade|http2-settings)$/i.test(v)).join(', ');
      if (value === '') continue;
    }
    s += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${s}\r\n`, 'latin1');
}

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

/** A response head: status line and headers, names as the gateway holds them (lower case). */
function head(status: number, headers: HeaderList): string {
  let s = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (const [n, v] of headers.entries()) s += `${n}: ${v}\r\n`;
  return s + '\r\n';
}

/** A whole short text/plain answer that closes the connection. */
function textHead(status: number, text: string): string {
  const body = `${text}\n`;
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
