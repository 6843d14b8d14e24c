/**
 * The gRPC metadata a Process call may carry (OpenOptions.metadata, e.g. traceparent), shared by both transports.
 * It often comes from the client's request, so an invalid or reserved entry is dropped, never fatal.
 */
import type { OpenOptions } from './transport.js';

/** The gRPC method path of the ext_proc stream. */
export const PROCESS_PATH = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';

/** The user-agent both transports send. */
export const USER_AGENT = 'tollgate-ext-proc';

/** Keys we set ourselves or that HTTP/2 forbids; user metadata may not override them. */
const RESERVED = new Set(['content-type', 'te', 'user-agent', 'grpc-encoding', 'grpc-accept-encoding', 'grpc-timeout', 'connection', 'host']);
const VALID_KEY = /^[0-9a-z_.-]+$/;
const VALID_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The valid, unreserved metadata entries (keys lowercased), in order. */
export function callMetadata(options: OpenOptions | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const md = options?.metadata;
  if (!md) return out;
  for (const k in md) {
    const v = md[k]!;
    const key = k.toLowerCase();
    if (VALID_KEY.test(key) && !RESERVED.has(key) && VALID_VALUE.test(v)) out.push([key, v]);
  }
  return out;
}
