/**
 * ext_proc buffered and bufferedPartial bodies end to end, over HTTP/1.1 and HTTP/2: one body message with
 * the right end_of_stream, body rewrites both ways, header mutations from body replies (headers are held),
 * content-length rules, maxBufferSize (413 request / 500 response), and 200 concurrent distinct bodies.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headerValue, reply, type Handlers } from '../helpers/ext-proc-server.js';
import { call, PROTOS, processing, setupExtProc, suiteCleanup, type ExtProcSetup } from '../helpers/ext-proc-harness.js';

const LIMIT = 1024;
const top = `frontendPolicies:\n  http:\n    maxBufferSize: ${LIMIT}\n`;

const bodyOf = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('latin1');

const handlers: Handlers = {
  onRequestBody: (msg, ctx) => {
    const c = headerValue(ctx.received[0]!, 'x-case');
    const body = bodyOf(msg.requestBody!.body);
    if (c === 'upper') {
      const out = body.toUpperCase();
      return reply.body('request', { body: out, set: [['content-length', String(out.length)], ['x-from-body', `${msg.requestBody!.endOfStream}`]] });
    }
    if (c === 'bad-length') return reply.body('request', { body: `${body}-longer` });
    if (c === 'echo') return reply.body('request', { body: `seen:${body}`, set: [['content-length', String(body.length + 5)]] });
    if (c === 'partial') return reply.body('request', { body: 'P'.repeat(body.length), set: [['x-prefix-eos', `${msg.requestBody!.endOfStream}`]] });
    return undefined;
  },
  onResponseBody: (msg, ctx) => {
    const c = headerValue(ctx.received[0]!, 'x-case');
    if (c === 'resp') return reply.body('response', { body: `[${bodyOf(msg.responseBody!.body)}]`, set: [['x-resp-body', 'yes']] });
    return undefined;
  },
};

describe('ext_proc buffered bodies', { timeout: 90_000 }, () => {
  const cleanup = suiteCleanup(after);
  let s: ExtProcSetup;
  let partial: ExtProcSetup;
  before(async () => {
    const upstream = (req: { body: Buffer; path: string; headers: Record<string, unknown> }) => {
      if (req.path.startsWith('/big-response')) return { status: 200, body: 'r'.repeat(LIMIT + 1) };
      return { status: 200, headers: { 'x-up-cl': String(req.headers['content-length'] ?? 'none') }, body: req.body.length > 0 ? req.body : 'upstream-body' };
    };
    s = await setupExtProc(cleanup, { handlers, top, upstream, extra: processing({ reqBody: 'buffered', resBody: 'buffered' }) });
    partial = await setupExtProc(cleanup, { handlers, top, upstream, extra: processing({ reqBody: 'bufferedPartial', resHeaders: 'skip' }) });
  });

  for (const proto of PROTOS) {
    it(`HTTP/${proto}: the request body goes in one message and its rewrite (with header mutations) reaches the upstream`, async () => {
      const n = s.proc.records.length;
      const r = await call(proto, s.url, { path: '/u', body: 'hello', headers: { 'x-case': 'upper', 'content-type': 'text/plain' } });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'HELLO');
      const up = s.up.requests.at(-1)!;
      assert.equal(up.body.toString(), 'HELLO');
      assert.equal(up.headers['x-from-body'], 'true');
      const bodies = s.proc.records[n]!.received.filter((m) => m.requestBody != null);
      assert.equal(bodies.length, 1);
      assert.equal(bodies[0]!.requestBody!.endOfStream, true);
    });

    it(`HTTP/${proto}: a content-length that does not match the new body fails with 500`, async () => {
      const r = await call(proto, s.url, { path: '/bad', body: 'hello', headers: { 'x-case': 'bad-length', 'content-length': '5' } });
      assert.equal(r.status, 500);
      assert.match(r.text, /^ext_proc failed: invalid body mutation: .*content-length/);
    });

    it(`HTTP/${proto}: a request body over maxBufferSize gets 413; a response body over it gets 500`, async () => {
      const a = await call(proto, s.url, { path: '/big', body: 'x'.repeat(LIMIT + 1) });
      assert.equal(a.status, 413);
      const b = await call(proto, s.url, { path: '/big-response' });
      assert.equal(b.status, 500);
    });

    it(`HTTP/${proto}: the response body is rewritten, with a header mutation from the body reply`, async () => {
      const r = await call(proto, s.url, { path: '/r', headers: { 'x-case': 'resp' } });
      assert.equal(r.text, '[upstream-body]');
      assert.equal(r.headers['x-resp-body'], 'yes');
    });

    it(`HTTP/${proto}: an empty body sends one empty end_of_stream body message; a bodyless one sends none`, async () => {
      const n = s.proc.records.length;
      // HTTP/1.1 content-length: 0 means no body (as in Envoy); an empty chunked body is a body.
      await call(proto, s.url, { method: 'POST', path: '/empty', body: '', headers: proto === '1.1' ? { 'transfer-encoding': 'chunked' } : {} });
      await call(proto, s.url, { method: 'GET', path: '/none' });
      const [withEmpty, without] = [s.proc.records[n]!.received, s.proc.records[n + 1]!.received];
      const empty = withEmpty.filter((m) => m.requestBody != null);
      assert.equal(empty.length, 1);
      assert.equal(empty[0]!.requestBody!.body!.length, 0);
      assert.equal(empty[0]!.requestBody!.endOfStream, true);
      assert.equal(without.filter((m) => m.requestBody != null).length, 0);
      assert.equal(without[0]!.requestHeaders!.endOfStream, true);
    });

    it(`HTTP/${proto}: bufferedPartial sends a prefix up to the limit and streams the rest untouched`, async () => {
      const n = partial.proc.records.length;
      const body = 'a'.repeat(LIMIT) + 'b'.repeat(3000);
      const r = await call(proto, partial.url, { path: '/p', body, headers: { 'x-case': 'partial' } });
      assert.equal(r.status, 200);
      const up = partial.up.requests.at(-1)!;
      assert.equal(up.body.toString(), 'P'.repeat(LIMIT) + 'b'.repeat(3000));
      assert.equal(up.headers['x-prefix-eos'], 'false');
      const sent = partial.proc.records[n]!.received.filter((m) => m.requestBody != null);
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.requestBody!.body!.length, LIMIT);
    });

    it(`HTTP/${proto}: 200 concurrent buffered exchanges keep every body with its request`, { timeout: 60_000 }, async () => {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => call(proto, s.url, { path: `/c/${i}`, body: `body-${i}`, headers: { 'x-case': 'echo' } })),
      );
      results.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(r.text, `seen:body-${i}`);
      });
      assert.equal(s.proc.connections, 1);
    });
  }
});
