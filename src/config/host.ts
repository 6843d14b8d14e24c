/**
 * Parses backend addresses: `host:port`, `[v6]:port`, and (where allowed) `http://h[:p]` / `https://h[:p]`.
 * Returns a message instead of throwing, so callers can attach the config path.
 */

/** A dial target. */
export interface HostTarget {
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
}

/** Either a target or the reason the text is not one. */
export type HostResult = { ok: true; target: HostTarget } | { ok: false; message: string };

function parsePort(text: string, min: number): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= 65535 ? n : undefined;
}

/** Parses `host:port` (IPv6 in brackets). The port is required; `allowPortZero` is for listen addresses. */
export function parseHostPort(text: string, allowPortZero = false): HostResult {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return { ok: false, message: `invalid host:port ${JSON.stringify(text)}` };
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) {
      return { ok: false, message: `${JSON.stringify(text)} has no port; write "host:port" (for example "${text}:80")` };
    }
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return { ok: false, message: `invalid host:port ${JSON.stringify(text)} (put IPv6 addresses in [])` };
  }
  const port = parsePort(portText, allowPortZero ? 0 : 1);
  if (host === '' || /[\s/?#@]/.test(host)) return { ok: false, message: `invalid host in ${JSON.stringify(text)}` };
  if (port === undefined) return { ok: false, message: `invalid port ${JSON.stringify(portText)} in ${JSON.stringify(text)} (${allowPortZero ? 0 : 1}-65535)` };
  return { ok: true, target: { scheme: 'http', host, port } };
}

/** Parses `host:port` or an `http(s)://host[:port]` URL without a path. */
export function parseHostOrUrl(text: string): HostResult {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (m === null) return parseHostPort(text);
  const scheme = (m[1] ?? '').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    return { ok: false, message: `backend URL scheme must be http or https, got ${JSON.stringify(m[1])}` };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, message: `invalid URL ${JSON.stringify(text)}` };
  }
  if (url.pathname !== '/' && url.pathname !== '') return { ok: false, message: `backend URL paths are not supported: ${JSON.stringify(text)}` };
  if (url.search !== '' || url.hash !== '' || url.username !== '') {
    return { ok: false, message: `backend URL must not have a query, fragment or user info: ${JSON.stringify(text)}` };
  }
  if (url.hostname === '') return { ok: false, message: `backend URL must include a host: ${JSON.stringify(text)}` };
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
  return { ok: true, target: { scheme, host, port } };
}
