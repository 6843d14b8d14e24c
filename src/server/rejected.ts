/**
 * Requests refused before they became exchanges: a head node's parser rejected (400, 431), one that did not arrive
 * within headersTimeout (408), CONNECT (501), or a head tollgate refuses itself (two Host headers, an unsupported
 * transfer coding, an unusable absolute-form target). They get an access-log line and count in the request
 * metrics like any other request, with no route or backend, so an operator can see why clients are being refused.
 */
import type { Socket } from 'node:net';
import { requestId } from '../http/request-id.js';
import { channels, publish } from '../observability/diagnostics.js';

/** What is known of a refused request. */
export interface Rejection {
  readonly status: number;
  /** Why, for the log line: never the raw bytes, which may hold credentials. */
  readonly reason: string;
  readonly method?: string | undefined;
  readonly path?: string | undefined;
  readonly authority?: string | undefined;
}

/** Publishes the request-end record of a request refused on `bind` (its name stands for gateway and listener). */
export function publishRejected(bind: string, socket: Socket | undefined, r: Rejection): void {
  publish(channels.requestEnd, {
    record: {
      id: requestId(),
      gateway: bind,
      listener: bind,
      method: r.method ?? '',
      path: r.path ?? '',
      authority: r.authority ?? '',
      protocol: 'HTTP/1.1',
      remote: socket?.remoteAddress ?? '',
      route: undefined,
      routeKey: undefined,
      backend: undefined,
      status: r.status,
      durationMs: undefined,
      bytesIn: undefined,
      bytesOut: undefined,
      error: r.reason,
      errorCode: 'bad_request',
      extProc: undefined,
      ai: undefined,
      dynamicMetadata: undefined,
    },
  });
}
