/**
 * Where extProc attaches and which one runs, end to end: route level over gateway level (seed
 * `gatewayPolicies` via `gatewayName`, the current shape's gateway field, top-level `policies[]`), route
 * re-selection after a `:path` / `:authority` rewrite, and the seed's second config (failClosed) with the
 * processor up and down. Over HTTP/1.1 and HTTP/2.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startGateway, type StartedGateway } from '../helpers/start-gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { headerValue, reply, startProcessor, type TestProcessor } from '../helpers/ext-proc-server.js';
import { call, closeClients, PROTOS, seedGatewayPolicyConfig } from '../helpers/ext-proc-harness.js';

/** Header-only processing options, indented to sit under an `extProc:` key whose fields start at `pad`. */
const headersOnly = (pad: number): string =>
  ['', 'processingOptions:', '  requestBodyMode: none', '  responseBodyMode: none', '  responseHeaderMode: skip']
    .map((l) => (l === '' ? l : ' '.repeat(pad) + l))
    .join('\n');

/** A processor that stamps its name, and rewrites routing when asked. */
function stamping(name: string): Promise<TestProcessor> {
  return startProcessor({
    onRequestHeaders: (msg) => {
      const set: Array<[string, string]> = [[`x-proc-${name}`, 'ran']];
      const to = headerValue(msg, 'x-reroute');
      if (to !== undefined && name === 'gw') set.push(to.startsWith('/') ? [':path', to] : [':authority', to]);
      return reply.headers('request', { set });
    },
  });
}

const upstreamNamed = (name: string) =>
  startUpstream({ handler: (req) => ({ status: 200, headers: { 'x-upstream': name, 'x-saw-gw': String(req.headers['x-proc-gw'] ?? 'no'), 'x-saw-route': String(req.headers['x-proc-route'] ?? 'no') }, body: req.path }) });

describe('ext_proc attachment and precedence', { timeout: 120_000 }, () => {
  let gwProc: TestProcessor;
  let routeProc: TestProcessor;
  let up1: Upstream;
  let up2: Upstream;
  const gateways: StartedGateway[] = [];
  before(async () => {
    [gwProc, routeProc, up1, up2] = await Promise.all([stamping('gw'), stamping('route'), upstreamNamed('one'), upstreamNamed('two')]);
  });
  after(async () => {
    closeClients();
    for (const g of gateways) await g.stop();
    await Promise.all([gwProc.stop(), routeProc.stop(), up1.close(), up2.close()]);
  });
  const start = async (yaml: string): Promise<StartedGateway> => {
    const g = await startGateway(yaml);
    gateways.push(g);
    return g;
  };

  it('seed shape: gatewayPolicies via gatewayName; a route-level extProc replaces it; rewrites re-select the route', async () => {
    const g = await start(
      seedGatewayPolicyConfig(
        gwProc.target,
        headersOnly(0).slice(1),
        `
    - name: own
      matches: [{path: {pathPrefix: /own}}]
      backends: [{host: 127.0.0.1:${up1.port}}]
      policies:
        extProc:
          host: "${routeProc.target}"${headersOnly(10)}
    - name: two
      matches: [{path: {pathPrefix: /two}}]
      backends: [{host: 127.0.0.1:${up2.port}}]
    - name: two-by-host
      hostnames: [two.example]
      backends: [{host: 127.0.0.1:${up2.port}}]
    - name: rest
      backends: [{host: 127.0.0.1:${up1.port}}]
`,
      ),
    );
    for (const proto of PROTOS) {
      const own = await call(proto, g.url(), { path: '/own/x' });
      assert.equal(own.headers['x-saw-route'], 'ran');
      assert.equal(own.headers['x-saw-gw'], 'no', 'only the route-level extProc runs');
      const rest = await call(proto, g.url(), { path: '/other' });
      assert.equal(rest.headers['x-saw-gw'], 'ran');
      assert.equal(rest.headers['x-upstream'], 'one');
      const moved = await call(proto, g.url(), { path: '/other', headers: { 'x-reroute': '/two/now' } });
      assert.equal(moved.headers['x-upstream'], 'two', 'a :path rewrite re-selects the route');
      assert.equal(moved.text, '/two/now');
      const byHost = await call(proto, g.url(), { path: '/other', headers: { 'x-reroute': 'two.example' } });
      assert.equal(byHost.headers['x-upstream'], 'two', 'an :authority rewrite re-selects the route');
    }
  });

  it('current shape: gateway-level extProc on the gateway; route-level wins', async () => {
    const port = await freePort();
    const g = await start(`
gateways:
  default:
    port: ${port}
    extProc:
      host: "${gwProc.target}"${headersOnly(6)}
routes:
- name: own
  matches: [{path: {pathPrefix: /own}}]
  backends: [{host: 127.0.0.1:${up1.port}}]
  policies:
    extProc:
      host: "${routeProc.target}"${headersOnly(6)}
- name: rest
  backends: [{host: 127.0.0.1:${up1.port}}]
`);
    for (const proto of PROTOS) {
      const own = await call(proto, g.url(port), { path: '/own' });
      assert.deepEqual([own.headers['x-saw-route'], own.headers['x-saw-gw']], ['ran', 'no']);
      const rest = await call(proto, g.url(port), { path: '/rest' });
      assert.deepEqual([rest.headers['x-saw-route'], rest.headers['x-saw-gw']], ['no', 'ran']);
    }
  });

  it('top-level policies[]: a gateway-phase extProc targeting the gateway runs', async () => {
    const port = await freePort();
    const g = await start(`
gateways:
  default:
    port: ${port}
routes:
- name: plain
  backends: [{host: 127.0.0.1:${up1.port}}]
policies:
- name: global
  phase: gateway
  target:
    gateway:
      gatewayName: default
  policy:
    extProc:
      host: "${gwProc.target}"${headersOnly(6)}
`);
    for (const proto of PROTOS) {
      const r = await call(proto, g.url(port), { path: '/x' });
      assert.equal(r.headers['x-saw-gw'], 'ran');
    }
  });
});

describe("the seed's second config (gatewayPolicies, failClosed)", { timeout: 60_000 }, () => {
  const seed = (procHost: string, mode: string): string =>
    seedGatewayPolicyConfig(procHost, `processingOptions:\n  requestBodyMode: ${mode}\n  responseBodyMode: ${mode}`);
  for (const mode of ['none', 'buffered']) {
    it(`processor up (${mode}): it sees every request, and the listener without routes answers 404`, async (t) => {
      const proc = await startProcessor({
        onRequestHeaders: (msg) => (headerValue(msg, 'x-block') ? reply.immediate({ status: 401, body: 'blocked by processor' }) : undefined),
      });
      const g = await startGateway(seed(proc.target, mode));
      t.after(async () => {
        closeClients();
        await g.stop();
        await proc.stop();
      });
      for (const proto of PROTOS) {
        const before = proc.streams;
        const r = await call(proto, g.url(), { path: '/anything', body: 'b' });
        assert.equal(r.status, 404);
        assert.equal(proc.streams, before + 1);
        const blocked = await call(proto, g.url(), { path: '/x', headers: { 'x-block': '1' } });
        assert.equal(blocked.status, 401);
        assert.equal(blocked.text, 'blocked by processor');
      }
    });
  }

  it('processor down: every request fails closed with 500', async (t) => {
    const g = await startGateway(seed(`127.0.0.1:${await freePort()}`, 'none'));
    t.after(async () => {
      closeClients();
      await g.stop();
    });
    for (const proto of PROTOS) {
      const r = await call(proto, g.url(), { path: '/anything' });
      assert.equal(r.status, 500);
      assert.match(r.text, /^ext_proc failed: /);
    }
  });
});
