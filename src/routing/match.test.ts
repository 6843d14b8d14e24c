import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeaderList } from '../http/headers.js';
import { compileRoutes, hostOf, hostnameMatches, matchRoute, selectListener, type MatchInput } from './match.js';
import { listener, match, route } from '../config/model-fixtures.js';
import type { Route } from '../config/model.js';

function req(p: string, opts: { method?: string; host?: string; headers?: [string, string][] } = {}): MatchInput {
  return {
    method: opts.method ?? 'GET',
    authority: opts.host ?? 'example.com',
    path: p,
    scheme: 'http',
    headers: new HeaderList(opts.headers ?? []),
  };
}

function pick(routes: Route[], input: MatchInput): string | undefined {
  return matchRoute(compileRoutes(routes), input)?.name;
}

test('pathPrefix is segment-aware and ignores trailing slashes', () => {
  const routes = [route('foo', 0, { matches: [match('/foo/')] })];
  assert.equal(pick(routes, req('/foo')), 'foo');
  assert.equal(pick(routes, req('/foo/')), 'foo');
  assert.equal(pick(routes, req('/foo/bar?x=1')), 'foo');
  assert.equal(pick(routes, req('/foobar')), undefined);
  assert.equal(pick([route('root', 0, { matches: [match('/')] })], req('/anything')), 'root');
});

test('exact beats prefix beats regex; longer path first; then config order', () => {
  const routes = [
    route('regex', 0, { matches: [match('~/a/.*')] }),
    route('short', 1, { matches: [match('/a')] }),
    route('long', 2, { matches: [match('/a/b')] }),
    route('exact', 3, { matches: [match('=/a/b')] }),
    route('dup', 4, { matches: [match('/a/b')] }),
  ];
  assert.equal(pick(routes, req('/a/b')), 'exact');
  assert.equal(pick(routes, req('/a/b/c')), 'long');
  assert.equal(pick(routes, req('/a/x')), 'short');
});

test('regex must match the whole path', () => {
  const routes = [route('r', 0, { matches: [match('~/v[0-9]+|/v[0-9]+/x')] })];
  assert.equal(pick(routes, req('/v1')), 'r');
  assert.equal(pick(routes, req('/v1/x')), 'r');
  assert.equal(pick(routes, req('/v1/y')), undefined);
  assert.equal(pick(routes, req('/pre/v1')), undefined);
});

test('method, headers (exact and regex) and query narrow the match and rank higher', () => {
  const routes = [
    route('plain', 0),
    route('post', 1, { matches: [match('/', { method: 'POST' })] }),
    route('hdr', 2, { matches: [match('/', { headers: { 'x-env': 'canary', 'x-ver': '~v[12]' } })] }),
    route('q', 3, { matches: [match('/', { query: { debug: 'true' } })] }),
    route('pseudo', 4, { matches: [match('/', { headers: { ':method': 'PUT' } })] }),
  ];
  assert.equal(pick(routes, req('/')), 'plain');
  assert.equal(pick(routes, req('/', { method: 'POST' })), 'post');
  assert.equal(pick(routes, req('/', { headers: [['x-env', 'canary'], ['x-ver', 'v2']] })), 'hdr');
  assert.equal(pick(routes, req('/', { headers: [['x-env', 'canary'], ['x-ver', 'v3']] })), 'plain');
  assert.equal(pick(routes, req('/?debug=false&debug=true')), 'q');
  assert.equal(pick(routes, req('/?debug=true&debug=false')), 'plain');
  assert.equal(pick(routes, req('/', { method: 'PUT' })), 'pseudo');
});

test('hostnames: exact before wildcard before none; falls through when the bucket has no path match', () => {
  const routes = [
    route('any', 0),
    route('wild', 1, { hostnames: ['*.example.com'] }),
    route('exact', 2, { hostnames: ['api.example.com'], matches: [match('/v1')] }),
    route('deeper', 3, { hostnames: ['*.eu.example.com'] }),
  ];
  assert.equal(pick(routes, req('/v1', { host: 'API.example.com:8080' })), 'exact');
  assert.equal(pick(routes, req('/v2', { host: 'api.example.com' })), 'wild');
  assert.equal(pick(routes, req('/', { host: 'x.eu.example.com' })), 'deeper');
  assert.equal(pick(routes, req('/', { host: 'example.com' })), 'any');
  assert.equal(pick(routes, req('/', { host: 'other.org' })), 'any');
});

test('hostOf strips ports and keeps IPv6 brackets', () => {
  assert.equal(hostOf('A.com:80'), 'a.com');
  assert.equal(hostOf('[::1]:8080'), '[::1]');
  assert.equal(hostOf('a.com.'), 'a.com');
  assert.equal(hostnameMatches('*.a.com', 'a.com'), false);
  assert.equal(hostnameMatches('*.a.com', 'x.y.a.com'), true);
});

test('listener selection: exact, then wildcard, then catch-all; none → undefined', () => {
  const a = listener([], { hostname: 'a.com', name: 'a' });
  const w = listener([], { hostname: '*.a.com', name: 'w' });
  const d = listener([], { name: 'd' });
  assert.equal(selectListener([d, w, a], 'a.com:3000')?.name, 'a');
  assert.equal(selectListener([d, w, a], 'x.a.com')?.name, 'w');
  assert.equal(selectListener([d, w, a], 'b.com')?.name, 'd');
  assert.equal(selectListener([w, a], 'b.com'), undefined);
});

const seg = fc.constantFrom('a', 'b', 'c');
const pathArb = fc.array(seg, { maxLength: 4 }).map((s) => '/' + s.join('/'));

test('property: the chosen route matches, and no more specific matching route was passed over', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('=', '', '~'), pathArb, fc.option(fc.constantFrom('GET', 'POST'), { nil: undefined })), {
        minLength: 1,
        maxLength: 8,
      }),
      pathArb,
      fc.constantFrom('GET', 'POST'),
      (specs, p, method) => {
        const routes = specs.map(([k, v, m], i) =>
          route(`r${i}`, i, { matches: [match(k === '~' ? `~${v}.*` : k + v, m === undefined ? {} : { method: m })] }),
        );
        const got = matchRoute(compileRoutes(routes), req(p, { method }));
        const matches = (r: Route): boolean => {
          const m = r.matches[0]!;
          if (m.method !== undefined && m.method !== method) return false;
          if (m.path.kind === 'exact') return m.path.value === p;
          if (m.path.kind === 'regex') return new RegExp(`^(?:${m.path.value})$`).test(p);
          const pre = m.path.value.replace(/\/+$/, '');
          return pre === '' || p === pre || p.startsWith(pre + '/');
        };
        const matching = routes.filter(matches);
        if (matching.length === 0) return got === undefined;
        assert.ok(got !== undefined && matches(got));
        const rank = { exact: 0, prefix: 1, regex: 2 } as const;
        const g = got.matches[0]!;
        for (const r of matching) {
          const m = r.matches[0]!;
          assert.ok(rank[m.path.kind] >= rank[g.path.kind], 'a more specific path kind was skipped');
          if (m.path.kind === g.path.kind) assert.ok(m.path.value.length <= g.path.value.length);
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
});
