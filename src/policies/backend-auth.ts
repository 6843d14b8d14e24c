/**
 * backendAuth: injects the backend credential. `key` sets `Authorization: Bearer <key>` (replacing the
 * client's value); `passthrough` leaves the client's credential alone.
 */
import type { BackendAuth } from '../config/model.js';
import type { GatewayRequest } from '../http/message.js';

/** Applies the policy to the outgoing request (after ext_proc, so processors never see the key). */
export function applyBackendAuth(auth: BackendAuth | undefined, req: GatewayRequest): void {
  if (auth === undefined || auth.kind === 'passthrough') return;
  req.headers.set(auth.header, `${auth.prefix}${auth.key.reveal()}`);
}
