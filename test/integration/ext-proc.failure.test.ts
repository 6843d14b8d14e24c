/**
 * ext_proc failure semantics end to end, failClosed and failOpen, over HTTP/1.1 and HTTP/2: processor down,
 * crash, gRPC error, messageTimeout, protocol errors (wrong phase, empty response), clean close, and a
 * failOpen buffered exchange that restores the original request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { headerValue, reply, startProcessor, type Action, type Handlers } from '../helpers/ext-proc-server.js';
import { call, PROTOS, processing, setupExtProc, suiteCleanup, type ExtProcSetup } from '../helpers/ext-proc-harness.js';

const behave = (c: string | undefined): Action | undefined => {
  switch (c) {
    case 'grpc-error':
      return { grpcError: { code: 13, message: 'processor exploded' } };
    case 'slow':
      return { delayMs: 3000, then: reply.headers('request') };
    case 'wrong-phase':
      return reply.headers('response');
    case 'empty':
      return { empty: true };
    case 'close-ok':
      return { closeOk: true };
    default:
      return undefined;
  }
};

const handlers: Handlers = {
  onRequestHeaders: (msg) => {
    const c = headerValue(msg, 'x-case');
    if (c === 'body-fails') return reply.headers('request', { set: [['x-mutated', 'yes'], [':path', '/mutated']] });
    return behave(c);
  },
  onRequestBody: (_msg, ctx) => {
    const c = headerValue(ctx.received[0]!, 'x-case');
    if (c === 'body-fails') return { grpcError: { code: 14, message: 'gone mid-body' } };
    if (c === 'body-empty') return { empty: true };
    return undefined;
  },
};

const echoUp = (req: { path: string; body: Buffer; headers: Record<string, unknown> }) => ({
  status: 200,
  headers: { 'x-up-path': req.path, 'x-up-mutated': String(req.headers['x-mutated'] ?? 'no') },
  body: req.body.length > 0 ? req.body : 'upstream',
});

describe('ext_proc failures', { timeout: 120_000 }, () => {
  const cleanup = suiteCleanup(after);
  let closed: ExtProcSetup;
  let open: ExtProcSetup;
  const opts = `messageTimeout: 300ms\n${processing({ reqBody: 'buffered', resHeaders: 'skip' })}`;
  before(async () => {
    closed = await setupExtProc(cleanup, { handlers, upstream: echoUp, failureMode: 'failClosed', extra: `statusOnError: 503\n${opts}` });
    open = await setupExtProc(cleanup, { handlers, upstream: echoUp, failureMode: 'failOpen', extra: opts });
  });

  for (const proto of PROTOS) {
    const cases: Array<[string, number, RegExp]> = [
      ['grpc-error', 503, /gRPC status 13 while request_headers was awaited: processor exploded/],
      ['slow', 504, /did not answer request_headers within messageTimeout \(300ms\)/],
      ['wrong-phase', 503, /sent response_headers while request_headers was awaited/],
      ['empty', 503, /answered request_headers with an empty response/],
      ['body-empty', 503, /answered request_body with an empty response \(no oneof set\); in buffered mode it must send a BodyResponse/],
    ];
    for (const [c, status, reason] of cases) {
      it(`HTTP/${proto}: ${c} fails closed with ${status} and a reason; fails open to the unmodified upstream`, async () => {
        const a = await call(proto, closed.url, { path: '/x', body: 'data', headers: { 'x-case': c } });
        assert.equal(a.status, status);
        assert.match(a.text, /^ext_proc failed: /);
        assert.match(a.text, reason);
        const b = await call(proto, open.url, { path: '/x', body: 'data', headers: { 'x-case': c } });
        assert.equal(b.status, 200);
        assert.equal(b.text, 'data');
      });
    }

    it(`HTTP/${proto}: a processor closing OK means continue unmodified (both modes)`, async () => {
      for (const s of [closed, open]) {
        const r = await call(proto, s.url, { path: '/ok', body: 'data', headers: { 'x-case': 'close-ok' } });
        assert.equal(r.status, 200);
        assert.equal(r.text, 'data');
      }
    });

    it(`HTTP/${proto}: failOpen after a body failure restores the original headers, path and body`, async () => {
      const r = await call(proto, open.url, { path: '/orig', body: 'original', headers: { 'x-case': 'body-fails' } });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'original');
      assert.equal(r.headers['x-up-path'], '/orig');
      assert.equal(r.headers['x-up-mutated'], 'no');
      const c = await call(proto, closed.url, { path: '/orig', body: 'original', headers: { 'x-case': 'body-fails' } });
      assert.equal(c.status, 503);
      assert.match(c.text, /gRPC status 14 while request_body was awaited/);
    });
  }

  it('a failure shows in the access log (phases, outcome, reason, failOpen) and in the metrics', async () => {
    const r = await call('1.1', open.url, { path: '/observed', body: 'd', headers: { 'x-case': 'grpc-error' } });
    assert.equal(r.status, 200);
    const line = await open.gw.waitForLine((l) => l.includes('"path":"/observed"'));
    const rec = JSON.parse(line) as { extProc: Array<{ phases: string[]; outcome: string; failureReason: string; failOpen: boolean; timeMs: number }> };
    const ep = rec.extProc[0]!;
    assert.deepEqual(ep.phases, ['request_headers']);
    assert.equal(ep.outcome, 'fail_open');
    assert.equal(ep.failOpen, true);
    assert.match(ep.failureReason, /gRPC status 13/);
    assert.equal(typeof ep.timeMs, 'number');
    const metrics = await (await fetch(`${open.gw.statsUrl}/metrics`)).text();
    assert.match(metrics, /tollgate_ext_proc_failures_total\{[^}]*reason="grpc_status"[^}]*\} [1-9]/);
    assert.match(metrics, /tollgate_ext_proc_fail_open_total\{[^}]*\} [1-9]/);
    assert.match(metrics, /tollgate_ext_proc_streams_total\{[^}]*\} [1-9]/);
    assert.match(metrics, /tollgate_ext_proc_phase_duration_seconds_count\{[^}]*phase="request_body"[^}]*\} [1-9]/);
  });

  it('the gateway keeps serving after every failure above', async () => {
    const r = await call('1.1', closed.url, { path: '/fine', body: 'still' });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'still');
  });
});

describe('ext_proc processor down or crashing', { timeout: 120_000 }, () => {
  for (const failureMode of ['failClosed', 'failOpen'] as const) {
    it(`${failureMode}: processor down`, async (t) => {
      const port = await freePort();
      const s = await setupExtProc(t, { failureMode, host: `127.0.0.1:${port}`, extra: processing({ resHeaders: 'skip' }) });
      for (const proto of PROTOS) {
        const r = await call(proto, s.url, { path: '/down' });
        if (failureMode === 'failClosed') {
          assert.equal(r.status, 500);
          assert.match(r.text, /^ext_proc failed: /);
        } else {
          assert.equal(r.status, 200);
        }
      }
    });

    it(`${failureMode}: processor crashes mid-exchange, then comes back on the same port`, async (t) => {
      const s = await setupExtProc(t, {
        failureMode,
        extra: processing({ reqBody: 'buffered', resHeaders: 'skip' }),
        handlers: { onRequestBody: () => ({ crash: true }) },
      });
      for (const proto of PROTOS) {
        const r = await call(proto, s.url, { path: '/crash', body: 'b' });
        if (failureMode === 'failClosed') assert.equal(r.status, 500);
        else assert.equal(r.status, 200);
        if (failureMode === 'failClosed') assert.match(r.text, /^ext_proc failed: /);
      }
      // A processor that restarts on the same address is used again (reconnect with backoff).
      const again = await startProcessor({}, { port: s.proc.port });
      t.after(() => again.stop());
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        const r = await call('1.1', s.url, { path: '/back', body: 'b' });
        ok = r.status === 200 && again.streams > 0;
        if (!ok) await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(ok, 'the restarted processor is used again');
    });
  }
});
