/**
 * An HTTP/1.1 request from node's server as a GatewayRequest: the head read in one pass, absolute-form targets made
 * origin-form, the body (if any) as a stream. No policy logic.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayError } from '../errors.js';
import { readableBody } from '../http/body.js';
import { headersFromRaw } from '../http/hop-by-hop.js';
import type { GatewayRequest } from '../http/message.js';

/**
 * What `fromHttp1` reads from the raw head, found in one pass over `rawHeaders`. Read this way rather than through
 * `req.headers`, which node builds as an object (every header) on first access, for three values. Module state is
 * safe: it is filled and read in the same synchronous call.
 */
let hostHeaders = 0;
let hostValue: string | undefined;
let teValue: string | undefined;
let clValue: string | undefined;

/**
 * Fills the values above as `req.headers` would give them: the first Host and Content-Length, Transfer-Encoding
 * values joined with ", ".
 */
function scanHead(raw: readonly string[]): void {
  hostHeaders = 0;
  hostValue = teValue = clValue = undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    switch (name.length) {
      case 4:
        if (name === 'Host' || name === 'host' || name.toLowerCase() === 'host') {
          if (hostHeaders++ === 0) hostValue = raw[i + 1];
        }
        break;
      case 14:
        if (clValue === undefined && name.toLowerCase() === 'content-length') clValue = raw[i + 1];
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') teValue = teValue === undefined ? raw[i + 1] : `${teValue}, ${raw[i + 1]!}`;
        break;
    }
  }
}

/** Converts a node request; `body` is null when the message has neither content-length > 0 nor chunked. */
export function fromHttp1(req: IncomingMessage, scheme: 'http' | 'https'): GatewayRequest {
  scanHead(req.rawHeaders);
  const te = teValue;
  // node's parser takes any list that ends in chunked; a coding before it would reach the upstream undone.
  if (te !== undefined && te !== 'chunked' && te.trim().toLowerCase() !== 'chunked') {
    throw new GatewayError('bad_request', `transfer-encoding "${te}" is not supported (only chunked)`, { status: 501 });
  }
  const cl = clValue;
  const length = cl === undefined ? undefined : Number(cl);
  const hasBody = te !== undefined || (length !== undefined && length > 0);
  // RFC 9112 3.2: more than one Host is a 400 (node keeps the first one; a server behind may read another).
  if (hostHeaders > 1) throw new GatewayError('bad_request', 'more than one Host header');
  // RFC 9112 3.2: an HTTP/1.1 request without Host is a 400 (an absolute-form target names its host itself).
  if (hostHeaders === 0 && req.httpVersionMinor === 1 && req.url?.charCodeAt(0) === 0x2f) throw new GatewayError('bad_request', 'missing Host header');
  let authority = hostValue ?? '';
  const peer = peerOf(req.socket);
  const headers = headersFromRaw(req.rawHeaders);
  let path = req.url ?? '/';
  if (path.charCodeAt(0) !== 0x2f) {
    // RFC 9112 3.2.2: absolute-form (a proxy-style request) names the host in the target, and that wins over Host.
    // Routing, processors and the upstream all see origin-form, as Envoy and agentgateway convert it.
    const target = absoluteForm(path);
    path = target.path;
    authority = target.authority;
  }
  return {
    method: req.method ?? 'GET',
    scheme,
    authority,
    path,
    headers,
    body: hasBody
      ? readableBody(req, () => (req.rawTrailers.length > 0 ? headersFromRaw(req.rawTrailers) : undefined), length, true)
      : null,
    httpVersion: '1.1',
    remoteAddress: peer.address,
    remotePort: peer.port,
  };
}

/** `http(s)://authority/path?query` split into its authority and origin-form path, without normalizing the path. */
function absoluteForm(target: string): { authority: string; path: string } {
  const m = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(target);
  const authority = m?.[1] ?? '';
  if (m === null || authority === '' || authority.includes('@')) {
    throw new GatewayError('bad_request', `request target must be a path or an http(s) URL with a host, got ${JSON.stringify(target.slice(0, 64))}`);
  }
  const rest = m[2]!;
  return { authority, path: rest === '' ? '/' : rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest };
}

const kPeer = Symbol('tollgate.peer');

/** The client's address and port, read once per connection (node's getters go through `getpeername` bookkeeping). */
function peerOf(socket: Socket & { [kPeer]?: { address: string; port: number } }): { address: string; port: number } {
  let peer = socket[kPeer];
  if (peer === undefined) {
    const address = socket.remoteAddress;
    // Unknown while the socket is closing: not kept, so a later request on it is not stuck with the blank.
    if (address === undefined) return { address: '', port: socket.remotePort ?? 0 };
    socket[kPeer] = peer = { address, port: socket.remotePort ?? 0 };
  }
  return peer;
}

/** The status and reason a request head that `fromHttp1` refused is answered with. */
export function refusalOf(err: unknown): { status: number; reason: string } {
  const g = err instanceof GatewayError ? err : undefined;
  return { status: g?.status ?? 400, reason: g?.message ?? 'bad request' };
}
