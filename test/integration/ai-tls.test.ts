// An ai backend with hostOverride dials plaintext unless backendTLS is added (agentgateway's rule); with
// backendTLS the gateway must use TLS and honour its trust settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAiGateway } from '../helpers/gateway-fixtures.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('hostOverride + backendTLS root: TLS to a local server trusted by that CA', { timeout: 30_000, skip: hasOpenssl() ? false : 'openssl not installed' }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-ai-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', certPath,
  ], { stdio: 'ignore' });
  const { mock, client } = await startAiGateway(t, `
binds:
- port: {{PORT}}
  listeners:
  - routes:
    - backends:
      - ai:
          name: local-tls
          provider:
            openAI: {model: tls-model}
          hostOverride: "127.0.0.1:{{MOCK}}"
      policies:
        backendTLS:
          root: "${certPath}"
`, { mock: { tls: { key: readFileSync(keyPath), cert: readFileSync(certPath) } } });
  const chat = await client.chat.completions.create({ model: 'x', messages: [] });
  assert.equal(chat.model, 'tls-model');
  assert.equal(mock.requests.length, 1);
});
