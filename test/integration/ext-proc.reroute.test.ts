/**
 * Re-routing by a processor and the re-selected route's own extProc, end to end (SPEC §2 "Attachment and
 * precedence"; agentgateway: the gateway phase runs before route selection, the selected route's extProc
 * after it, both on one request). A processor that rewrites `:path` must not skip the gate of the route it
 * sends the request to: that route's processor runs too, on the rewritten request; response phases run in
 * reverse; at most two processors run per request. Over HTTP/1.1 and HTTP/2.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startGateway, type StartedGateway } from '../helpers/start-gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { headerPairs, headerValue, reply, startProcessor, type TestProcessor } from '../helpers/ext-proc-server.js';
import { call, closeClients, PROTOS, type Proto } from '../helpers/ext-proc-harness.js';
import type { ProcessingRequest } from '../../src/extproc/messages.js';

/** What each processor did, in order, across all of them (requests are sent one at a time). */
const events: string[] = [];

/** The `x-proc-*` (request) or `x-resp-*` (response) stamps in a headers message, comma-joined. */
const stamps = (msg: ProcessingRequest, prefix: string): string =>
  headerPairs(msg).filter(([k]) => k.startsWith(prefix)).map(([k]) => k.slice(prefix.length)).sort().join(',') || 'none';

/**
 * A processor named `name`: stamps `x-proc-<name>` on the request (with the stamps it saw in `x-saw-<name>`) and
 * `x-resp-<name>` on the response (likewise `x-sawresp-<name>`). Driven by request headers:
 * `x-<name>-to: /path` rewrites `:path`; `x-<name>-deny` answers 403; `x-<name>-deny-resp` answers 451 to the
 * response headers; `x-<name>-slow` delays its request-headers reply by 5 s.
 */
function processor(name: string): Promise<TestProcessor> {
  return startProcessor({
    onRequestHeaders: (msg) => {
      events.push(`${name}:request`);
      if (headerValue(msg, `x-${name}-deny`) !== undefined) return reply.immediate({ status: 403, body: `denied by ${name}` });
      const set: Array<[string, string]> = [
        [`x-proc-${name}`, 'ran'],
        [`x-saw-${name}`, stamps(msg, 'x-proc-')],
      ];
      const to = headerValue(msg, `x-${name}-to`);
      if (to !== undefined) set.push([':path', to]);
      const r = reply.headers('request', { set });
      return headerValue(msg, `x-${name}-slow`) !== undefined ? { delayMs: 5_000, then: r } : r;
    },
    onResponseHeaders: (msg, ctx) => {
      events.push(`${name}:response`);
      if (headerValue(ctx.received[0]!, `x-${name}-deny-resp`) !== undefined) return reply.immediate({ status: 451, body: `response denied by ${name}` });
      return reply.headers('response', {
        set: [
          [`x-resp-${name}`, 'ran'],
          [`x-sawresp-${name}`, stamps(msg, 'x-resp-')],
        ],
      });
    },
  });
}

/** Request headers only (no bodies), response headers sent. */
const extProc = (p: TestProcessor, pad: number): string =>
  ['extProc:', `  host: "${p.target}"`, '  processingOptions:', '    requestBodyMode: none', '    responseBodyMode: none']
    .map((l) => ' '.repeat(pad) + l)
    .join('\n');

/** The upstream names itself and echoes the request's stamps. */
const upstream = (): Promise<Upstream> =>
  startUpstream({
    handler: (req) => {
      const seen: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('x-proc-') || k.startsWith('x-saw-')) seen[k] = String(v);
      // `/slow/…` answers after 5 s: its route has a 300 ms request timeout.
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: req.path, seen }), ...(req.path.startsWith('/slow/') ? { delayMs: 5_000 } : {}) };
    },
  });

interface AccessLine {
  status: number;
  route: string;
  extProc?: Array<{ target: string; outcome: string; phases: string[] }>;
}

describe('ext_proc: the route a processor re-routes to runs its own processor', { timeout: 120_000 }, () => {
  let gw: TestProcessor;
  let g: TestProcessor;
  let r: TestProcessor;
  let r2: TestProcessor;
  let r3: TestProcessor;
  let up: Upstream;
  let gate: StartedGateway;
  const targets = (): Record<string, string> => ({ [gw.target]: 'gw', [g.target]: 'g', [r.target]: 'r', [r2.target]: 'r2', [r3.target]: 'r3' });

  before(async () => {
    [gw, g, r, r2, r3, up] = await Promise.all([processor('gw'), processor('g'), processor('r'), processor('r2'), processor('r3'), upstream()]);
    const route = (name: string, prefix: string, proc?: TestProcessor): string =>
      [
        `    - name: ${name}`,
        `      matches: [{path: {pathPrefix: ${prefix}}}]`,
        `      backends: [{host: 127.0.0.1:${up.port}}]`,
        ...(proc === undefined ? [] : ['      policies:', extProc(proc, 8)]),
      ].join('\n');
    gate = await startGateway(`
binds:
- port: {{PORT}}
  listeners:
  - gatewayName: my-gateway
    routes:
${route('ra', '/a/')}
${route('rg', '/g/', g)}
${route('rplain', '/plain/')}
${route('rr', '/r/', r)}
${route('rr2', '/r2/', r2)}
${route('rr3', '/r3/', r3)}
    - name: rslow
      matches: [{path: {pathPrefix: /slow/}}]
      backends: [{host: 127.0.0.1:${up.port}}]
      policies:
        timeout: {requestTimeout: 300ms}
    - name: rjwt
      matches: [{path: {pathPrefix: /jwt/}}]
      backends: [{host: 127.0.0.1:${up.port}}]
      policies:
        jwtAuth: {issuer: me}
gatewayPolicies:
- name: gateway-phase
  target:
    gateway: my-gateway
  policy:
${extProc(gw, 4)}
`);
  });
  after(async () => {
    closeClients();
    await gate?.stop();
    await Promise.all([gw, g, r, r2, r3].map((p) => p?.stop()));
    await up?.close();
  });

  /** Sends a request; returns the response, the upstream's echo (if it was reached) and the processors' events. */
  const send = async (proto: Proto, path: string, headers: Record<string, string> = {}) => {
    events.length = 0;
    const res = await call(proto, gate.url(), { path, headers });
    const echo = res.headers['content-type'] === 'application/json' ? (JSON.parse(res.text) as { path: string; seen: Record<string, string> }) : undefined;
    return { res, echo, events: [...events] };
  };
  const accessLine = async (path: string): Promise<AccessLine> =>
    JSON.parse(await gate.waitForLine((l) => l.includes('"kind":"access"') && l.includes(`"path":"${path}"`))) as AccessLine;
  const processorsIn = (line: AccessLine): string[] => (line.extProc ?? []).map((e) => `${targets()[e.target] ?? e.target}:${e.outcome}`);

  it('a re-route to a route with a policy tollgate cannot enforce fails as a direct request there does (500), never reaches it', async () => {
    for (const proto of PROTOS) {
      const direct = await send(proto, `/jwt/direct-${proto}`);
      assert.equal(direct.res.status, 500);
      assert.match(direct.res.text, /policy jwtAuth is not implemented/);
      const rerouted = await send(proto, `/a/to-jwt-${proto}`, { 'x-gw-to': `/jwt/from-a-${proto}` });
      assert.equal(rerouted.res.status, 500, `HTTP/${proto}: ${rerouted.res.text}`);
      assert.match(rerouted.res.text, /policy jwtAuth is not implemented/);
      assert.equal(rerouted.echo, undefined, 'the upstream was not reached');
    }
  });

  it("a re-route applies the new route's request timeout, counted from arrival (not the arrival route's)", async () => {
    for (const proto of PROTOS) {
      const started = Date.now();
      const { res, echo } = await send(proto, `/a/to-slow-${proto}`, { 'x-gw-to': `/slow/from-a-${proto}` });
      assert.equal(res.status, 504, `HTTP/${proto}: ${res.text}`);
      assert.match(res.text, /request timeout: no complete response within 300ms/);
      assert.equal(echo, undefined);
      assert.ok(Date.now() - started < 4_000, `answered after ${Date.now() - started} ms, not when the upstream did`);
    }
  });

  it('a gateway-phase processor re-routes to a route with its own processor: both run, in order', async () => {
    for (const proto of PROTOS) {
      const path = `/a/to-g-${proto}`;
      const { res, echo, events: ev } = await send(proto, path, { 'x-gw-to': `/g/from-a-${proto}` });
      assert.equal(res.status, 200);
      assert.equal(echo?.path, `/g/from-a-${proto}`, 'the re-selected route decides the backend and the path');
      assert.deepEqual(ev, ['gw:request', 'g:request', 'g:response', 'gw:response'], 'request phases in order, response phases in reverse');
      assert.equal(echo?.seen['x-proc-gw'], 'ran', "the upstream sees the gateway processor's mutation");
      assert.equal(echo?.seen['x-proc-g'], 'ran', "the upstream sees the route processor's mutation");
      assert.equal(echo?.seen['x-saw-g'], 'gw', "the route processor got the request as the gateway processor left it");
      assert.equal(res.headers['x-resp-g'], 'ran');
      assert.equal(res.headers['x-resp-gw'], 'ran');
      assert.equal(res.headers['x-sawresp-gw'], 'g', "the gateway processor sees the route processor's response mutation");
      assert.equal(res.headers['x-sawresp-g'], 'none');
      const line = await accessLine(path);
      assert.equal(line.route, 'default/rg');
      assert.deepEqual(processorsIn(line), ['gw:ok', 'g:ok'], 'the access log lists both processors in start order');
    }
  });

  it('a route-level processor re-routes to a route with another processor: that one runs too', async () => {
    for (const proto of PROTOS) {
      const path = `/r/to-r2-${proto}`;
      const { res, echo, events: ev } = await send(proto, path, { 'x-r-to': `/r2/from-r-${proto}` });
      assert.equal(res.status, 200);
      assert.equal(echo?.path, `/r2/from-r-${proto}`);
      assert.deepEqual(ev, ['r:request', 'r2:request', 'r2:response', 'r:response']);
      assert.deepEqual([echo?.seen['x-proc-r'], echo?.seen['x-proc-r2'], echo?.seen['x-proc-gw']], ['ran', 'ran', undefined], 'the gateway-phase one stays replaced');
      assert.deepEqual(processorsIn(await accessLine(path)), ['r:ok', 'r2:ok']);
    }
  });

  it("the second processor's immediate response is honoured; both streams end", async () => {
    for (const proto of PROTOS) {
      const path = `/a/denied-${proto}`;
      const [gwStreams, gStreams, upCalls] = [gw.streams, g.streams, up.requests.length];
      const { res, events: ev } = await send(proto, path, { 'x-gw-to': '/g/secret', 'x-g-deny': '1' });
      assert.equal(res.status, 403);
      assert.equal(res.text, 'denied by g');
      assert.deepEqual(ev, ['gw:request', 'g:request']);
      assert.equal(up.requests.length, upCalls, 'the upstream is never called');
      assert.deepEqual(processorsIn(await accessLine(path)), ['gw:ok', 'g:immediate_response']);
      assert.deepEqual([gw.streams, g.streams], [gwStreams + 1, gStreams + 1]);
      await Promise.all([gw.records[gwStreams]!.ended, g.records[gStreams]!.ended]);
    }
  });

  it("a processor's immediate response in the response phase ends it: the earlier processor never sees the response", async () => {
    for (const proto of PROTOS) {
      const path = `/a/resp-denied-${proto}`;
      const { res, events: ev } = await send(proto, path, { 'x-gw-to': '/g/x', 'x-g-deny-resp': '1' });
      assert.equal(res.status, 451);
      assert.equal(res.text, 'response denied by g');
      assert.deepEqual(ev, ['gw:request', 'g:request', 'g:response']);
      assert.deepEqual(processorsIn(await accessLine(path)), ['gw:ok', 'g:immediate_response']);
    }
  });

  it('a re-route to a route without extProc behaves as before: only the first processor runs', async () => {
    for (const proto of PROTOS) {
      const path = `/a/to-plain-${proto}`;
      const { res, echo, events: ev } = await send(proto, path, { 'x-gw-to': `/plain/from-a-${proto}` });
      assert.equal(res.status, 200);
      assert.equal(echo?.path, `/plain/from-a-${proto}`);
      assert.deepEqual(ev, ['gw:request', 'gw:response']);
      assert.deepEqual(Object.keys(echo!.seen).sort(), ['x-proc-gw', 'x-saw-gw']);
      const line = await accessLine(path);
      assert.equal(line.route, 'default/rplain');
      assert.deepEqual(processorsIn(line), ['gw:ok']);
    }
  });

  it('no processor runs twice for a request re-routed to its own route', async () => {
    for (const proto of PROTOS) {
      const path = `/r/self-${proto}`;
      const before = r.streams;
      const { res, echo, events: ev } = await send(proto, path, { 'x-r-to': `/r/again-${proto}` });
      assert.equal(res.status, 200);
      assert.equal(echo?.path, `/r/again-${proto}`);
      assert.deepEqual(ev, ['r:request', 'r:response']);
      assert.equal(r.streams, before + 1);
      assert.deepEqual(processorsIn(await accessLine(path)), ['r:ok']);
    }
  });

  it('the second processor may re-route again, but a third processor is never started (cap of two)', async () => {
    for (const proto of PROTOS) {
      const path = `/r/chain-${proto}`;
      const before = r3.streams;
      const { res, echo, events: ev } = await send(proto, path, { 'x-r-to': '/r2/hop', 'x-r2-to': `/r3/end-${proto}` });
      assert.equal(res.status, 200);
      assert.equal(echo?.path, `/r3/end-${proto}`, "the second processor's rewrite selects the route again");
      assert.deepEqual(ev, ['r:request', 'r2:request', 'r2:response', 'r:response']);
      assert.equal(r3.streams, before, 'no third processor');
      const line = await accessLine(path);
      assert.equal(line.route, 'default/rr3');
      assert.deepEqual(processorsIn(line), ['r:ok', 'r2:ok']);
    }
    await gate.waitForLine((l) => l.includes('at most two processors run per request'));
  });

  it('a client that goes away while the second processor works ends both streams', async () => {
    const [gwStreams, gStreams] = [gw.streams, g.streams];
    const req = http.get(`${gate.url()}/a/abandoned`, { headers: { 'x-gw-to': '/g/slow', 'x-g-slow': '1' } });
    req.on('error', () => undefined);
    await Promise.race([g.waitForStreams(gStreams + 1), new Promise((_, reject) => setTimeout(() => reject(new Error('the route processor never ran')), 10_000))]);
    req.destroy();
    const ended = await Promise.all([gw.records[gwStreams]!.ended, g.records[gStreams]!.ended]);
    assert.deepEqual(ended, ['cancelled', 'cancelled']);
    assert.deepEqual(processorsIn(await accessLine('/a/abandoned')), ['gw:aborted', 'g:aborted']);
  });
});

describe("ext_proc re-routing with bodies: the first processor's body is the second one's input", { timeout: 60_000 }, () => {
  for (const mode of ['buffered', 'fullDuplexStreamed']) {
    it(`${mode} bodies chain through both processors to the upstream`, async (t) => {
      const up = await startUpstream({ handler: (req) => ({ status: 200, body: `${req.path} ${req.body.toString('utf8')}` }) });
      /** Appends `+name` to the request body (a body containing `deny` is answered 429); `to` rewrites :path. */
      const body = (name: string, to?: string) =>
        startProcessor({
          onRequestHeaders: () => reply.headers('request', to === undefined ? {} : { set: [[':path', to]] }),
          onRequestBody: (msg) => {
            const b = msg.requestBody!;
            const text = Buffer.from(b.body ?? new Uint8Array()).toString('utf8');
            if (text.includes('deny')) return reply.immediate({ status: 429, body: `body denied by ${name}` });
            if (mode === 'buffered') return reply.body('request', { body: `${text}+${name}` });
            return reply.streamed('request', b.endOfStream ? `${text}+${name}` : text, !!b.endOfStream);
          },
        });
      const [first, second] = await Promise.all([body('first', '/second/x'), body('second')]);
      const opts = (p: TestProcessor): string =>
        `{host: "${p.target}", processingOptions: {requestBodyMode: ${mode}, responseHeaderMode: skip, responseBodyMode: none}}`;
      const gate = await startGateway(`
binds:
- port: {{PORT}}
  listeners:
  - gatewayName: my-gateway
    routes:
    - name: first
      matches: [{path: {pathPrefix: /first/}}]
      backends: [{host: 127.0.0.1:1}]
      policies:
        extProc: ${opts(first)}
    - name: second
      matches: [{path: {pathPrefix: /second/}}]
      backends: [{host: 127.0.0.1:${up.port}}]
      policies:
        extProc: ${opts(second)}
`);
      t.after(async () => {
        closeClients();
        await gate.stop();
        await Promise.all([first.stop(), second.stop(), up.close()]);
      });
      for (const proto of PROTOS) {
        const res = await call(proto, gate.url(), { path: '/first/x', body: ['hel', 'lo'] });
        assert.equal(res.status, 200);
        assert.equal(res.text, '/second/x hello+first+second');
        // In full duplex the second processor is already streaming the first one's output when the first answers.
        const denied = await call(proto, gate.url(), { path: '/first/x', body: ['please ', 'deny'] });
        assert.equal(denied.status, 429, "the first processor's answer mid-body is what the client gets");
        assert.equal(denied.text, 'body denied by first');
      }
    });
  }
});
