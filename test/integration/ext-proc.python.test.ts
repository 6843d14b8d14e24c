/**
 * tollgate against an independent processor (Python, Debian python3-grpcio, C-core gRPC), over HTTP/1.1
 * and HTTP/2: headers both ways, a buffered request body rewrite, an immediate response, a processor that
 * answers a body with an empty response (a protocol error with a clear reason), and full duplex on default
 * options.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pythonUnavailable, startPythonProcessor, type PythonScenario } from '../helpers/python-processor.js';
import { startGateway } from '../helpers/start-gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { call, closeClients, processing, PROTOS, routeConfig } from '../helpers/ext-proc-harness.js';

const skip = pythonUnavailable();

async function setup(t: { after: (fn: () => Promise<void>) => void }, scenario: PythonScenario, extra: string) {
  const up = await startUpstream({
    handler: (req) => ({ status: 200, headers: { 'x-up-saw-py': String(req.headers['x-py-request'] ?? 'no') }, body: req.body.length > 0 ? req.body : 'upstream' }),
  });
  const py = await startPythonProcessor(scenario);
  const gw = await startGateway(routeConfig({ procHost: py.target, upPort: up.port, extra }));
  t.after(async () => {
    closeClients();
    await gw.stop();
    await py.stop();
    await up.close();
  });
  return { url: gw.url(), up };
}

describe('ext_proc with the Python processor', { timeout: 120_000, skip: skip ?? false }, () => {
  it('headers both ways', async (t) => {
    const { url } = await setup(t, 'headers', processing({}));
    for (const proto of PROTOS) {
      const r = await call(proto, url, { path: '/h' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-up-saw-py'], '1');
      assert.equal(r.headers['x-py-response'], '1');
    }
  });

  it('buffered request body rewrite (with content-length)', async (t) => {
    const { url, up } = await setup(t, 'buffered-rewrite', processing({ reqBody: 'buffered', resHeaders: 'skip' }));
    for (const proto of PROTOS) {
      const r = await call(proto, url, { path: '/b', body: 'make me loud', headers: { 'content-length': '12' } });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'MAKE ME LOUD');
      assert.equal(up.requests.at(-1)!.body.toString(), 'MAKE ME LOUD');
    }
  });

  it('immediate response', async (t) => {
    const { url, up } = await setup(t, 'immediate', processing({}));
    for (const proto of PROTOS) {
      const r = await call(proto, url, { path: '/i' });
      assert.equal(r.status, 403);
      assert.equal(r.text, 'blocked by python');
    }
    assert.equal(up.requests.length, 0);
  });

  it('an empty reply to a body is a protocol error naming the phase and the fix', async (t) => {
    const { url } = await setup(t, 'empty-reply', processing({ reqBody: 'bufferedPartial' }));
    for (const proto of PROTOS) {
      const r = await call(proto, url, { path: '/e', body: 'x' });
      assert.equal(r.status, 500);
      assert.match(r.text, /answered request_body with an empty response \(no oneof set\); in bufferedPartial mode it must send a BodyResponse/);
    }
  });

  it('full duplex on default options: every chunk rewritten both ways', async (t) => {
    const { url } = await setup(t, 'duplex-upper', '');
    for (const proto of PROTOS) {
      const body = 'abc'.repeat(30_000);
      const r = await call(proto, url, { path: '/d', body });
      assert.equal(r.status, 200);
      assert.equal(r.text, body.toUpperCase());
    }
  });
});
