import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackendAuth, Secret } from '../config/model.js';
import { GatewayError } from '../errors.js';
import { HeaderList } from '../http/headers.js';
import type { GatewayRequest } from '../http/message.js';
import { applyBackendAuth } from './backend-auth.js';

function secret(value: string): Secret {
  return { kind: 'secret', origin: 'inline', reveal: () => value, toJSON: () => '<redacted>' };
}

function req(headers: [string, string][]): GatewayRequest {
  return {
    method: 'POST',
    scheme: 'http',
    authority: 'a',
    path: '/',
    headers: new HeaderList(headers),
    body: null,
    httpVersion: '1.1',
    remoteAddress: '',
    remotePort: 0,
  };
}

const key = (k: string): BackendAuth => ({ kind: 'key', key: secret(k), header: 'authorization', prefix: 'Bearer ' });

test('key replaces every client Authorization value with Bearer <key>', () => {
  const r = req([['Authorization', 'Bearer client'], ['x', '1'], ['authorization', 'Basic other']]);
  applyBackendAuth(key('sk-test'), r);
  assert.deepEqual(r.headers.getAll('authorization'), ['Bearer sk-test']);
  assert.equal(r.headers.get('x'), '1');
});

test('key is added when the client sent none', () => {
  const r = req([]);
  applyBackendAuth(key('sk-test'), r);
  assert.equal(r.headers.get('authorization'), 'Bearer sk-test');
});

test('passthrough and no policy leave the client credential alone', () => {
  for (const auth of [{ kind: 'passthrough' } as const, undefined]) {
    const r = req([['authorization', 'Bearer client']]);
    applyBackendAuth(auth, r);
    assert.equal(r.headers.get('authorization'), 'Bearer client');
  }
});

test('a key that cannot be a header value fails without revealing it', () => {
  const r = req([]);
  assert.throws(
    () => applyBackendAuth(key('sk-secret\r\nx-injected: 1'), r),
    (e: unknown) => e instanceof GatewayError && !e.message.includes('sk-secret') && e.status === 500,
  );
  assert.equal(r.headers.has('authorization'), false);
  assert.equal(r.headers.has('x-injected'), false);
});
