// An ai backend with hostOverride dials plaintext unless backendTLS is added (agentgateway's rule); with
// backendTLS the gateway must use TLS and honour its trust settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { routesConfig, startAiGateway } from '../helpers/gateway-fixtures.js';
import { hasOpenssl, makeSelfSignedCert, tempDir } from '../helpers/temp-files.js';

test('hostOverride + backendTLS root: TLS to a local server trusted by that CA', { timeout: 30_000, skip: hasOpenssl() ? false : 'openssl not installed' }, async (t) => {
  const dir = tempDir(t, 'tollgate-ai-tls-');
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  makeSelfSignedCert(certPath, keyPath, '127.0.0.1', { ipSan: '127.0.0.1' });
  const { mock, client } = await startAiGateway(t, routesConfig(`
    - backends:
      - ai:
          name: local-tls
          provider:
            openAI: {model: tls-model}
          hostOverride: "127.0.0.1:{{MOCK}}"
      policies:
        backendTLS:
          root: "${certPath}"
`), { mock: { tls: { key: readFileSync(keyPath), cert: readFileSync(certPath) } } });
  const chat = await client.chat.completions.create({ model: 'x', messages: [] });
  assert.equal(chat.model, 'tls-model');
  assert.equal(mock.requests.length, 1);
});
