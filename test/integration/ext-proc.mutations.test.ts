/**
 * ext_proc header mutations end to end (real gateway, upstream and processor), over HTTP/1.1 and HTTP/2:
 * append_action rules, raw_value/value, pseudo-headers and host, :status, CR/LF never applied, what the
 * processor receives, traceparent, and 200 concurrent exchanges over one processor connection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppendAction, headerPairs, headerValue, reply, type Handlers } from '../helpers/ext-proc-server.js';
import { call, PROTOS, processing, setupExtProc, suiteCleanup, type ExtProcSetup } from '../helpers/ext-proc-harness.js';

/** The processor picks its behaviour from the request's x-case header. */
const handlers: Handlers = {
  onRequestHeaders: (msg) => {
    const id = headerValue(msg, 'x-id') ?? '';
    switch (headerValue(msg, 'x-case')) {
      case 'set':
        return reply.headers('request', {
          set: [
            ['x-new', 'v1'],
            { name: 'x-multi', value: 'second', append: true },
            { name: 'x-kept', value: 'ignored', action: AppendAction.ADD_IF_ABSENT },
            { name: 'x-absent', value: 'ignored', action: AppendAction.OVERWRITE_IF_EXISTS },
            { name: 'x-string', value: 'from-value', asString: true },
          ],
          remove: ['x-remove-me'],
        });
      case 'inject':
        return reply.headers('request', { set: [['x-evil', 'a\r\nx-injected: 1'], ['x-fine', 'ok']] });
      case 'route':
        return reply.headers('request', { set: [[':path', '/rewritten?x=1'], ['host', 'other.example:81'], [':method', 'PUT']] });
      case 'echo':
        return reply.headers('request', { set: [['x-seen-id', id]] });
      default:
        return undefined;
    }
  },
  onResponseHeaders: (_msg, ctx) => {
    const req = ctx.received[0]!;
    const c = headerValue(req, 'x-case');
    if (c === 'set') return reply.headers('response', { set: [[':status', '203'], ['x-resp', 'added']], remove: ['x-up-remove'] });
    if (c === 'bad-status') return reply.headers('response', { set: [[':status', '99'], ['x-resp', 'still-applied']] });
    if (c === 'informational-status') return reply.headers('response', { set: [[':status', '150'], ['x-resp', 'still-applied']] });
    if (c === 'echo') return reply.headers('response', { set: [['x-echo-id', headerValue(req, 'x-id') ?? '']] });
    return undefined;
  },
};

describe('ext_proc mutations', { timeout: 60_000 }, () => {
  const cleanup = suiteCleanup(after);
  let s: ExtProcSetup;
  before(async () => {
    s = await setupExtProc(cleanup, {
      handlers,
      extra: processing({}),
      upstream: (req) => ({
        status: 200,
        headers: { 'content-type': 'application/json', 'x-up-remove': 'x', 'x-id': String(req.headers['x-id'] ?? '') },
        body: JSON.stringify({ path: req.path, method: req.method, authority: req.authority, headers: req.headers, body: req.body.toString() }),
      }),
    });
  });

  for (const proto of PROTOS) {
    it(`HTTP/${proto}: set/append/add-if-absent/overwrite-if-exists/remove, value fallback, response :status`, async () => {
      const r = await call(proto, s.url, { path: '/a', headers: { 'x-case': 'set', 'x-multi': 'first', 'x-kept': 'orig', 'x-remove-me': '1' } });
      assert.equal(r.status, 203);
      assert.equal(r.headers['x-resp'], 'added');
      assert.equal(r.headers['x-up-remove'], undefined);
      const up = JSON.parse(r.text) as { headers: Record<string, string | string[]> };
      assert.equal(up.headers['x-new'], 'v1');
      assert.equal(([] as string[]).concat(up.headers['x-multi'] ?? []).join(', '), 'first, second');
      assert.equal(up.headers['x-kept'], 'orig');
      assert.equal(up.headers['x-absent'], undefined);
      assert.equal(up.headers['x-string'], 'from-value');
      assert.equal(up.headers['x-remove-me'], undefined);
    });

    it(`HTTP/${proto}: a value with CR/LF is never applied (and is counted); the rest of the reply is`, async () => {
      const rejected = async (): Promise<number> => {
        const text = await (await fetch(`${s.gw.statsUrl}/metrics`)).text();
        return Number(/^tollgate_ext_proc_mutations_rejected_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
      };
      const before = await rejected();
      const r = await call(proto, s.url, { path: '/b', headers: { 'x-case': 'inject' } });
      assert.equal(await rejected(), before + 1, 'the refused mutation shows in tollgate_ext_proc_mutations_rejected_total');
      assert.equal(r.status, 200);
      const up = JSON.parse(r.text) as { headers: Record<string, string> };
      assert.equal(up.headers['x-evil'], undefined);
      assert.equal(up.headers['x-injected'], undefined);
      assert.equal(up.headers['x-fine'], 'ok');
    });

    it(`HTTP/${proto}: :path, host and :method rewrites reach the upstream`, async () => {
      const r = await call(proto, s.url, { path: '/orig', headers: { 'x-case': 'route' } });
      const up = JSON.parse(r.text) as { path: string; method: string; authority: string };
      assert.equal(up.path, '/rewritten?x=1');
      assert.equal(up.method, 'PUT');
      assert.equal(up.authority, 'other.example:81');
    });

    it(`HTTP/${proto}: an invalid :status is ignored while other mutations apply`, async () => {
      const r = await call(proto, s.url, { path: '/c', headers: { 'x-case': 'bad-status' } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-resp'], 'still-applied');
    });

    it(`HTTP/${proto}: a :status below 200 is ignored while other mutations apply`, async () => {
      const r = await call(proto, s.url, { path: '/c', headers: { 'x-case': 'informational-status' } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-resp'], 'still-applied');
    });
  }

  it('the processor sees pseudo-headers first, raw values, end_of_stream, protocol_config and traceparent', async () => {
    const before = s.proc.records.length;
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await call('1.1', s.url, { path: '/p?q=1', headers: { 'x-case': 'none', traceparent: tp, 'x-bin': 'caf\xe9' } });
    const rec = s.proc.records[before]!;
    const first = rec.received[0]!;
    const pairs = headerPairs(first);
    assert.deepEqual(pairs.slice(0, 4).map(([k]) => k), [':method', ':scheme', ':authority', ':path']);
    assert.equal(headerValue(first, ':path'), '/p?q=1');
    assert.equal(headerValue(first, 'x-bin'), 'caf\xe9');
    assert.equal(first.requestHeaders!.endOfStream, true);
    assert.ok(first.protocolConfig != null);
    assert.equal(rec.received[1]!.protocolConfig, null);
    assert.equal(headerValue(rec.received[1]!, ':status'), '200');
    assert.equal(rec.metadata['traceparent'], tp);
    assert.ok(pairs.every(([k]) => k !== 'connection' && k !== 'host'));
  });

  for (const proto of PROTOS) {
    it(`HTTP/${proto}: 200 concurrent exchanges over one processor connection are never mixed up`, { timeout: 60_000 }, async () => {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => call(proto, s.url, { path: `/c/${i}`, headers: { 'x-case': 'echo', 'x-id': `id-${i}` } })),
      );
      results.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-echo-id'], `id-${i}`);
        const up = JSON.parse(r.text) as { path: string; headers: Record<string, string> };
        assert.equal(up.path, `/c/${i}`);
        assert.equal(up.headers['x-seen-id'], `id-${i}`);
      });
      assert.equal(s.proc.connections, 1, 'one shared HTTP/2 connection to the processor');
    });
  }
});
