/**
 * The gateway's own request/response shapes. The server layer turns node:http / node:http2 messages into
 * these; policies and the upstream layer only ever see these. Bodies are pull-based async iterables, so
 * backpressure is end to end: nobody reads a chunk before the consumer asks for it.
 */
import type { Duplex } from 'node:stream';
import type { HeaderList } from './headers.js';

/** A streaming message body. Iterating it yields chunks; trailers are known once iteration has finished. */
export interface Body extends AsyncIterable<Buffer> {
  /** Trailers that followed the last chunk, or undefined. Only meaningful after iteration completed. */
  trailers(): HeaderList | undefined;
  /** The declared length (from content-length), when known. */
  readonly length?: number | undefined;
  /** Bytes iterated so far, for bodies that count them (the client's request body: the access log's bytesIn). */
  readonly bytesRead?: number;
}

/** A request as it flows through the pipeline. Policies mutate it in place. */
export interface GatewayRequest {
  method: string;
  scheme: 'http' | 'https';
  /** Host[:port] from `:authority` or the Host header. */
  authority: string;
  /** Path plus query string, as received (e.g. `/v1/chat?x=1`). */
  path: string;
  /** Regular headers only: no pseudo-headers, no `host`, hop-by-hop headers stripped. */
  headers: HeaderList;
  /** null means the message ended with its headers (no body at all). */
  body: Body | null;
  readonly httpVersion: '1.1' | '2';
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * Set only on an HTTP/1.1 upgrade request (server/upgrade.ts): the upstream is asked for the same upgrade, and a
   * 101 from it turns the exchange into a tunnel.
   */
  upgrade?: UpgradeRequest;
}

/** What an upgrade request asks for, and the upstream connection once it switched (until the tunnel takes it). */
export interface UpgradeRequest {
  /** The client's `Upgrade` value, e.g. `websocket`. */
  readonly protocol: string;
  /** Set by the upstream transport on a 101; whoever delivers the response joins it or closes it. */
  tunnel?: Tunnel | undefined;
}

/** The upstream's side of a switched protocol: its connection, its `Upgrade` value, and the bytes after its 101. */
export interface Tunnel {
  readonly socket: Duplex;
  readonly protocol: string;
  readonly head: Buffer;
}

/** A response as it flows back through the pipeline. Policies mutate it in place. */
export interface GatewayResponse {
  status: number;
  /** Regular headers only, hop-by-hop stripped. */
  headers: HeaderList;
  /** null means no body. */
  body: Body | null;
  /** Set on a 101 from the upstream to an upgrade request: the client's connection is joined to this one. */
  tunnel?: Tunnel;
}

/** True when the request is gRPC (`content-type: application/grpc*`). */
export function isGrpc(headers: HeaderList): boolean {
  const ct = headers.get('content-type');
  return ct !== undefined && ct.startsWith('application/grpc');
}
