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

/** What both sides share: a message with a header list and a body. */
abstract class MessageIo<M extends { headers: HeaderList; body: Body | null }> {
  constructor(protected readonly m: M) {}
  headers(): HeaderList {
    return this.m.headers;
  }
  getBody(): Body | null {
    return this.m.body;
  }
  setBody(b: Body | null): void {
    this.m.body = b;
  }
  /** Captures the head and body as they are now; the returned function puts them back. */
  snapshot(): () => void {
    const m = this.m;
    const saved = this.saved();
    return () => {
      Object.assign(m, saved);
    };
  }
  /** The fields `snapshot` puts back, the header list copied. */
  protected abstract saved(): Partial<M>;
}

/** The request side: pseudo-headers and routing fields may change; an oversized buffered body is a 413. */
class RequestIo extends MessageIo<GatewayRequest> implements DirectionIo {
  readonly dir = 'request';
  headerMap(): HeaderMapOut {
    return requestHeaderMap(this.m);
  }
  mutateHead(mutation: HeaderMutation | null | undefined): RejectedMutation[] {
    return mutateRequestHead(this.m, mutation);
  }
  protected saved(): Partial<GatewayRequest> {
    const req = this.m;
    return { method: req.method, scheme: req.scheme, authority: req.authority, path: req.path, headers: req.headers.clone(), body: req.body };
  }
  bodyless(): boolean {
    return false;
  }
  lengthForbidden(): boolean {
    return false;
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
class ResponseIo extends MessageIo<GatewayResponse> implements DirectionIo {
  readonly dir = 'response';
  constructor(
    res: GatewayResponse,
    /** The exchange's request was a HEAD (the client's, or the one sent upstream after a `:method` rewrite). */
    private readonly headRequest: boolean,
  ) {
    super(res);
  }
  headerMap(): HeaderMapOut {
    return responseHeaderMap(this.m);
  }
  mutateHead(mutation: HeaderMutation | null | undefined): RejectedMutation[] {
    return mutateResponseHead(this.m, mutation);
  }
  protected saved(): Partial<GatewayResponse> {
    const res = this.m;
    return { status: res.status, headers: res.headers.clone(), body: res.body };
  }
  /** As the servers decide (src/server/http1.ts `noBody`): the status is the one the client will get. */
  bodyless(): boolean {
    const status = this.m.status;
    return this.headRequest || status === 204 || status === 304;
  }
  lengthForbidden(): boolean {
    return this.m.status === 204;
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

/** The DirectionIo of a response; `headRequest`: the request was a HEAD (the response has no body on the wire). */
export function responseIo(res: GatewayResponse, headRequest = false): DirectionIo {
  return new ResponseIo(res, headRequest);
}
