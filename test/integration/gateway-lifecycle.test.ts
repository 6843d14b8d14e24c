/**
 * The gateway in-process: reload with an in-flight request, drain, and the ext_proc seam contract.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { createGateway } from '../../src/gateway.js';
import { GatewayError } from '../../src/errors.js';
import { hostBackend, listener, match, model, route } from '../../src/config/model-fixtures.js';
import type { ExtProcExchange, ExtProcStarter } from '../../src/pipeline/policy.js';
import { CONTINUE } from '../../src/pipeline/policy.js';
import { channels } from '../../src/observability/diagnostics.js';
import type { RequestEndEvent } from '../../src/observability/diagnostics.js';
import { startUpstream } from '../helpers/upstream.js';
import { freePort } from '../helpers/ports.js';

test('reload swaps routes for new requests while an in-flight request finishes on the old model', { timeout: 20_000 }, async (t) => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const oldUp = await startUpstream({ handler: async () => (await gate, { body: 'old' }) });
  const newUp = await startUpstream({ handler: () => ({ body: 'new' }) });
  const port = await freePort();
  const extra = await freePort();
  const m1 = model([{ port, listeners: [listener([route('r', 0, { backends: [hostBackend('127.0.0.1', oldUp.port)] })])] }]);
  const m2 = model([
    { port, listeners: [listener([route('r', 0, { backends: [hostBackend('127.0.0.1', newUp.port)] })])] },
    { port: extra, listeners: [listener([route('x', 0, { policies: { directResponse: { status: 200, body: 'extra' } } })])] },
  ]);
  const gw = createGateway(m1, { bindHost: '127.0.0.1' });
  t.after(async () => {
    await gw.close();
    await oldUp.close();
    await newUp.close();
  });
  await gw.start();
  const inflight = request(`http://127.0.0.1:${port}/a`).then(async (r) => r.body.text());
  await oldUp.nextRequest();
  assert.equal(gw.inFlight, 1);
  await gw.reload(m2);
  assert.equal(gw.model, m2);
  assert.equal(await (await request(`http://127.0.0.1:${port}/b`)).body.text(), 'new');
  assert.equal(await (await request(`http://127.0.0.1:${extra}/`)).body.text(), 'extra');
  release();
  assert.equal(await inflight, 'old');
  assert.deepEqual(gw.addresses().map((a) => a.port).sort(), [port, extra].sort());

  // Removing a bind closes its port.
  await gw.reload(m1);
  await assert.rejects(request(`http://127.0.0.1:${extra}/`));
});

test('drain waits for in-flight requests, then resolves; new connections are refused', { timeout: 20_000 }, async (t) => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const up = await startUpstream({ handler: async () => (await gate, { body: 'done' }) });
  const port = await freePort();
  const gw = createGateway(model([{ port, listeners: [listener([route('r', 0, { backends: [hostBackend('127.0.0.1', up.port)] })])] }]), { bindHost: '127.0.0.1' });
  t.after(async () => {
    await gw.close();
    await up.close();
  });
  await gw.start();
  const inflight = request(`http://127.0.0.1:${port}/slow`).then(async (r) => r.body.text());
  await up.nextRequest();
  let drained = false;
  const draining = gw.drain(10_000).then(() => (drained = true));
  await assert.rejects(request(`http://127.0.0.1:${port}/new`, { reset: true }));
  assert.equal(drained, false);
  release();
  assert.equal(await inflight, 'done');
  await draining;
  assert.equal(gw.inFlight, 0);
});

test('ext_proc seam: route-level policy wins over the gateway one, routing changes re-match, finish runs once, requestEnd published once', { timeout: 20_000 }, async (t) => {
  const up = await startUpstream();
  const port = await freePort();
  const cfg = (name: string) => ({
    target: { scheme: 'http' as const, host: '127.0.0.1', port: 1, display: name, tls: undefined },
    failureMode: 'failClosed' as const,
    processingOptions: {
      requestHeaderMode: 'send' as const, responseHeaderMode: 'send' as const, requestBodyMode: 'none' as const,
      responseBodyMode: 'none' as const, requestTrailerMode: 'skip' as const, responseTrailerMode: 'skip' as const, allowModeOverride: false,
    },
    messageTimeoutMs: 1000, statusOnError: 500, metadataContext: undefined, requestAttributes: undefined, responseAttributes: undefined,
  });
  const calls: string[] = [];
  let finishes = 0;
  const starter: ExtProcStarter = (config, _ctx, _req) => {
    calls.push(config.target.display);
    let changed = false;
    const ex: ExtProcExchange = {
      async onRequest(req) {
        if (req.path === '/rewrite') {
          req.path = '/moved';
          changed = true;
        }
        if (req.path === '/deny') throw new GatewayError('ext_proc_failed', 'ext_proc failed: denied', { status: 403 });
        return CONTINUE;
      },
      async onResponse(res) {
        res.headers.set('x-processed', config.target.display);
        return CONTINUE;
      },
      get routingChanged() {
        return changed;
      },
      finish() {
        finishes++;
      },
    };
    return ex;
  };
  const gwListener = {
    ...listener([
      route('plain', 0, { matches: [match('/')], backends: [hostBackend('127.0.0.1', up.port)] }),
      route('moved', 1, { matches: [match('/moved')], policies: { directResponse: { status: 200, body: 'moved' } } }),
      route('own', 2, { matches: [match('/own')], backends: [hostBackend('127.0.0.1', up.port)], policies: { extProc: { kind: 'static', config: cfg('route-proc') } } }),
    ]),
    policies: { extProc: { kind: 'static' as const, config: cfg('gateway-proc') }, unimplemented: [] },
  };
  const gw = createGateway(model([{ port, listeners: [gwListener] }]), { bindHost: '127.0.0.1', extProc: starter });
  const ends: RequestEndEvent[] = [];
  const sub = (e: unknown): void => void ends.push(e as RequestEndEvent);
  channels.requestEnd.subscribe(sub);
  t.after(async () => {
    channels.requestEnd.unsubscribe(sub);
    await gw.close();
    await up.close();
  });
  await gw.start();
  const own = await request(`http://127.0.0.1:${port}/own`);
  await own.body.text();
  assert.equal(own.headers['x-processed'], 'route-proc');
  const plain = await request(`http://127.0.0.1:${port}/x`);
  await plain.body.text();
  assert.equal(plain.headers['x-processed'], 'gateway-proc');
  assert.deepEqual(calls, ['route-proc', 'gateway-proc']);
  assert.equal(await (await request(`http://127.0.0.1:${port}/rewrite`)).body.text(), 'moved');
  const denied = await request(`http://127.0.0.1:${port}/deny`);
  assert.equal(denied.statusCode, 403);
  assert.match(await denied.body.text(), /denied/);
  assert.equal(finishes, 4);
  assert.equal(ends.length, 4);
  assert.equal(ends[0]!.record.route, 'default/own');
  assert.equal(ends[0]!.record.routeKey, 'test/default/own');
  assert.equal(ends[0]!.record.status, 200);
  assert.equal(ends[3]!.record.status, 403);
  assert.equal(ends[3]!.record.errorCode, 'ext_proc_failed');
});

test('conditional extProc: the first entry whose CEL condition holds is used; none matching runs no processor', { timeout: 20_000 }, async (t) => {
  const up = await startUpstream();
  const port = await freePort();
  const seen: string[] = [];
  const base = {
    failureMode: 'failClosed' as const,
    processingOptions: {
      requestHeaderMode: 'send' as const, responseHeaderMode: 'skip' as const, requestBodyMode: 'none' as const,
      responseBodyMode: 'none' as const, requestTrailerMode: 'skip' as const, responseTrailerMode: 'skip' as const, allowModeOverride: false,
    },
    messageTimeoutMs: 1000, statusOnError: 500, metadataContext: undefined, requestAttributes: undefined, responseAttributes: undefined,
  };
  const cfg = (display: string) => ({ ...base, target: { scheme: 'http' as const, host: '127.0.0.1', port: 1, display, tls: undefined } });
  // Stand-ins for compiled CEL: they see the activation the pipeline builds.
  const cel = (source: string, fn: (a: { request: { path: string; method: string; headers: Record<string, string> } }) => unknown) => ({
    source,
    evaluate: (a: Readonly<Record<string, unknown>>) => fn(a as never),
  });
  const starter: ExtProcStarter = (config) => {
    seen.push(config.target.display);
    return { onRequest: async () => CONTINUE, onResponse: async () => CONTINUE, routingChanged: false, finish: () => undefined };
  };
  const l = {
    ...listener([route('r', 0, { backends: [hostBackend('127.0.0.1', up.port)] })]),
    policies: {
      extProc: {
        kind: 'conditional' as const,
        entries: [
          { condition: cel('chat', (a) => a.request.path.startsWith('/v1/chat')), config: cfg('chat') },
          { condition: cel('throws', () => { throw new Error('no such key'); }), config: cfg('never') },
          { condition: cel('debug', (a) => 'x-debug' in a.request.headers), config: cfg('debug') },
        ],
      },
      unimplemented: [],
    },
  };
  const gw = createGateway(model([{ port, listeners: [l] }]), { bindHost: '127.0.0.1', extProc: starter });
  t.after(async () => {
    await gw.close();
    await up.close();
  });
  await gw.start();
  for (const [path, headers] of [['/v1/chat/completions', {}], ['/other', { 'x-debug': '1' }], ['/plain', {}]] as const) {
    const r = await request(`http://127.0.0.1:${port}${path}`, { headers });
    assert.equal(r.statusCode, 200);
    await r.body.text();
  }
  assert.deepEqual(seen, ['chat', 'debug']);
});
