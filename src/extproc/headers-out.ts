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

/**
 * A HeaderMap for the processor, kept as the strings it was made from: `flat` is `[name, value, …]` with values as
 * latin1 binary strings (one char per byte), and the first `pseudo` entries also carry `value`. The request
 * encoder writes it straight from the strings; `headers` (what the generated codec and tests read) is made on
 * first use.
 */
export class HeaderMapOut {
  #headers: HeaderValue[] | undefined;
  constructor(
    readonly flat: readonly string[],
    readonly pseudo: number,
  ) {}

  get headers(): HeaderValue[] {
    if (this.#headers !== undefined) return this.#headers;
    const out: HeaderValue[] = [];
    for (let i = 0; i < this.flat.length; i += 2) {
      const key = this.flat[i]!;
      const v = this.flat[i + 1]!;
      const rawValue = Buffer.from(v, 'latin1');
      out.push(i < this.pseudo * 2 ? { key, rawValue, value: pseudoValue(v) } : { key, rawValue });
    }
    return (this.#headers = out);
  }
}

/**
 * The `value` of a pseudo-header: its bytes read as UTF-8. agentgateway sends pseudo-headers only there, so
 * processors written for it read `value` for `:path` & co., while Envoy-style processors read `raw_value`. Both
 * then work unchanged.
 */
export function pseudoValue(latin1: string): string {
  return ASCII.test(latin1) ? latin1 : Buffer.from(latin1, 'latin1').toString('utf8');
}
const ASCII = /^[\x00-\x7f]*$/;

/**
 * `te: trailers` survives the gateway end to end (gRPC needs it), so the processor sees it too. `upgrade`: on an
 * upgrade request and its 101, where Envoy shows it (server/upgrade.ts), and nowhere else.
 */
function sendable(name: string, value: string, upgrade: boolean): boolean {
  if (name.startsWith(':') || name === 'host') return false;
  if (name === 'te') return value.trim().toLowerCase() === 'trailers';
  if (name === 'upgrade') return upgrade;
  return !isHopByHop(name);
}

/** Appends the headers a processor may see (HeaderList names are lower-case already). */
function regular(out: string[], headers: HeaderList, upgrade = false): void {
  const f = headers.flatView();
  for (let i = 0; i < f.length; i += 2) {
    const name = f[i]!;
    const value = f[i + 1]!;
    if (sendable(name, value, upgrade)) out.push(name, value);
  }
}

/** The request's headers, pseudo-headers first. */
export function requestHeaderMap(req: {
  readonly method: string;
  readonly scheme: string;
  readonly authority: string;
  readonly path: string;
  readonly headers: HeaderList;
  readonly upgrade?: unknown;
}): HeaderMapOut {
  const out = [':method', req.method, ':scheme', req.scheme, ':authority', req.authority, ':path', req.path];
  regular(out, req.headers, req.upgrade !== undefined);
  return new HeaderMapOut(out, 4);
}

/** The response's headers, `:status` first. */
export function responseHeaderMap(res: { readonly status: number; readonly headers: HeaderList }): HeaderMapOut {
  const out = [':status', String(res.status)];
  regular(out, res.headers, res.status === 101);
  return new HeaderMapOut(out, 1);
}

/** Trailers (never pseudo-headers). */
export function trailerMap(trailers: HeaderList): HeaderMapOut {
  const out: string[] = [];
  regular(out, trailers);
  return new HeaderMapOut(out, 0);
}
