/**
 * The two `DirectionIo`s: how the direction runner reads and changes a GatewayRequest or a
 * GatewayResponse. Everything that differs between the directions is here.
 */
import { GatewayError } from '../errors.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { cancelBody } from './body-buffered.js';
import type { DirectionIo } from './direction.js';
import { requestHeaderMap, responseHeaderMap } from './headers-out.js';
import { mutateRequestHead, mutateResponseHead } from './mutation.js';

/** The request side: pseudo-headers and routing fields may change; an oversized buffered body is a 413. */
export function requestIo(req: GatewayRequest): DirectionIo {
  return {
    dir: 'request',
    headers: () => req.headers,
    headerMap: () => requestHeaderMap(req),
    mutateHead: (m) => mutateRequestHead(req, m),
    getBody: () => req.body,
    setBody: (b) => {
      req.body = b;
    },
    snapshot: () => {
      const s = { method: req.method, scheme: req.scheme, authority: req.authority, path: req.path, headers: req.headers.clone(), body: req.body };
      return () => {
        Object.assign(req, s);
      };
    },
    tooLarge: (limit) =>
      new GatewayError('payload_too_large', `request body is larger than maxBufferSize (${limit} bytes), the most ext_proc buffered mode may hold`),
    // An unread client body is drained by the server layer after the response; touching it here could
    // destroy the connection the reply still has to go out on.
    discard: () => undefined,
  };
}

/** The response side: only `:status` among pseudo-headers; an oversized buffered body is a 500. */
export function responseIo(res: GatewayResponse): DirectionIo {
  return {
    dir: 'response',
    headers: () => res.headers,
    headerMap: () => responseHeaderMap(res),
    mutateHead: (m) => mutateResponseHead(res, m),
    getBody: () => res.body,
    setBody: (b) => {
      res.body = b;
    },
    snapshot: () => {
      const s = { status: res.status, headers: res.headers.clone(), body: res.body };
      return () => {
        Object.assign(res, s);
      };
    },
    tooLarge: (limit) =>
      new GatewayError('response_too_large', `ext_proc failed: response body is larger than maxBufferSize (${limit} bytes), the most ext_proc buffered mode may hold`),
    discard: (b) => cancelBody(b),
  };
}
