/**
 * Maps transport errors (undici, node:net, node:tls, node:http2) to the gateway's upstream error codes
 * with short, clear text: connect failures → 503, resets/protocol errors → 502, timeouts → 504.
 */
import { GatewayError } from '../errors.js';
import type { Body } from '../http/message.js';

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
  ETIMEDOUT: 'timed out',
};

function codeOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e instanceof Error; i++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    if (code === 'UND_ERR_SOCKET') return (e.cause as NodeJS.ErrnoException | undefined)?.code ?? code;
    e = e.cause;
  }
  return undefined;
}

/** Turns any upstream failure into a GatewayError naming the upstream (`display` is host:port). */
export function upstreamError(err: unknown, display: string): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = codeOf(err);
  const reason = (code !== undefined ? REASONS[code] : undefined) ?? (err instanceof Error ? err.message : String(err));
  if (code !== undefined && (CONNECT_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.startsWith('CERT_'))) {
    return new GatewayError('upstream_connect', `upstream connect error: ${reason} to ${display}`, { cause: err });
  }
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new GatewayError('upstream_timeout', `upstream timeout: ${reason} from ${display}`, { cause: err });
  }
  return new GatewayError('upstream_reset', `upstream reset: ${reason} from ${display}`, { cause: err });
}

/**
 * `inner` with its read failures turned into upstream errors (`cause` picks the error to report, e.g. a
 * stream error seen first) and `checkEnd` run after the last chunk, to fail a body that ended without
 * completing instead of letting a truncated body look like a clean end.
 */
export function upstreamBody(inner: Body, display: string, checkEnd: () => void, cause: (err: unknown) => unknown = (err) => err): Body {
  return {
    length: inner.length,
    trailers: inner.trailers,
    async *[Symbol.asyncIterator]() {
      try {
        yield* inner;
      } catch (err) {
        throw upstreamError(cause(err), display);
      }
      checkEnd();
    },
  };
}
