/**
 * Builds the HeaderMaps the processor receives (SPEC §2 Headers): lower-case names, pseudo-headers first
 * (`:method :scheme :authority :path` on requests, `:status` on responses), every value in `raw_value` as its
 * exact bytes (latin1 binary strings round-trip; pseudo-headers in `value` too), repeated headers as repeated
 * entries, hop-by-hop never sent.
 * Pure; no I/O.
 */
import type { HeaderList } from '../http/headers.js';
import { isHopByHop } from '../http/hop-by-hop.js';
import type { HeaderValue } from './messages.js';

/** A HeaderMap as the codec takes it. */
export interface HeaderMapOut {
  headers: HeaderValue[];
}

function entry(key: string, value: string): HeaderValue {
  return { key, rawValue: Buffer.from(value, 'latin1') };
}

/**
 * Pseudo-headers also carry `value`: agentgateway sends them only there, so processors written for it read
 * `value` for `:path` & co., while Envoy-style processors read `raw_value`. Both then work unchanged.
 */
function pseudo(key: string, value: string): HeaderValue {
  const raw = Buffer.from(value, 'latin1');
  return { key, rawValue: raw, value: raw.toString('utf8') };
}

/** `te: trailers` survives the gateway end to end (gRPC needs it), so the processor sees it too. */
function sendable(name: string, value: string): boolean {
  if (name.startsWith(':') || name === 'host') return false;
  if (name === 'te') return value.trim().toLowerCase() === 'trailers';
  return !isHopByHop(name);
}

function regular(out: HeaderValue[], headers: HeaderList): void {
  for (const [n, v] of headers) {
    const name = n.toLowerCase();
    if (sendable(name, v)) out.push(entry(name, v));
  }
}

/** The request's headers, pseudo-headers first. */
export function requestHeaderMap(req: {
  readonly method: string;
  readonly scheme: string;
  readonly authority: string;
  readonly path: string;
  readonly headers: HeaderList;
}): HeaderMapOut {
  const out: HeaderValue[] = [
    pseudo(':method', req.method),
    pseudo(':scheme', req.scheme),
    pseudo(':authority', req.authority),
    pseudo(':path', req.path),
  ];
  regular(out, req.headers);
  return { headers: out };
}

/** The response's headers, `:status` first. */
export function responseHeaderMap(res: { readonly status: number; readonly headers: HeaderList }): HeaderMapOut {
  const out: HeaderValue[] = [pseudo(':status', String(res.status))];
  regular(out, res.headers);
  return { headers: out };
}

/** Trailers (never pseudo-headers). */
export function trailerMap(trailers: HeaderList): HeaderMapOut {
  const out: HeaderValue[] = [];
  regular(out, trailers);
  return { headers: out };
}
