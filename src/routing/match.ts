/**
 * Pure route and listener selection, in agentgateway's order (reference §1.5): host buckets (exact
 * hostname, then wildcards from most to least specific, then routes without hostnames); inside a bucket,
 * exact path > prefix > regex, longer path first, method match first, more header matches, more query
 * matches, then config order. The sorted candidate lists are built once per model by `compileRoutes`.
 */
import type { Listener, PathMatch, Route, RouteMatch, ValueMatch } from '../config/model.js';
import type { HeaderList } from '../http/headers.js';

/** What route matching looks at. */
export interface MatchInput {
  readonly method: string;
  /** Host[:port] as received. */
  readonly authority: string;
  /** Path plus query. */
  readonly path: string;
  readonly scheme: string;
  readonly headers: HeaderList;
}

interface Candidate {
  readonly route: Route;
  readonly match: RouteMatch;
  /** Anchored copies of the config regexes (a full match is required; the model's may be unanchored). */
  readonly pathRegex: RegExp | undefined;
  readonly headerRegexes: readonly (RegExp | undefined)[];
  readonly queryRegexes: readonly (RegExp | undefined)[];
  /** The prefix with trailing slashes removed ('' matches everything). */
  readonly prefix: string;
}

/** Precomputed, sorted candidates for one listener's routes. */
export interface RouteTable {
  readonly exact: ReadonlyMap<string, readonly Candidate[]>;
  /** `*.suffix` buckets, most specific (longest suffix) first; `suffix` includes the leading dot. */
  readonly wildcards: readonly { readonly suffix: string; readonly candidates: readonly Candidate[] }[];
  readonly any: readonly Candidate[];
}

function anchored(re: RegExp): RegExp {
  return new RegExp(`^(?:${re.source})$`, re.flags.replace(/[gy]/g, ''));
}

function valueRegex(v: ValueMatch): RegExp | undefined {
  return v.kind === 'regex' ? anchored(v.regex) : undefined;
}

function trimSlashes(p: string): string {
  let end = p.length;
  while (end > 0 && p.charCodeAt(end - 1) === 47) end--;
  return p.slice(0, end);
}

function candidate(route: Route, match: RouteMatch): Candidate {
  return {
    route,
    match,
    pathRegex: match.path.kind === 'regex' ? anchored(match.path.regex) : undefined,
    headerRegexes: match.headers.map((h) => valueRegex(h.value)),
    queryRegexes: match.query.map((q) => valueRegex(q.value)),
    prefix: match.path.kind === 'prefix' ? trimSlashes(match.path.value) : '',
  };
}

const PATH_RANK: Record<PathMatch['kind'], number> = { exact: 0, prefix: 1, regex: 2 };

/** Sort order inside one host bucket: most specific first (agentgateway / Gateway API precedence). */
export function compareCandidates(a: Candidate, b: Candidate): number {
  const pa = a.match.path;
  const pb = b.match.path;
  return (
    PATH_RANK[pa.kind] - PATH_RANK[pb.kind] ||
    pb.value.length - pa.value.length ||
    (a.match.method === undefined ? 1 : 0) - (b.match.method === undefined ? 1 : 0) ||
    b.match.headers.length - a.match.headers.length ||
    b.match.query.length - a.match.query.length ||
    a.route.index - b.route.index
  );
}

/** Builds the host buckets and sorted candidates for a listener's routes. */
export function compileRoutes(routes: readonly Route[]): RouteTable {
  const exact = new Map<string, Candidate[]>();
  const wild = new Map<string, Candidate[]>();
  const any: Candidate[] = [];
  for (const route of routes) {
    const cands = route.matches.map((m) => candidate(route, m));
    if (route.hostnames.length === 0) {
      any.push(...cands);
      continue;
    }
    for (const raw of route.hostnames) {
      const h = raw.toLowerCase();
      const [map, key] = h.startsWith('*.') ? [wild, h.slice(1)] : [exact, h];
      const list = map.get(key) ?? [];
      list.push(...cands);
      map.set(key, list);
    }
  }
  for (const list of exact.values()) list.sort(compareCandidates);
  for (const list of wild.values()) list.sort(compareCandidates);
  any.sort(compareCandidates);
  const wildcards = [...wild.entries()]
    .sort((a, b) => b[0].length - a[0].length)
    .map(([suffix, candidates]) => ({ suffix, candidates }));
  return { exact, wildcards, any };
}

/** `Host[:port]` → lower-case host without port or trailing dot (IPv6 literals keep their brackets). */
export function hostOf(authority: string): string {
  let h = authority;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end > 0 ? h.slice(0, end + 1) : h;
  } else {
    const colon = h.lastIndexOf(':');
    if (colon >= 0) h = h.slice(0, colon);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h.toLowerCase();
}

/** True when `host` matches the pattern (`exact` or `*.suffix`, which needs at least one more label). */
export function hostnameMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  if (!p.startsWith('*.')) return p === host;
  const suffix = p.slice(1);
  return host.length > suffix.length && host.endsWith(suffix);
}

function pathMatches(c: Candidate, path: string): boolean {
  const pm = c.match.path;
  if (pm.kind === 'exact') return path === pm.value;
  if (pm.kind === 'prefix') {
    const p = c.prefix;
    if (p.length === 0) return true;
    return path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47);
  }
  return c.pathRegex!.test(path);
}

function valueMatches(v: ValueMatch, re: RegExp | undefined, actual: string): boolean {
  return re === undefined ? actual === v.value : re.test(actual);
}

function headerValues(name: string, input: MatchInput): string[] {
  switch (name) {
    case ':method':
      return [input.method];
    case ':path':
      return [input.path];
    case ':authority':
    case 'host':
      return [input.authority];
    case ':scheme':
      return [input.scheme];
    default:
      return input.headers.getAll(name);
  }
}

/** Parses a query string into name → last value (agentgateway compares the last occurrence). */
export function parseQuery(qs: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(qs)) out.set(k, v);
  return out;
}

function candidateMatches(c: Candidate, input: MatchInput, path: string, query: () => Map<string, string>): boolean {
  const m = c.match;
  if (m.method !== undefined && m.method !== input.method) return false;
  if (!pathMatches(c, path)) return false;
  for (let i = 0; i < m.headers.length; i++) {
    const h = m.headers[i]!;
    const re = c.headerRegexes[i];
    if (!headerValues(h.name.toLowerCase(), input).some((v) => valueMatches(h.value, re, v))) return false;
  }
  for (let i = 0; i < m.query.length; i++) {
    const q = m.query[i]!;
    const actual = query().get(q.name);
    if (actual === undefined || !valueMatches(q.value, c.queryRegexes[i], actual)) return false;
  }
  return true;
}

function firstIn(list: readonly Candidate[] | undefined, input: MatchInput, path: string, query: () => Map<string, string>): Route | undefined {
  if (list === undefined) return undefined;
  for (const c of list) if (candidateMatches(c, input, path, query)) return c.route;
  return undefined;
}

/** Selects the route for a request, or undefined (→ 404). */
export function matchRoute(table: RouteTable, input: MatchInput): Route | undefined {
  const q = input.path.indexOf('?');
  const path = q < 0 ? input.path : input.path.slice(0, q);
  let parsed: Map<string, string> | undefined;
  const query = (): Map<string, string> => (parsed ??= parseQuery(q < 0 ? '' : input.path.slice(q + 1)));
  if (table.exact.size > 0 || table.wildcards.length > 0) {
    const host = hostOf(input.authority);
    const hit = firstIn(table.exact.get(host), input, path, query);
    if (hit !== undefined) return hit;
    for (const w of table.wildcards) {
      if (host.length > w.suffix.length && host.endsWith(w.suffix)) {
        const r = firstIn(w.candidates, input, path, query);
        if (r !== undefined) return r;
      }
    }
  }
  return firstIn(table.any, input, path, query);
}

/**
 * Picks the listener of a bind for a request host: exact hostname, then the most specific wildcard,
 * then a listener without hostname. Undefined when none accepts the host (→ 404).
 */
export function selectListener(listeners: readonly Listener[], authority: string): Listener | undefined {
  if (listeners.length === 1 && listeners[0]!.hostname === undefined) return listeners[0];
  const host = hostOf(authority);
  let best: Listener | undefined;
  let bestScore = -1;
  for (const l of listeners) {
    let score: number;
    if (l.hostname === undefined) score = 0;
    else if (!hostnameMatches(l.hostname, host)) continue;
    else score = l.hostname.startsWith('*.') ? l.hostname.length : 100_000;
    if (score > bestScore) {
      best = l;
      bestScore = score;
    }
  }
  return best;
}
