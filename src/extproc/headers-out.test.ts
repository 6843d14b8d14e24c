import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeaderList } from '../http/headers.js';
import { requestHeaderMap, responseHeaderMap, trailerMap } from './headers-out.js';

const flat = (m: { headers: Array<{ key?: string | null; rawValue?: Uint8Array | null }> }): string[] =>
  m.headers.map((h) => `${h.key}=${Buffer.from(h.rawValue!).toString('latin1')}`);

describe('headers sent to the processor', { timeout: 10_000 }, () => {
  it('request: pseudo-headers first, raw values, repeated entries, hop-by-hop dropped', () => {
    const headers = new HeaderList([['accept', 'a'], ['x-r', '1'], ['connection', 'close'], ['x-r', '2'], ['te', 'trailers'], ['host', 'h'], ['upgrade', 'h2c']]);
    const m = requestHeaderMap({ method: 'POST', scheme: 'http', authority: 'a.test:8080', path: '/p?q=1', headers });
    assert.deepEqual(flat(m), [':method=POST', ':scheme=http', ':authority=a.test:8080', ':path=/p?q=1', 'accept=a', 'x-r=1', 'x-r=2', 'te=trailers']);
    // Pseudo-headers also in `value` (agentgateway-style processors read it); regular headers only in raw_value.
    assert.equal(m.headers[3]!.value, '/p?q=1');
    assert.equal(m.headers[4]!.value, undefined);
  });
  it('upgrade: shown on an upgrade request and its 101 (as Envoy re-adds it), connection never', () => {
    const headers = new HeaderList([['upgrade', 'websocket'], ['connection', 'upgrade'], ['sec-websocket-key', 'k']]);
    const req = requestHeaderMap({ method: 'GET', scheme: 'http', authority: 'a', path: '/ws', headers, upgrade: 'websocket' });
    assert.deepEqual(flat(req).slice(4), ['upgrade=websocket', 'sec-websocket-key=k']);
    assert.deepEqual(flat(responseHeaderMap({ status: 101, headers })).slice(1), ['upgrade=websocket', 'sec-websocket-key=k']);
    assert.deepEqual(flat(responseHeaderMap({ status: 200, headers })).slice(1), ['sec-websocket-key=k']);
  });
  it('response: :status first; trailers carry no pseudo-headers', () => {
    assert.deepEqual(flat(responseHeaderMap({ status: 404, headers: new HeaderList([['x', 'y']]) })), [':status=404', 'x=y']);
    assert.deepEqual(flat(trailerMap(new HeaderList([['grpc-status', '0']]))), ['grpc-status=0']);
  });
  it('bytes that are not UTF-8 round-trip exactly (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
        const v = Buffer.from(bytes).toString('latin1');
        const m = responseHeaderMap({ status: 200, headers: new HeaderList([['x-bin', v]]) });
        assert.deepEqual(Buffer.from(m.headers[1]!.rawValue!), Buffer.from(bytes));
        assert.equal(m.headers[1]!.key, 'x-bin');
      }),
    );
  });
});
