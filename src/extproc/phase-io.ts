/**
 * The two `DirectionIo`s: how the direction runner reads and changes a GatewayRequest or a
 * GatewayResponse. Everything that differs between the directions is here.
 */
import { GatewayError } from '../errors.js';
import type { HeaderList } from '../http/headers.js';
import type { Body, GatewayRequest, GatewayResponse } from '../http/message.js';
import { cancelBody } from './body-buffered.js';
import type { DirectionIo } from './direction.js';
import { requestHeaderMap, responseHeaderMap, type HeaderMapOut } from './headers-out.js';
import type { HeaderMutation } from './messages.js';
import { mutateRequestHead, mutateResponseHead, type RejectedMutation } from './mutation.js';

/** The request side: pseudo-headers and routing fields may change; an oversized buffered body is a 413. */
class RequestIo implements DirectionIo {
  readonly dir = 'request';
  constructor(private readonly req: GatewayRequest) {}
  headers(): HeaderList {
    return this.req.headers;
  }
  headerMap(): HeaderMapOut {
    return requestHeaderMap(this.req);
  }
  mutateHead(m: HeaderMutation | null | undefined): RejectedMutation[] {
    return mutateRequestHead(this.req, m);
  }
  getBody(): Body | null {
    return this.req.body;
  }
  setBody(b: Body | null): void {
    this.req.body = b;
  }
  snapshot(): () => void {
    const req = this.req;
    const s = { method: req.method, scheme: req.scheme, authority: req.authority, path: req.path, headers: req.headers.clone(), body: req.body };
    return () => {
      Object.assign(req, s);
    };
  }
  tooLarge(limit: number): GatewayError {
    return new GatewayError('payload_too_large', `request body is larger than maxBufferSize (${limit} bytes), the most ext_proc buffered mode may hold`);
  }
  /**
   * An unread client body is drained by the server layer after the response; touching it here could destroy the
   * connection the reply still has to go out on.
   */
  discard(): void {}
}

/** The response side: only `:status` among pseudo-headers; an oversized buffered body is a 500. */
class ResponseIo implements DirectionIo {
  readonly dir = 'response';
  constructor(private readonly res: GatewayResponse) {}
  headers(): HeaderList {
    return this.res.headers;
  }
  headerMap(): HeaderMapOut {
    return responseHeaderMap(this.res);
  }
  mutateHead(m: HeaderMutation | null | undefined): RejectedMutation[] {
    return mutateResponseHead(this.res, m);
  }
  getBody(): Body | null {
    return this.res.body;
  }
  setBody(b: Body | null): void {
    this.res.body = b;
  }
  snapshot(): () => void {
    const res = this.res;
    const s = { status: res.status, headers: res.headers.clone(), body: res.body };
    return () => {
      Object.assign(res, s);
    };
  }
  tooLarge(limit: number): GatewayError {
    return new GatewayError('response_too_large', `ext_proc failed: response body is larger than maxBufferSize (${limit} bytes), the most ext_proc buffered mode may hold`);
  }
  discard(b: Body | null): void {
    cancelBody(b);
  }
}

/** The DirectionIo of a request (one object; its methods live on the class). */
export function requestIo(req: GatewayRequest): DirectionIo {
  return new RequestIo(req);
}

/** The DirectionIo of a response. */
export function responseIo(res: GatewayResponse): DirectionIo {
  return new ResponseIo(res);
}
