/**
 * Hop-by-hop header handling (RFC 9110 §7.6.1): headers that describe one connection, never the message,
 * and so must not cross the gateway. Pure; no I/O.
 */
import { HeaderList } from './headers.js';

/** Names that are always connection-specific. `te` is special-cased: only `te: trailers` survives. */
const ALWAYS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
]);

/** True when `name` (lower-case) is always hop-by-hop. */
export function isHopByHop(name: string): boolean {
  return ALWAYS.has(name);
}

/** The header names a `Connection` value nominates (lower-case, trimmed, empties dropped). */
export function connectionTokens(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t.length > 0) out.push(t);
  }
  return out;
}

/**
 * `te: trailers` is the one TE value HTTP/2 allows (RFC 9113 §8.2.2) and gRPC requires it end to end,
 * so it is kept when it says exactly that; any other TE value is a hop-by-hop negotiation.
 */
function isTeTrailers(value: string): boolean {
  return value.trim().toLowerCase() === 'trailers';
}

/** Decides per header: kept unless hop-by-hop, nominated by Connection, or a pseudo-header / `host`. */
function shouldDrop(name: string, value: string, nominated: Set<string> | undefined, dropHost: boolean): boolean {
  if (name.charCodeAt(0) === 58 /* ':' */) return true;
  if (dropHost && name === 'host') return true;
  if (name === 'te') return !isTeTrailers(value);
  if (ALWAYS.has(name)) return true;
  return nominated !== undefined && nominated.has(name);
}

function nominatedBy(values: Iterable<string>): Set<string> | undefined {
  let set: Set<string> | undefined;
  for (const v of values) {
    // The common values nominate nothing beyond the fixed set; skip the split on the hot path.
    if (v === 'keep-alive' || v === 'close' || v === 'Keep-Alive' || v === 'Close') continue;
    for (const t of connectionTokens(v)) {
      // `Connection: te` must not defeat the te:trailers rule, so it is not a nomination of its own.
      if (t === 'te') continue;
      (set ??= new Set()).add(t);
    }
  }
  return set;
}

/**
 * Returns a copy of `headers` without hop-by-hop headers, Connection-nominated headers and pseudo-headers.
 * `te` is kept only as `te: trailers`.
 */
export function stripHopByHop(headers: HeaderList): HeaderList {
  const nominated = nominatedBy(headers.getAll('connection'));
  const out = new HeaderList();
  for (const [n, v] of headers) if (!shouldDrop(n, v, nominated, false)) out.append(n, v);
  return out;
}

/**
 * Builds a HeaderList straight from node's flat `rawHeaders` ([name, value, …]) in one pass, dropping
 * hop-by-hop headers, Connection-nominated ones, pseudo-headers and `host` (which becomes the authority).
 * This is the hot-path twin of `stripHopByHop`.
 */
export function headersFromRaw(raw: readonly string[]): HeaderList {
  let connValues: string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === 10 && n.toLowerCase() === 'connection') (connValues ??= []).push(raw[i + 1]!);
  }
  const nominated = connValues === undefined ? undefined : nominatedBy(connValues);
  const flat: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (!shouldDrop(name, value, nominated, true)) flat.push(name, value);
  }
  return HeaderList.adopt(flat);
}

/**
 * Same as `headersFromRaw` for a flat list whose names are already lower-case, which it takes over (filtered in
 * place, then adopted by the HeaderList): undici's raw headers, decoded. `dropHost` removes `host` too.
 */
export function headersFromFlat(flat: string[], dropHost: boolean): HeaderList {
  let connValues: string[] | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === 'connection') (connValues ??= []).push(flat[i + 1]!);
  const nominated = connValues === undefined ? undefined : nominatedBy(connValues);
  let w = 0;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    const value = flat[i + 1]!;
    if (shouldDrop(name, value, nominated, dropHost)) continue;
    flat[w++] = name;
    flat[w++] = value;
  }
  flat.length = w;
  return HeaderList.adopt(flat);
}

/**
 * Same as `headersFromRaw` for node-style header objects (http2 header objects, undici response headers).
 * `dropHost` removes `host` too (request side).
 */
export function headersFromObject(
  obj: Readonly<Record<string, string | string[] | number | undefined>>,
  dropHost: boolean,
): HeaderList {
  const conn = obj['connection'];
  const nominated =
    conn === undefined ? undefined : nominatedBy(Array.isArray(conn) ? conn : [String(conn)]);
  const flat: string[] = [];
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (v === undefined) continue;
    const name = key.toLowerCase();
    if (Array.isArray(v)) {
      for (const x of v) if (!shouldDrop(name, x, nominated, dropHost)) flat.push(name, x);
    } else {
      const s = typeof v === 'string' ? v : String(v);
      if (!shouldDrop(name, s, nominated, dropHost)) flat.push(name, s);
    }
  }
  return HeaderList.adopt(flat);
}
