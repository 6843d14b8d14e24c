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
import type { GatewayResponse } from '../http/message.js';
import { fromHttp1 } from './http1-request.js';
import type { Rejection } from './rejected.js';
import { clientClosed, waitWritable, type HandledResponse, type RequestSink } from './respond.js';

/** What the upgrade path needs from its server. */
export interface UpgradeHooks {
  /** A request refused before it became an exchange (rejected.ts). */
  rejected(socket: Socket, r: Rejection): void;
}

/** One upgrade request's client side, until its response is delivered. */
interface UpgradeTarget {
  readonly socket: Socket;
  /** Bytes the client sent after the request head (the new protocol's first bytes, if it did not wait for 101). */
  readonly head: Buffer;
  readonly abort: RequestAbort;
  readonly method: string;
  readonly onClose: () => void;
}

/** Serves one HTTP/1.1 upgrade request. */
export function serveUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, sink: RequestSink, scheme: 'http' | 'https', hooks: UpgradeHooks): void {
  // Once node hands the socket over, its errors are this module's: a reset client must not crash the process.
  socket.on('error', () => undefined);
  let greq;
  try {
    greq = fromHttp1(req, scheme);
  } catch (err) {
    const g = err instanceof GatewayError ? err : undefined;
    const status = g?.status ?? 400;
    const reason = g?.message ?? 'bad request';
    socket.end(textHead(status, reason));
    hooks.rejected(socket, { status, reason, method: req.method, path: req.url });
    return;
  }
  greq.body = null;
  const protocol = req.headers.upgrade ?? '';
  if (/^\s*h2c\s*$/i.test(protocol)) {
    // HTTP/2 over cleartext by upgrade: tollgate speaks HTTP/2 to clients by prior knowledge only, so this is
    // answered as the plain HTTP/1.1 request it also is (curl then stays on HTTP/1.1), which node's parser can no
    // longer read a body for.
    if (hasBody(req)) {
      socket.end(textHead(501, 'an h2c upgrade with a request body is not supported: send it without Upgrade: h2c'));
      hooks.rejected(socket, { status: 501, reason: 'h2c upgrade with a request body', method: req.method, path: req.url });
      return;
    }
  } else {
    greq.upgrade = protocol;
    // Hop-by-hop, so stripped with the rest; shown again to processors and CEL (as Envoy re-adds it for upgrades).
    greq.headers.append('upgrade', protocol);
  }
  const abort = new RequestAbort();
  const onClose = (): void => abort.abort(clientClosed());
  socket.once('close', onClose);
  sink.handle(greq, abort, deliverUpgrade, { socket, head, abort, method: greq.method, onClose });
}

function deliverUpgrade(t: UpgradeTarget, h: HandledResponse): void {
  const res = h.response;
  const tunnel = res.tunnel;
  if (res.status === 101 && tunnel !== undefined) {
    t.socket.removeListener('close', t.onClose);
    if (t.socket.destroyed) {
      tunnel.socket.destroy();
      h.done(clientClosed(), 0);
      return;
    }
    join(t, h, res, tunnel.socket as Socket, tunnel.head);
    return;
  }
  // A tunnel nobody takes (a processor replaced the 101): its connection is closed.
  tunnel?.socket.destroy();
  if (res.status === 101) {
    void writeAndClose(t, h, { status: 502, headers: res.headers, body: null }, 'a 101 with no upstream connection to join');
    return;
  }
  void writeAndClose(t, h, res, undefined);
}

/**
 * Writes the 101 and copies bytes both ways: each side's end is passed on as a half-close, so a protocol that
 * closes one direction first keeps the other. The tunnel is over once both connections closed; a side that closes
 * leaves the other to flush and close after it (`destroySoon`), a side that breaks takes the other down at once.
 */
function join(t: UpgradeTarget, h: HandledResponse, res: GatewayResponse, upstream: Socket, upstreamHead: Buffer): void {
  const client = t.socket;
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
  upstream.on('error', () => undefined);
  // Half-closes pass through: a side that ended its sending may still receive (node would otherwise end the
  // writable side as soon as the readable one ended).
  client.allowHalfOpen = true;
  upstream.allowHalfOpen = true;
  client.once('close', onClose(upstream, clientClosed));
  upstream.once('close', onClose(client, () => new GatewayError('upstream_reset', 'upstream reset the upgraded connection')));
  client.write(head(101, res.headers));
  if (upstreamHead.length > 0) {
    bytesOut += upstreamHead.length;
    client.write(upstreamHead);
  }
  if (t.head.length > 0) upstream.write(t.head);
  pump(upstream, client, (n) => (bytesOut += n));
  pump(client, upstream, (n) => (bytesIn += n));
}

/** Copies `from` into `to` with backpressure, and `from`'s end as `to`'s. */
function pump(from: Socket, to: Socket, counted: (n: number) => void): void {
  from.on('data', (chunk: Buffer) => {
    counted(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.once('end', () => to.end());
}

/** Sends a non-101 answer (an upstream's refusal, a processor's, a gateway error) and closes the connection. */
async function writeAndClose(t: UpgradeTarget, h: HandledResponse, res: GatewayResponse, error: string | undefined): Promise<void> {
  const socket = t.socket;
  let bytes = 0;
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
