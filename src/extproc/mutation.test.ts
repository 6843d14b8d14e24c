import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeaderList } from '../http/headers.js';
import type { HeaderMutation, HeaderValueOption } from './messages.js';
import { appendActionOf, bodyChange, immediateResponse, mutateRequestHead, mutateResponseHead, mutateTrailers, valueOf, type RequestHead } from './mutation.js';

const set = (key: string, value: string, extra: Partial<HeaderValueOption> = {}): HeaderValueOption => ({ header: { key, rawValue: Buffer.from(value, 'latin1') }, ...extra });
const req = (h: Array<[string, string]> = []): RequestHead => ({ method: 'GET', scheme: 'http', authority: 'a.test', path: '/x', headers: new HeaderList(h) });

describe('header mutation', { timeout: 10_000 }, () => {
  it('append_action 0 falls back to append: unset/false overwrite, true appends', () => {
    assert.equal(appendActionOf({}), 'overwriteOrAdd');
    assert.equal(appendActionOf({ append: { value: false } }), 'overwriteOrAdd');
    assert.equal(appendActionOf({ append: { value: true } }), 'append');
    assert.equal(appendActionOf({ appendAction: 1 }), 'addIfAbsent');
    assert.equal(appendActionOf({ appendAction: 2, append: { value: true } }), 'overwriteOrAdd');
    assert.equal(appendActionOf({ appendAction: 3 }), 'overwriteIfExists');
    assert.equal(appendActionOf({ appendAction: 42 as never }), 'append');
  });

  it('applies removals first, then sets in order with each append action', () => {
    const h = req([['a', '1'], ['b', '2'], ['c', '3']]);
    const rejected = mutateRequestHead(h, {
      removeHeaders: ['B'],
      setHeaders: [
        set('a', 'x'), set('a', 'y', { append: { value: true } }), set('b', 'new', { appendAction: 3 }),
        set('c', 'keep', { appendAction: 1 }), set('d', 'added', { appendAction: 1 }), set('X-Upper', 'v'),
      ],
    });
    assert.deepEqual(rejected, []);
    assert.deepEqual(h.headers.entries(), [['a', 'x'], ['c', '3'], ['a', 'y'], ['d', 'added'], ['x-upper', 'v']]);
  });

  it('prefers raw_value, falls back to value; both empty is rejected', () => {
    assert.equal(valueOf({ header: { key: 'k', value: 'v', rawValue: Buffer.from('raw') } }), 'raw');
    assert.equal(valueOf({ header: { key: 'k', value: 'v', rawValue: Buffer.alloc(0) } }), 'v');
    assert.equal(valueOf({ header: { key: 'k', value: 'é' } }), Buffer.from('é').toString('latin1'));
    const h = req();
    assert.equal(mutateRequestHead(h, { setHeaders: [{ header: { key: 'k' } }] }).length, 1);
    assert.equal(h.headers.size, 0);
  });

  it('pseudo-headers overwrite, host sets :authority, routing fields change', () => {
    const h = req();
    const rejected = mutateRequestHead(h, {
      setHeaders: [set(':path', '/new?q=1', { append: { value: true } }), set(':method', 'POST'), set('host', 'b.test:81', { appendAction: 1 }), set(':status', '201')],
    });
    assert.deepEqual([h.path, h.method, h.authority], ['/new?q=1', 'POST', 'b.test:81']);
    assert.equal(h.headers.has('host'), false);
    assert.deepEqual(rejected.map((r) => r.header), [':status']);
  });

  it(':status applies only when numeric and at least 200; other mutations in the reply still apply', () => {
    for (const [v, want] of [['204', 204], ['100', 200], ['abc', 200], ['99', 200], ['1000', 200]] as const) {
      const r = { status: 200, headers: new HeaderList() };
      mutateResponseHead(r, { setHeaders: [set(':status', v), set('x-ok', '1')] });
      assert.equal(r.status, want, v);
      assert.equal(r.headers.get('x-ok'), '1');
    }
  });

  it('never applies a name or value with CR, LF or NUL (property)', () => {
    const evil = fc.tuple(fc.string(), fc.constantFrom('\r', '\n', '\0'), fc.string()).map(([a, b, c]) => a + b + c);
    fc.assert(
      fc.property(evil, fc.boolean(), fc.boolean(), (bad, inName, response) => {
        const m: HeaderMutation = { setHeaders: [inName ? set(bad, 'v') : set('x-h', bad)] };
        const before = new HeaderList([['x-h', 'orig']]);
        const r = response ? { status: 200, headers: before.clone() } : { ...req(before.entries()) };
        const rejected = response ? mutateResponseHead(r as never, m) : mutateRequestHead(r as RequestHead, m);
        assert.equal(rejected.length, 1);
        assert.deepEqual(r.headers.entries(), before.entries());
        for (const [n, v] of r.headers) assert.ok(!/[\r\n\0]/.test(n + v));
      }),
    );
  });

  it('refuses hop-by-hop names, invalid pseudo values and pseudo-header removal', () => {
    const h = req();
    const rejected = mutateRequestHead(h, {
      removeHeaders: [':path'],
      setHeaders: [set('transfer-encoding', 'chunked'), set(':path', 'no-slash'), set(':scheme', 'ftp'), set(':nope', 'x'), set('bad name', 'x')],
    });
    assert.equal(rejected.length, 6);
    assert.equal(h.path, '/x');
  });

  it('trailer mutations ignore pseudo-headers', () => {
    const t = new HeaderList([['grpc-status', '0']]);
    const rejected = mutateTrailers(t, { setHeaders: [set('grpc-status', '7'), set(':status', '500')] });
    assert.equal(t.get('grpc-status'), '7');
    assert.equal(rejected.length, 1);
  });
});

describe('body mutation', { timeout: 5_000 }, () => {
  it('reads body, clear_body, streamed_response and none', () => {
    assert.deepEqual(bodyChange(undefined), { kind: 'unchanged' });
    assert.deepEqual(bodyChange({ body: Buffer.from('x') }), { kind: 'replace', body: Buffer.from('x') });
    assert.deepEqual(bodyChange({ clearBody: true }), { kind: 'replace', body: Buffer.alloc(0) });
    assert.deepEqual(bodyChange({ streamedResponse: { body: Buffer.from('s'), endOfStream: true } }), { kind: 'streamed', body: Buffer.from('s'), endOfStream: true });
    assert.deepEqual(bodyChange({ body: null, clearBody: null, streamedResponse: null } as never), { kind: 'unchanged' });
  });
});

describe('immediate response', { timeout: 5_000 }, () => {
  it('defaults to 200 and text/plain; below 200 becomes 200; body as given', () => {
    const a = immediateResponse({ body: Buffer.from('hi') }, false);
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('content-type'), 'text/plain');
    assert.equal(a.body.toString(), 'hi');
    assert.equal(immediateResponse({ status: { code: 100 as never } }, false).status, 200);
    const b = immediateResponse({ status: { code: 403 as never }, headers: { setHeaders: [set('content-type', 'application/json'), set('x-a', 'b\r\nevil: 1')] } }, false);
    assert.equal(b.status, 403);
    assert.equal(b.headers.get('content-type'), 'application/json');
    assert.equal(b.headers.has('x-a'), false);
    assert.equal(b.rejected.length, 1);
  });
  it('gRPC requests get grpc-status from grpc_status (else mapped) and grpc-message', () => {
    const a = immediateResponse({ status: { code: 403 as never }, grpcStatus: { status: 7 }, body: Buffer.from('no way 100%') }, true);
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('content-type'), 'application/grpc');
    assert.equal(a.headers.get('grpc-status'), '7');
    assert.equal(a.headers.get('grpc-message'), 'no way 100%25');
    assert.equal(a.body.length, 0);
    assert.equal(immediateResponse({ status: { code: 503 as never } }, true).headers.get('grpc-status'), '14');
  });
});
