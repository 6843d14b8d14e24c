import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeaderList } from './headers.js';
import { connectionTokens, headersFromFlat, headersFromObject, headersFromRaw, isHopByHop, stripHopByHop } from './hop-by-hop.js';

test('strips the fixed hop-by-hop set and keeps end-to-end headers in order', () => {
  const h = new HeaderList([
    ['Connection', 'keep-alive'],
    ['Keep-Alive', 'timeout=5'],
    ['Proxy-Connection', 'x'],
    ['Transfer-Encoding', 'chunked'],
    ['Upgrade', 'h2c'],
    ['Trailer', 'grpc-status'],
    ['Proxy-Authenticate', 'Basic'],
    ['Proxy-Authorization', 'Basic abc'],
    ['x-a', '1'],
    ['content-type', 'text/plain'],
    ['x-a', '2'],
  ]);
  assert.deepEqual(stripHopByHop(h).entries(), [
    ['x-a', '1'],
    ['content-type', 'text/plain'],
    ['x-a', '2'],
  ]);
});

test('drops headers nominated by Connection, case-insensitively and across repeated Connection headers', () => {
  const h = new HeaderList([
    ['connection', 'X-Foo, , x-bar'],
    ['connection', 'X-Baz'],
    ['x-foo', '1'],
    ['x-bar', '2'],
    ['x-baz', '3'],
    ['x-keep', '4'],
  ]);
  assert.deepEqual(stripHopByHop(h).entries(), [['x-keep', '4']]);
});

test('keeps te: trailers (gRPC) but drops other te values, even when Connection names te', () => {
  assert.deepEqual(stripHopByHop(new HeaderList([['te', 'trailers']])).entries(), [['te', 'trailers']]);
  assert.deepEqual(stripHopByHop(new HeaderList([['te', ' Trailers ']])).entries(), [['te', ' Trailers ']]);
  assert.deepEqual(stripHopByHop(new HeaderList([['te', 'gzip, trailers']])).entries(), []);
  assert.deepEqual(
    stripHopByHop(new HeaderList([['connection', 'te'], ['te', 'trailers']])).entries(),
    [['te', 'trailers']],
  );
});

test('drops pseudo-headers; raw and object builders also drop host', () => {
  assert.deepEqual(stripHopByHop(new HeaderList([[':path', '/'], ['host', 'a']])).entries(), [['host', 'a']]);
  assert.deepEqual(
    headersFromRaw(['Host', 'a.com', 'Connection', 'x-y', 'X-Y', '1', 'Accept', '*/*']).entries(),
    [['accept', '*/*']],
  );
  assert.deepEqual(
    headersFromObject({ ':method': 'GET', host: 'h', 'set-cookie': ['a', 'b'], te: 'trailers', n: 5 }, true).entries(),
    [
      ['set-cookie', 'a'],
      ['set-cookie', 'b'],
      ['te', 'trailers'],
      ['n', '5'],
    ],
  );
  assert.deepEqual(headersFromObject({ host: 'h' }, false).entries(), [['host', 'h']]);
});

test('connectionTokens trims, lower-cases and skips empties', () => {
  assert.deepEqual(connectionTokens(' A ,b,, C'), ['a', 'b', 'c']);
  assert.equal(isHopByHop('upgrade'), true);
  assert.equal(isHopByHop('x-upgrade'), false);
});

const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
const headerValue = fc.stringMatching(/^[ -~]{0,16}$/);
const pairs = fc.array(fc.tuple(fc.oneof(headerName, fc.constantFrom('connection', 'te', 'upgrade', 'keep-alive', 'trailer')), headerValue), {
  maxLength: 20,
});

test('property: output never holds a hop-by-hop or nominated header, and the raw/list paths agree', () => {
  fc.assert(
    fc.property(pairs, (ps) => {
      const list = new HeaderList(ps);
      const out = stripHopByHop(list);
      const nominated = new Set(list.getAll('connection').flatMap(connectionTokens).filter((t) => t !== 'te'));
      for (const [n, v] of out) {
        if (n === 'te') assert.equal(v.trim().toLowerCase(), 'trailers');
        else assert.equal(isHopByHop(n), false);
        assert.equal(nominated.has(n), false);
      }
      // Everything else survives, in order.
      const expected = ps.filter(([n, v]) =>
        n === 'te' ? v.trim().toLowerCase() === 'trailers' : !isHopByHop(n) && !nominated.has(n),
      );
      assert.deepEqual(out.entries(), expected);
      const raw = ps.flatMap(([n, v]) => [n, v]);
      assert.deepEqual(headersFromRaw(raw).entries(), expected.filter(([n]) => n !== 'host'));
      // The flat builder (undici's decoded raw headers: names already lower-case) agrees, with and without host.
      const lower = ps.flatMap(([n, v]) => [n.toLowerCase(), v]);
      assert.deepEqual(headersFromFlat([...lower], false).entries(), expected);
      assert.deepEqual(headersFromFlat([...lower], true).entries(), expected.filter(([n]) => n !== 'host'));
      // Idempotent.
      assert.deepEqual(stripHopByHop(out).entries(), out.entries());
    }),
    { numRuns: 300 },
  );
});
