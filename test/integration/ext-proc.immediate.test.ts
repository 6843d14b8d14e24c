/**
 * ext_proc ImmediateResponse in every phase where the client has not yet seen response headers, over
 * HTTP/1.1 and HTTP/2: status rules, default content-type, header rules, gRPC clients, upstream not called.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { headerValue, reply, type Handlers } from '../helpers/ext-proc-server.js';
import { call, PROTOS, processing, setupExtProc, suiteCleanup, type ExtProcSetup } from '../helpers/ext-proc-harness.js';

const when = (phase: string) => (msg: unknown, ctx: { received: readonly import('../../src/extproc/messages.js').ProcessingRequest[] }) => {
  const c = headerValue(ctx.received[0]!, 'x-case') ?? '';
  if (!c.startsWith(phase)) return undefined;
  void msg;
  switch (c.slice(phase.length)) {
    case ':deny':
      return reply.immediate({ status: 403, body: `denied at ${phase}`, set: [['x-why', phase], ['x-bad', 'a\nb']] });
    case ':default':
      return reply.immediate({});
    case ':informational':
      return reply.immediate({ status: 100, body: 'kept' });
    case ':json':
      return reply.immediate({ status: 429, body: '{"e":1}', set: [['content-type', 'application/json']] });
    case ':grpc':
      return reply.immediate({ status: 403, grpcStatus: 7, body: 'no entry' });
    default:
      return undefined;
  }
};

const handlers: Handlers = {
  onRequestHeaders: when('request_headers'),
  onRequestBody: when('request_body'),
  onResponseHeaders: when('response_headers'),
  onResponseBody: when('response_body'),
};

describe('ext_proc immediate responses', { timeout: 60_000 }, () => {
  const cleanup = suiteCleanup(after);
  let s: ExtProcSetup;
  before(async () => {
    s = await setupExtProc(cleanup, { handlers, extra: processing({ reqBody: 'buffered', resBody: 'buffered' }) });
  });

  for (const proto of PROTOS) {
    for (const phase of ['request_headers', 'request_body', 'response_headers', 'response_body']) {
      it(`HTTP/${proto}: an immediate response at ${phase} answers the client`, async () => {
        const upBefore = s.up.requests.length;
        const r = await call(proto, s.url, { path: `/${phase}`, body: 'payload', headers: { 'x-case': `${phase}:deny` } });
        assert.equal(r.status, 403);
        assert.equal(r.text, `denied at ${phase}`);
        assert.equal(r.headers['content-type'], 'text/plain');
        assert.equal(r.headers['x-why'], phase);
        assert.equal(r.headers['x-bad'], undefined, 'a value with LF is never applied');
        const upstreamCalled = s.up.requests.length > upBefore;
        assert.equal(upstreamCalled, phase.startsWith('response'), 'the upstream is only called for response phases');
      });
    }

    it(`HTTP/${proto}: status defaults to 200, below 200 becomes 200, content-type may be set`, async () => {
      const a = await call(proto, s.url, { path: '/d', headers: { 'x-case': 'request_headers:default' } });
      assert.equal(a.status, 200);
      assert.equal(a.text, '');
      const b = await call(proto, s.url, { path: '/i', headers: { 'x-case': 'request_headers:informational' } });
      assert.equal(b.status, 200);
      assert.equal(b.text, 'kept');
      const c = await call(proto, s.url, { path: '/j', headers: { 'x-case': 'response_headers:json' } });
      assert.equal(c.status, 429);
      assert.equal(c.headers['content-type'], 'application/json');
      assert.equal(c.text, '{"e":1}');
    });
  }

  it('1200 immediate responses keep using one processor connection (streams are closed, not reset)', { timeout: 120_000 }, async () => {
    const before = s.proc.connections;
    for (let batch = 0; batch < 12; batch++) {
      const rs = await Promise.all(Array.from({ length: 100 }, () => call('2', s.url, { path: '/many', headers: { 'x-case': 'request_headers:deny' } })));
      for (const r of rs) assert.equal(r.status, 403);
    }
    assert.equal(s.proc.connections, before, 'no GOAWAY / reconnect from the processor');
  });

  it('a gRPC client gets grpc-status from grpc_status and the body in grpc-message', async () => {
    const r = await call('2', s.url, { method: 'POST', path: '/pkg.Svc/Method', body: Buffer.alloc(5), headers: { 'content-type': 'application/grpc', te: 'trailers', 'x-case': 'request_headers:grpc' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(r.headers['grpc-status'], '7');
    assert.equal(r.headers['grpc-message'], 'no entry');
  });
});

describe('ext_proc immediate response while the client is still uploading (full duplex)', { timeout: 60_000 }, () => {
  it('the client gets the immediate response over HTTP/1.1 and HTTP/2; its connection is not torn down first', async (t) => {
    const s = await setupExtProc(t, { handlers: { onRequestHeaders: () => reply.immediate({ status: 403, body: 'early deny' }) } });
    const session = http2.connect(s.url);
    session.on('error', () => undefined);
    t.after(() => session.close());
    const h1 = () =>
      new Promise<number>((resolve, reject) => {
        const r = http.request(`${s.url}/up`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } });
        const iv = setInterval(() => r.write('x'.repeat(16_384)), 2);
        const stop = () => clearInterval(iv);
        r.on('response', (res) => {
          stop();
          res.resume();
          resolve(res.statusCode ?? 0);
          r.destroy();
        });
        r.on('error', (e) => (stop(), reject(e)));
        r.on('close', () => (stop(), reject(new Error('HTTP/1.1 connection closed before the response'))));
        r.write('first chunk');
      });
    const h2 = () =>
      new Promise<number>((resolve, reject) => {
        const st = session.request({ ':method': 'POST', ':path': '/up' });
        const iv = setInterval(() => (st.closed ? clearInterval(iv) : st.write('x'.repeat(16_384))), 2);
        const stop = () => clearInterval(iv);
        st.on('response', (h) => {
          stop();
          resolve(Number(h[':status']));
          st.close();
        });
        st.on('error', (e) => (stop(), reject(e)));
        st.on('close', () => (stop(), reject(new Error(`HTTP/2 stream closed before the response (rst ${st.rstCode})`))));
        st.write('first chunk');
      });
    // The hazard is a race (the body is cancelled under the reply), so try it a few times.
    for (let i = 0; i < 8; i++) {
      assert.equal(await h1(), 403);
      assert.equal(await h2(), 403);
    }
  });
});
