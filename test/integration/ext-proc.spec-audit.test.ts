/**
 * SPEC §2 rules that had no end-to-end test: the failClosed reply is text/plain; a gRPC client gets a gRPC
 * status when the processor fails; a failure after response headers reached the client aborts its stream
 * (HTTP/2 reset, HTTP/1.1 close) instead of truncating it; full-duplex failOpen continues with the original
 * body; a processor named through `backend:` works; a timeout while a full-duplex body waits gives 504 even
 * with statusOnError set; override_message_timeout works with a real gRPC processor.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { headerValue, reply, type Handlers } from '../helpers/ext-proc-server.js';
import { call, PROTOS, setupExtProc } from '../helpers/ext-proc-harness.js';
import { routesConfig } from '../helpers/gateway-fixtures.js';

const echoUp = (req: { path: string; body: Buffer }) => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: req.body.length > 0 ? req.body : `upstream ${req.path}` });

const handlers: Handlers = {
  onRequestHeaders: (msg) => {
    const c = headerValue(msg, 'x-case');
    if (c === 'fail-headers') return { grpcError: { code: 13, message: 'processor exploded' } };
    if (c === 'fail-duplex-body') return null; // holds the headers reply until it read the body (a body router)
    // Answers the headers (with a header of its own), then fails on the first body chunk, before it echoed anything.
    if (c?.startsWith('fail-after-headers-') === true) return reply.headers('request', { set: [['x-added', 'by-processor']] });
    return undefined;
  },
  onRequestBody: (msg, ctx) => {
    const c = headerValue(ctx.received[0]!, 'x-case');
    // Fails once it has the whole body, before it answered anything: the headers were not forwarded and
    // nothing processed was, so failOpen can continue with the original.
    if (c === 'fail-duplex-body') return msg.requestBody!.endOfStream === true ? { grpcError: { code: 14, message: 'gone' } } : null;
    if (c === 'silent-duplex-body') return null; // never answers: the idle timer must fire once it has everything
    if (c === 'fail-after-headers-error') return { grpcError: { code: 13, message: 'boom' } };
    if (c === 'fail-after-headers-empty') return { empty: true };
    if (c === 'fail-after-headers-silent') return null; // messageTimeout
    return undefined;
  },
  onResponseBody: (msg, ctx) => {
    const c = headerValue(ctx.received[0]!, 'x-case');
    // Blocks the response on its first body chunk, before anything processed went to the client.
    if (c === 'block-response-body') return reply.immediate({ status: 451, body: 'blocked by policy' });
    if (c === 'fail-response-body') return { grpcError: { code: 13, message: 'response scanner died' } };
    if (c !== 'fail-late') return undefined;
    // The client already has the response headers and a first processed chunk; then the processor dies.
    return [reply.streamed('response', Buffer.from(msg.responseBody!.body ?? []).subarray(0, 4), false), { grpcError: { code: 13, message: 'late' } }];
  },
};

describe('SPEC §2 audit, end to end (default options: full duplex both ways)', { timeout: 120_000 }, () => {
  it('failClosed: statusOnError with a text/plain "ext_proc failed: <reason>" body; 504 for a timeout even with statusOnError', async (t) => {
    const s = await setupExtProc(t, { handlers, upstream: echoUp, extra: 'statusOnError: 503\nmessageTimeout: 300ms' });
    for (const proto of PROTOS) {
      const r = await call(proto, s.url, { path: '/x', headers: { 'x-case': 'fail-headers' } });
      assert.equal(r.status, 503);
      assert.match(String(r.headers['content-type']), /^text\/plain/);
      assert.match(r.text, /^ext_proc failed: .*processor exploded/);
      const slow = await call(proto, s.url, { method: 'POST', path: '/x', headers: { 'x-case': 'silent-duplex-body' }, body: ['a', 'b'] });
      assert.equal(slow.status, 504);
      assert.match(slow.text, /^ext_proc failed: .*within messageTimeout \(300ms\)/);
    }
  });

  it('override_message_timeout from a real gRPC processor extends the wait once; out-of-range values are ignored', async (t) => {
    const s = await setupExtProc(t, {
      upstream: echoUp,
      extra: 'messageTimeout: 300ms',
      handlers: {
        onRequestHeaders: (msg) => {
          const seconds = Number(headerValue(msg, 'x-override'));
          // Announces it needs longer, then answers after twice the configured messageTimeout.
          return [{ overrideMessageTimeout: { seconds } }, { delayMs: 600, then: reply.headers('request') }];
        },
      },
    });
    for (const proto of PROTOS) {
      assert.equal((await call(proto, s.url, { path: '/ok', headers: { 'x-override': '30' } })).status, 200);
      const tooLong = await call(proto, s.url, { path: '/no', headers: { 'x-override': '7200' } });
      assert.equal(tooLong.status, 504);
      assert.match(tooLong.text, /within messageTimeout \(300ms\)/);
    }
  });

  it('full-duplex response: an immediate_response or a failure before the first processed byte gets a whole response, not an aborted stream', async (t) => {
    const s = await setupExtProc(t, { handlers, upstream: () => ({ status: 200, body: 'secret upstream body' }) });
    for (const proto of PROTOS) {
      const blocked = await call(proto, s.url, { path: '/b', headers: { 'x-case': 'block-response-body' } });
      assert.equal(blocked.status, 451, `HTTP/${proto}`);
      assert.equal(blocked.text, 'blocked by policy');
      const failed = await call(proto, s.url, { path: '/f', headers: { 'x-case': 'fail-response-body' } });
      assert.equal(failed.status, 500, `HTTP/${proto}`);
      assert.match(failed.text, /^ext_proc failed: .*response scanner died/);
    }
  });

  it('a client that cancels mid-response is logged as client_closed, not as a processor failure', async (t) => {
    const s = await setupExtProc(t, { handlers, upstream: () => ({ status: 200, body: ['first', 'second', 'third'], chunkDelayMs: 300 }) });
    const { request } = await import('undici');
    const ac = new AbortController();
    const res = await request(`${s.url}/cancelled`, { signal: ac.signal });
    for await (const _chunk of res.body) {
      ac.abort();
      break;
    }
    const line = JSON.parse(await s.gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes('"path":"/cancelled"'))) as Record<string, unknown>;
    assert.equal(line.errorCode, 'client_closed', JSON.stringify(line));
    assert.equal(line.status, 200, 'the status the client was sent');
  });

  it('a failure after response headers reached the client aborts its stream (never a silent truncation)', async (t) => {
    const s = await setupExtProc(t, { handlers, upstream: () => ({ status: 200, body: 'abcdefghijklmnop' }) });
    for (const proto of PROTOS) {
      await assert.rejects(call(proto, s.url, { path: '/late', headers: { 'x-case': 'fail-late' } }), `HTTP/${proto}`);
    }
    // The gateway is unharmed.
    assert.equal((await call('1.1', s.url, { path: '/fine' })).status, 200);
  });

  it('failOpen in full duplex: a failure before anything processed was forwarded continues with the original body', async (t) => {
    const s = await setupExtProc(t, { handlers, upstream: echoUp, failureMode: 'failOpen' });
    for (const proto of PROTOS) {
      const r = await call(proto, s.url, { method: 'POST', path: '/x', headers: { 'x-case': 'fail-duplex-body' }, body: ['orig', 'inal'] });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'original');
    }
  });

  it('failOpen in full duplex holds after the headers reply, until the first processed byte: the original goes on, the header change is undone', async (t) => {
    const seen: Array<string | undefined> = [];
    const upstream = (req: { path: string; body: Buffer; headers: Record<string, string | string[] | undefined> }) => {
      seen.push(req.headers['x-added'] as string | undefined);
      return echoUp(req);
    };
    const s = await setupExtProc(t, { handlers, upstream, failureMode: 'failOpen', extra: 'messageTimeout: 300ms' });
    for (const proto of PROTOS) {
      for (const c of ['error', 'empty', 'silent']) {
        const path = `/fo-${proto}-${c}`;
        const r = await call(proto, s.url, { method: 'POST', path, headers: { 'x-case': `fail-after-headers-${c}` }, body: ['orig', 'inal'] });
        assert.equal(r.status, 200, `${proto} ${c}: ${r.text}`);
        assert.equal(r.text, 'original', `${proto} ${c}`);
        const line = await s.gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes(`"path":"${path}"`));
        assert.match(line, /"outcome":"fail_open"/, line);
      }
    }
    assert.deepEqual(seen, Array(PROTOS.length * 3).fill(undefined), 'the upstream never sees the failed processor\'s header');
  });

  it('a processor named through backend: is used', async (t) => {
    const s = await setupExtProc(t, {
      handlers: { onRequestHeaders: () => reply.headers('request', { set: [['x-via', 'named']] }) },
      upstream: (req) => ({ status: 200, body: String(req.headers['x-via'] ?? 'none') }),
      config: (procHost, upPort) =>
        `
backends:
- name: my-proc
  host: "${procHost}"` +
        routesConfig(`
    - backends:
      - host: 127.0.0.1:${upPort}
      policies:
        extProc:
          backend: my-proc
`),
    });
    for (const proto of PROTOS) assert.equal((await call(proto, s.url, { path: '/n' })).text, 'named');
  });

  it('a gRPC client gets a gRPC error status when the processor fails closed', async (t) => {
    const s = await setupExtProc(t, { handlers, extra: 'statusOnError: 503' });
    const raw = (b: Buffer) => b;
    const service: grpc.ServiceDefinition = {
      Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
    };
    const Client = grpc.makeGenericClientConstructor(service, 'Echo');
    const client = new Client(`127.0.0.1:${new URL(s.url).port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      Echo(r: Buffer, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void;
    };
    t.after(() => client.close());
    const md = new grpc.Metadata();
    md.set('x-case', 'fail-headers');
    const err = await new Promise<grpc.ServiceError | null>((resolve) => client.Echo(Buffer.from('hi'), md, { deadline: Date.now() + 10_000 }, (e) => resolve(e)));
    assert.ok(err !== null);
    assert.equal(err.code, grpc.status.UNAVAILABLE, 'HTTP 503 maps to UNAVAILABLE');
    // grpc-message is encoded per the gRPC spec, so grpc-js shows the text as written (':' not '%3A').
    assert.match(err.details, /ext_proc failed: .*processor exploded/);
  });
});
