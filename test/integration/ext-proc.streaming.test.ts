/**
 * ext_proc streaming bodies end to end over HTTP/1.1 and HTTP/2: full duplex on default options (0 B, 1 B,
 * 64 KiB, 1 MiB through a pass-through processor), a processor that rewrites every chunk, one that buffers
 * everything before answering and routes on the body, streamed mode, trailers both ways with mutations, a
 * gRPC-style response whose grpc-status trailer survives, mode_override, and the seed's configs on defaults.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { freePort } from '../helpers/ports.js';
import { headerValue, reply, startProcessor, type Handlers, type ProcessorContext } from '../helpers/ext-proc-server.js';
import { startGateway } from '../helpers/start-gateway.js';
import { call, closeClients, processing, PROTOS, seedGatewayPolicyConfig, setupExtProc, suiteCleanup, type ExtProcSetup } from '../helpers/ext-proc-harness.js';
import type { ProcessingRequest } from '../../src/extproc/messages.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const bytesOf = (b: Uint8Array | null | undefined): Buffer => Buffer.from(b ?? new Uint8Array());
const caseOf = (ctx: ProcessorContext): string | undefined => headerValue(ctx.received[0]!, 'x-case');

/** Behaviour chosen per request by x-case; default is the fixture's mode-aware pass-through. */
const handlers: Handlers = {
  onRequestHeaders: (msg) => (headerValue(msg, 'x-case') === 'hold' ? null : undefined),
  onRequestBody: (msg, ctx) => {
    const b = msg.requestBody!;
    switch (caseOf(ctx)) {
      case 'upper':
        return reply.streamed('request', bytesOf(b.body).toString('latin1').toUpperCase(), !!b.endOfStream);
      case 'late-immediate':
        return reply.immediate({ status: 403, body: 'denied mid-body' });
      case 'hold': {
        if (!b.endOfStream) return null;
        const whole = Buffer.concat(ctx.received.filter((m) => m.requestBody != null).map((m) => bytesOf(m.requestBody!.body)));
        const route = JSON.parse(whole.toString() || '{}') as { model?: string };
        return [reply.headers('request', { set: [['x-model', route.model ?? 'none'], [':path', `/model/${route.model ?? 'none'}`]] }), reply.streamed('request', whole, true)];
      }
      default:
        return undefined;
    }
  },
  onRequestTrailers: (_msg, ctx) => (caseOf(ctx) === 'trailers' ? reply.trailers('request', { set: [['x-req-trailer', 'mutated']] }) : undefined),
  onResponseBody: (msg, ctx) => {
    const b = msg.responseBody!;
    if (caseOf(ctx) === 'upper') return reply.streamed('response', `<${bytesOf(b.body).toString('latin1')}>`, !!b.endOfStream);
    return undefined;
  },
  onResponseTrailers: (_msg, ctx) => (caseOf(ctx) === 'trailers' ? reply.trailers('response', { set: [['x-resp-trailer', 'mutated']] }) : undefined),
};

describe('ext_proc streaming bodies', { timeout: 180_000 }, () => {
  const cleanup = suiteCleanup(after);
  let duplex: ExtProcSetup;
  let streamed: ExtProcSetup;
  const upstream = (req: { path: string; body: Buffer; headers: Record<string, unknown>; trailers: Record<string, string> }) => {
    if (req.headers['x-case'] === 'trailers' || req.headers['content-type'] === 'application/grpc') {
      return {
        status: 200,
        headers: { 'content-type': String(req.headers['content-type'] ?? 'text/plain'), 'x-up-req-trailer': String(req.trailers['x-req-trailer'] ?? 'none') },
        body: req.body,
        trailers: { 'grpc-status': '0', 'x-up-trailer': 'orig' },
      };
    }
    return { status: 200, headers: { 'x-up-path': req.path, 'x-up-model': String(req.headers['x-model'] ?? 'none') }, body: req.body };
  };
  before(async () => {
    duplex = await setupExtProc(cleanup, { handlers, upstream });
    streamed = await setupExtProc(cleanup, {
      upstream,
      extra: processing({ reqBody: 'streamed', resBody: 'streamed', reqTrailers: 'send', resTrailers: 'send' }),
      handlers: {
        onRequestBody: (msg) => reply.body('request', { body: `[${bytesOf(msg.requestBody!.body).toString()}]` }),
        onResponseBody: (msg) => (msg.responseBody!.endOfStream ? reply.body('response', { body: '<end>' }) : reply.body('response')),
      },
    });
  });

  for (const proto of PROTOS) {
    for (const size of [0, 1, 64 * 1024, 1024 * 1024]) {
      it(`HTTP/${proto}: ${size} bytes through full duplex on default options, byte for byte`, async () => {
        const body = Buffer.alloc(size, 'a');
        for (let i = 0; i < size; i += 997) body[i] = 65 + (i % 26);
        const r = await call(proto, duplex.url, { path: '/echo', body, headers: size === 0 && proto === '1.1' ? { 'transfer-encoding': 'chunked' } : {} });
        assert.equal(r.status, 200);
        assert.equal(r.body.length, size);
        assert.equal(sha(r.body), sha(body));
      });
    }

    it(`HTTP/${proto}: a processor that rewrites every chunk both ways`, async () => {
      const parts = ['alpha-', 'beta-', 'gamma'];
      const r = await call(proto, duplex.url, { path: '/u', body: parts, headers: { 'x-case': 'upper' } });
      assert.equal(r.status, 200);
      const text = r.text.replace(/[<>]/g, '');
      assert.equal(text, 'ALPHA-BETA-GAMMA');
      assert.ok(r.text.startsWith('<'), 'the response chunks were rewritten too');
    });

    it(`HTTP/${proto}: a processor that holds the headers reply until it read the whole body routes on it`, async () => {
      const r = await call(proto, duplex.url, { path: '/v1/chat', body: ['{"model":', '"gpt-x"}'], headers: { 'x-case': 'hold' } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-up-model'], 'gpt-x');
      assert.equal(r.headers['x-up-path'], '/model/gpt-x');
      assert.equal(r.text, '{"model":"gpt-x"}');
    });

    it(`HTTP/${proto}: trailers both ways reach the processor and arrive mutated`, async () => {
      const r = await call(proto, duplex.url, { path: '/t', body: 'with trailers', trailers: { 'x-req-trailer': 'orig' }, headers: { 'x-case': 'trailers' } });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'with trailers');
      assert.equal(r.headers['x-up-req-trailer'], 'mutated');
      assert.equal(r.trailers['x-resp-trailer'], 'mutated');
      assert.equal(r.trailers['x-up-trailer'], 'orig');
      assert.equal(r.trailers['grpc-status'], '0');
    });

    it(`HTTP/${proto}: an immediate response during the request body aborts the upstream request and answers the client`, async () => {
      const r = await call(proto, duplex.url, { path: '/late', body: ['first', 'second'], headers: { 'x-case': 'late-immediate' } });
      assert.equal(r.status, 403);
      assert.match(r.text, /denied mid-body/);
    });

    it(`HTTP/${proto}: streamed mode answers every chunk in order`, async () => {
      const r = await call(proto, streamed.url, { path: '/s', body: 'abc' });
      assert.equal(r.status, 200);
      assert.equal(r.text, '[abc][]<end>');
    });
  }

  it('a gRPC-style exchange keeps its grpc-status trailer through full duplex', async () => {
    const frame = Buffer.from([0, 0, 0, 0, 2, 8, 1]);
    const r = await call('2', duplex.url, { method: 'POST', path: '/pkg.Svc/Unary', body: frame, headers: { 'content-type': 'application/grpc', te: 'trailers' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, frame);
    assert.equal(r.trailers['grpc-status'], '0');
  });
});

describe('ext_proc mode_override', { timeout: 60_000 }, () => {
  it('a headers reply may switch a buffered request body to none when allowModeOverride is on', async (t) => {
    const s = await setupExtProc(t, {
      extra: processing({ reqBody: 'buffered', resHeaders: 'skip', allowModeOverride: true }),
      handlers: { onRequestHeaders: () => reply.headers('request', { modeOverride: { requestBodyMode: 0 } }) },
    });
    for (const proto of PROTOS) {
      const n = s.proc.records.length;
      const r = await call(proto, s.url, { path: '/o', body: 'untouched' });
      assert.equal(r.status, 200);
      assert.equal(s.up.requests.at(-1)!.body.toString(), 'untouched');
      assert.equal(s.proc.records[n]!.received.filter((m: ProcessingRequest) => m.requestBody != null).length, 0);
    }
  });
});

describe("the seed's configs on default options (full duplex)", { timeout: 60_000 }, () => {
  const seed = (host: string): string => seedGatewayPolicyConfig(host);
  it('second config, processor up: the body streams through it and the listener answers 404', async (t) => {
    const proc = await startProcessor();
    const g = await startGateway(seed(proc.target));
    t.after(async () => {
      closeClients();
      await g.stop();
      await proc.stop();
    });
    for (const proto of PROTOS) {
      const r = await call(proto, g.url(), { path: '/x', body: 'streamed body' });
      assert.equal(r.status, 404);
    }
    assert.ok(proc.received.some((msgs) => msgs.some((m) => m.requestBody != null && bytesOf(m.requestBody.body).toString() === 'streamed body')));
  });

  it('second config, processor down: 500', async (t) => {
    const g = await startGateway(seed(`127.0.0.1:${await freePort()}`));
    t.after(async () => {
      closeClients();
      await g.stop();
    });
    for (const proto of PROTOS) {
      const r = await call(proto, g.url(), { path: '/x', body: 'b' });
      assert.equal(r.status, 500);
      assert.match(r.text, /^ext_proc failed: /);
    }
  });
});
