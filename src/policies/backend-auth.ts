/**
 * backendAuth: injects the backend credential. `key` sets `Authorization: Bearer <key>` (replacing the
 * client's value); `passthrough` leaves the client's credential alone (agentgateway re-inserts a JWT
 * validated by jwtAuth; tollgate has no jwtAuth, so the client's header simply passes through).
 */
import type { BackendAuth } from '../config/model.js';
import { GatewayError } from '../errors.js';
import type { GatewayRequest } from '../http/message.js';

/** Bytes that would split or end a header line, or are not allowed in a field value (RFC 9110 §5.5), or beyond latin1. */
const INVALID_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f\u0100-\uffff]/;

/**
 * Applies the policy to the outgoing request (after ext_proc, so processors never see the key). A key that
 * cannot be sent as a header value fails the request with a message that never contains the key.
 */
export function applyBackendAuth(auth: BackendAuth | undefined, req: GatewayRequest): void {
  if (auth === undefined || auth.kind === 'passthrough') return;
  const value = `${auth.prefix}${auth.key.reveal()}`;
  if (INVALID_VALUE.test(value)) {
    throw new GatewayError(
      'internal',
      `backendAuth key (${auth.key.origin}) contains characters not allowed in a header value`,
    );
  }
  req.headers.set(auth.header, value);
}
