/**
 * ext_proc must never let a processor's output break the message framing, lose trailers, or hide a failure:
 * - a content-length the processor leaves must describe the body that goes out (SPEC §2 Body mutation), in
 *   `buffered` mode whether or not the body was replaced, and in mode `none` (or with no body) against the length
 *   the gateway knows; otherwise the exchange fails as a `mutation` failure (500, access log, metrics), never a
 *   desynced HTTP/1.1 connection or an upstream 502. HEAD, 204 and 304 responses carry no body, so they are exempt;
 * - request trailers reach the upstream, mutated, in the buffered modes too (SPEC §2 Trailers);
 * - a buffered body over maxBufferSize is an ext_proc failure (`body_too_large`) in the access log and metrics.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { headerValue, reply, type Handlers, type ProcessorContext } from '../helpers/ext-proc-server.js';
import { call, PROTOS, processing, setupExtProc, suiteCleanup, type ExtProcSetup } from '../helpers/ext-proc-harness.js';
import type { UpRequest } from '../helpers/upstream.js';

const LIMIT = 1024;
const top = `frontendPolicies:\n  http:\n    maxBufferSize: ${LIMIT}\n`;
const UP_BODY = '0123456789-UPSTREAM-BODY-IS-LONGER'; // 34 bytes

const caseOf = (ctx: ProcessorContext): string | undefined => headerValue(ctx.received[0]!, 'x-case');

const handlers: Handlers = {
  onRequestHeaders: (_msg, ctx) => {
    const c = caseOf(ctx);
    if (c === 'req-cl') return reply.headers('request', { set: [['content-length', '3']] });
    if (c === 'req-cl-right') return reply.headers('request', { set: [['content-length', '10']] });
    return undefined;
  },
  onRequestBody: (_msg, ctx) => {
    const c = caseOf(ctx);
    if (c === 'req-cl-body') return reply.body('request', { set: [['content-length', '3']] });
    if (c === 'trailers-replace') return reply.body('request', { body: 'REPLACED', set: [['content-length', '8']] });
    return undefined;
  },
  onRequestTrailers: (_msg, ctx) => {
    const c = caseOf(ctx);
    if (c === 'trailers' || c === 'trailers-replace') return reply.trailers('request', { set: [['x-req-t', 'mutated'], ['x-added-t', 'new']] });
    return undefined;
  },
  onResponseHeaders: (_msg, ctx) => {
    const c = caseOf(ctx);
    if (c === 'resp-cl' || c === 'resp-cl-exempt') return reply.headers('response', { set: [['content-length', '3']] });
    if (c === 'resp-cl-right') return reply.headers('response', { set: [['content-length', String(UP_BODY.length)]] });
    if (c === 'resp-cl-removed') return reply.headers('response', { remove: ['content-length'] });
    return undefined;
  },
  onResponseTrailers: (_msg, ctx) => (caseOf(ctx)?.startsWith('trailers') === true ? reply.trailers('response', { set: [['x-up-t', 'mutated']] }) : undefined),
};

const upstream = (req: UpRequest) => {
  if (req.path.startsWith('/big-response')) return { status: 200, body: 'r'.repeat(LIMIT + 1) };
  if (req.path.startsWith('/no-content')) return { status: 204 };
  if (req.headers['x-case']?.toString().startsWith('trailers') === true) {
    return {
      status: 200,
      headers: { 'x-up-req-t': req.trailers['x-req-t'] ?? 'none', 'x-up-added-t': req.trailers['x-added-t'] ?? 'none', 'x-up-body': req.body.toString() },
      body: ['resp-', 'body'],
      trailers: { 'x-up-t': 'orig' },
    };
  }
  return { status: 200, headers: { 'content-type': 'text/plain', 'content-length': String(UP_BODY.length) }, body: UP_BODY };
};

interface ExtProcEntry {
  readonly outcome: string;
  readonly failureReason?: string;
}

async function extProcEntry(s: ExtProcSetup, path: string): Promise<ExtProcEntry> {
  const line = await s.gw.waitForLine((l) => l.includes(`"path":"${path}"`));
  return (JSON.parse(line) as { extProc: ExtProcEntry[] }).extProc[0]!;
}

async function metrics(s: ExtProcSetup): Promise<string> {
  return (await fetch(`${s.gw.statsUrl}/metrics`)).text();
}

/** Two pipelined GETs on one HTTP/1.1 connection; resolves with every byte the gateway sent back. */
function pipelined(url: string, headers: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    const req = (path: string, last: boolean) => `GET ${path} HTTP/1.1\r\nhost: x\r\n${headers}${last ? 'connection: close\r\n' : ''}\r\n`;
    sock.write(req('/p1', false) + req('/p2', true));
  });
}

describe('ext_proc body integrity', { timeout: 90_000 }, () => {
  const cleanup = suiteCleanup(after);
  let buffered: ExtProcSetup;
  let none: ExtProcSetup;
  let partial: ExtProcSetup;
  before(async () => {
    const trailers = { reqTrailers: 'send', resTrailers: 'send' } as const;
    buffered = await setupExtProc(cleanup, { handlers, top, upstream, extra: processing({ reqBody: 'buffered', resBody: 'buffered', ...trailers }) });
    none = await setupExtProc(cleanup, { handlers, top, upstream, extra: processing({}) });
    partial = await setupExtProc(cleanup, { handlers, top, upstream, extra: processing({ reqBody: 'bufferedPartial', resBody: 'bufferedPartial', ...trailers }) });
  });

  describe('a content-length the processor sets must describe the body that goes out', () => {
    it('HTTP/1.1 keep-alive: a wrong response content-length fails the exchange instead of desyncing the connection', async () => {
      for (const s of [buffered, none]) {
        const raw = await pipelined(s.url, 'x-case: resp-cl\r\n');
        const heads = raw.match(/HTTP\/1\.1 \d{3}/g) ?? [];
        assert.deepEqual(heads, ['HTTP/1.1 500', 'HTTP/1.1 500'], raw);
        assert.match(raw, /ext_proc failed: invalid header mutation: .*response content-length .*3.* 34 bytes/);
      }
    });

    for (const proto of PROTOS) {
      it(`HTTP/${proto}: buffered, an unchanged body with a wrong content-length from a headers or body reply fails (500)`, async () => {
        const r = await call(proto, buffered.url, { path: `/resp-cl-${proto}`, headers: { 'x-case': 'resp-cl' } });
        assert.equal(r.status, 500);
        assert.match(r.text, /^ext_proc failed: invalid header mutation: .*the response content-length says 3 but the response body is 34 bytes/);
        const q = await call(proto, buffered.url, { path: `/req-cl-body-${proto}`, body: '0123456789', headers: { 'x-case': 'req-cl-body' } });
        assert.equal(q.status, 500);
        assert.match(q.text, /^ext_proc failed: invalid header mutation: .*the request content-length says 3 but the request body is 10 bytes/);
        const entry = await extProcEntry(buffered, `/req-cl-body-${proto}`);
        assert.equal(entry.outcome, 'failed');
      });

      it(`HTTP/${proto}: none, a wrong request content-length is an ext_proc mutation failure (500), not an upstream 502`, async () => {
        const before = none.up.requests.length;
        const r = await call(proto, none.url, { path: `/req-cl-${proto}`, body: '0123456789', headers: { 'x-case': 'req-cl', 'content-length': '10' } });
        assert.equal(r.status, 500);
        assert.match(r.text, /^ext_proc failed: invalid header mutation: the processor set the request content-length to 3 but the request body is 10 bytes/);
        assert.equal(none.up.requests.length, before, 'nothing reached the upstream');
        const entry = await extProcEntry(none, `/req-cl-${proto}`);
        assert.equal(entry.outcome, 'failed');
        assert.match(entry.failureReason ?? '', /content-length to 3/);
        assert.match(await metrics(none), /tollgate_ext_proc_failures_total\{[^}]*reason="mutation"[^}]*\} [1-9]/);
      });

      it(`HTTP/${proto}: none, a wrong response content-length fails (500); a right or removed one passes`, async () => {
        const bad = await call(proto, none.url, { path: '/r', headers: { 'x-case': 'resp-cl' } });
        assert.equal(bad.status, 500);
        assert.match(bad.text, /content-length to 3 but the response body is 34 bytes and goes on unchanged; the processor must set content-length to 34 or remove it/);
        const right = await call(proto, none.url, { path: '/r', headers: { 'x-case': 'resp-cl-right' } });
        assert.equal(right.status, 200);
        assert.equal(right.text, UP_BODY);
        const removed = await call(proto, none.url, { path: '/r', headers: { 'x-case': 'resp-cl-removed' } });
        assert.equal(removed.status, 200);
        assert.equal(removed.text, UP_BODY);
        const okReq = await call(proto, none.url, { path: '/r', body: '0123456789', headers: { 'x-case': 'req-cl-right', 'content-length': '10' } });
        assert.equal(okReq.status, 200);
      });

      it(`HTTP/${proto}: none, a content-length on a message with no body must be 0; HEAD and 204 are exempt`, async () => {
        const get = await call(proto, none.url, { method: 'GET', path: '/g', headers: { 'x-case': 'req-cl' } });
        assert.equal(get.status, 500);
        assert.match(get.text, /content-length to 3 but the request has no body; the processor must set content-length to 0 or remove it/);
        const head = await call(proto, none.url, { method: 'HEAD', path: '/h', headers: { 'x-case': 'resp-cl-exempt' } });
        assert.equal(head.status, 200);
        const noContent = await call(proto, none.url, { path: '/no-content', headers: { 'x-case': 'resp-cl-exempt' } });
        assert.equal(noContent.status, 204);
        assert.equal(noContent.headers['content-length'], undefined, 'a 204 carries no content-length (RFC 9110 §8.6)');
      });

      it(`HTTP/${proto}: none, a content-length set on a body of unknown length fails clearly`, async () => {
        // HTTP/1.1 chunked, HTTP/2 without content-length: the gateway does not know the length.
        const r = await call(proto, none.url, { path: '/chunked', body: ['01234', '56789'], headers: { 'x-case': 'req-cl-right', ...(proto === '1.1' ? { 'transfer-encoding': 'chunked' } : {}) } });
        assert.equal(r.status, 500);
        assert.match(r.text, /the request body has no declared length \(chunked\) and is not buffered, so the gateway cannot check it; the processor must remove content-length/);
      });
    }
  });

  describe('request trailers reach the upstream in the buffered modes', () => {
    for (const proto of PROTOS) {
      for (const mode of ['buffered', 'bufferedPartial'] as const) {
        it(`HTTP/${proto} ${mode}: request trailers arrive mutated; response trailers too`, async () => {
          const s = mode === 'buffered' ? buffered : partial;
          const r = await call(proto, s.url, { path: '/t', body: ['hello', 'world'], trailers: { 'x-req-t': 'orig' }, headers: { 'x-case': 'trailers' } });
          assert.equal(r.status, 200);
          assert.equal(r.headers['x-up-req-t'], 'mutated');
          assert.equal(r.headers['x-up-added-t'], 'new');
          assert.equal(r.headers['x-up-body'], 'helloworld');
          assert.equal(r.text, 'resp-body');
          assert.equal(r.trailers['x-up-t'], 'mutated');
        });
      }

      it(`HTTP/${proto} buffered: a replaced body keeps its trailers`, async () => {
        const r = await call(proto, buffered.url, { path: '/tr', body: 'hello', trailers: { 'x-req-t': 'orig' }, headers: { 'x-case': 'trailers-replace' } });
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-up-body'], 'REPLACED');
        assert.equal(r.headers['x-up-req-t'], 'mutated');
      });
    }
  });

  describe('a buffered body over maxBufferSize is reported as an ext_proc failure', () => {
    it('413 request / 500 response, outcome failed with the reason, failures_total{reason="body_too_large"}', async () => {
      const a = await call('1.1', buffered.url, { path: '/big-request', body: 'x'.repeat(LIMIT + 1) });
      assert.equal(a.status, 413);
      const req = await extProcEntry(buffered, '/big-request');
      assert.equal(req.outcome, 'failed');
      assert.match(req.failureReason ?? '', /^request body is larger than maxBufferSize \(1024 bytes\)/);
      const b = await call('1.1', buffered.url, { path: '/big-response' });
      assert.equal(b.status, 500);
      assert.match(b.text, /^ext_proc failed: response body is larger than maxBufferSize/);
      const res = await extProcEntry(buffered, '/big-response');
      assert.equal(res.outcome, 'failed');
      assert.match(res.failureReason ?? '', /^response body is larger than maxBufferSize \(1024 bytes\)/);
      assert.match(await metrics(buffered), /tollgate_ext_proc_failures_total\{[^}]*reason="body_too_large"[^}]*\} 2/);
    });
  });
});
