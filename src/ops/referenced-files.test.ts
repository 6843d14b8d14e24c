import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayModel } from '../config/model.js';
import { makeSecret } from '../config/secrets.js';
import { referencedFiles } from './referenced-files.js';

test('file secrets and TLS cert/key paths are collected once each; inline secrets are not', () => {
  const model = {
    config: {},
    frontend: {},
    binds: [
      {
        listeners: [
          { tls: { cert: 'PEM', certPath: '/etc/tls/cert.pem', keyPath: '/etc/tls/key.pem', key: makeSecret('k', 'file:/etc/tls/key.pem') } },
        ],
      },
      {
        routes: [
          { policies: { backendAuth: { kind: 'key', key: makeSecret('sk', 'file:/run/secrets/openai') } } },
          { policies: { backendAuth: { kind: 'key', key: makeSecret('sk2', 'inline') } } },
        ],
      },
    ],
  } as unknown as GatewayModel;
  assert.deepEqual(referencedFiles(model), ['/etc/tls/cert.pem', '/etc/tls/key.pem', '/run/secrets/openai']);
});
