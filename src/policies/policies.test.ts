import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderList } from '../http/headers.js';
import { readAll } from '../http/body.js';
import { GatewayError } from '../errors.js';
import { applyHeaderModifier } from './header-modifier.js';
import { directResponse } from './direct-response.js';
import { raceSignal, startRequestTimeout } from './timeout.js';
import { RequestAbort } from '../http/abort.js';

test('header modifier: set replaces all values, add appends, remove deletes; absent policy is a no-op', () => {
  const h = new HeaderList([['x-a', '1'], ['x-a', '2'], ['x-gone', 'y'], ['keep', 'k']]);
  applyHeaderModifier({ set: [{ name: 'X-A', value: 'set' }], add: [{ name: 'x-b', value: 'b' }, { name: 'keep', value: 'k2' }], remove: ['x-gone'] }, h);
  assert.deepEqual(h.entries(), [['x-a', 'set'], ['keep', 'k'], ['x-b', 'b'], ['keep', 'k2']]);
  const before = h.entries();
  applyHeaderModifier(undefined, h);
  assert.deepEqual(h.entries(), before);
});

test('direct response carries status and body, and is a fresh object each time', async () => {
  const d = { status: 418, body: 'teapot' };
  const r1 = directResponse(d);
  const r2 = directResponse(d);
  assert.notEqual(r1, r2);
  assert.equal(r1.status, 418);
  assert.equal(r1.headers.get('content-length'), '6');
  assert.equal((await readAll(r1.body!, 100, () => new Error('big'))).toString(), 'teapot');
  assert.equal(directResponse({ status: 204, body: '' }).body, null);
});

test('request timeout aborts with a request_timeout GatewayError; raceSignal rejects with it', { timeout: 5000 }, async () => {
  const ac = new RequestAbort();
  const t = startRequestTimeout({ requestTimeoutMs: 20, backendRequestTimeoutMs: undefined }, ac);
  assert.ok(t !== undefined);
  await assert.rejects(raceSignal(new Promise(() => undefined), ac), (e: unknown) => e instanceof GatewayError && e.code === 'request_timeout' && e.status === 504);
  assert.equal(startRequestTimeout(undefined, ac), undefined);
  assert.equal(await raceSignal(Promise.resolve(5), new RequestAbort()), 5);
});
