/**
 * Hot reload of the watched config file through the real CLI: valid edits apply, invalid edits keep the last
 * good config (logged, synchronized gauge 0), and a request in flight during a reload completes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { gatedUpstream, helloConfig, routesConfig, scopedUpstream } from '../helpers/gateway-fixtures.js';
import { lineAfter, startGateway, type StartedGateway } from '../helpers/start-gateway.js';
import { hasOpenssl, makeSelfSignedCert, tempDir } from '../helpers/temp-files.js';

const CONFIG = helloConfig('first');

/** Rewrites the watched file and resolves once the gateway logged the outcome of that reload. */
async function edit(gw: StartedGateway, change: (text: string) => string, expect: RegExp): Promise<Record<string, unknown>> {
  const line = await lineAfter(gw, () => writeFileSync(gw.configPath, change(readFileSync(gw.configPath, 'utf8'))), /config reloaded|Failed to reload config/);
  assert.match(line, expect);
  return JSON.parse(line) as Record<string, unknown>;
}

async function body(url: string): Promise<string> {
  const r = await fetch(url);
  return `${r.status} ${await r.text()}`;
}

test('a valid edit is applied without a restart', { timeout: 30_000 }, async (t) => {
  const gw = await startGateway(CONFIG);
  t.after(() => gw.stop());
  assert.equal(await body(`${gw.url()}/hello`), '200 first');
  await edit(gw, (s) => s.replace('body: first', 'body: second'), /config reloaded/);
  assert.equal(await body(`${gw.url()}/hello`), '200 second');
  const dump = await (await fetch(`${gw.adminUrl}/config_dump`)).text();
  assert.match(dump, /"body": "second"/);
  assert.match(await (await fetch(`${gw.statsUrl}/metrics`)).text(), /tollgate_config_reloads_total\{result="success"\} 1/);
});

test('an invalid edit is logged with its error and the previous config keeps serving', { timeout: 30_000 }, async (t) => {
  const gw = await startGateway(CONFIG);
  t.after(() => gw.stop());
  const failed = await edit(gw, (s) => s.replace('body: first', 'body: broken\n          statuz: 201'), /Failed to reload config/);
  assert.match(String(failed.error), /directResponse/);
  assert.match(String(failed.error), /statuz/);
  assert.equal(failed.level, 50);
  assert.ok(Array.isArray(failed.issues) && failed.issues.length > 0);
  assert.equal(await body(`${gw.url()}/hello`), '200 first');
  let metrics = await (await fetch(`${gw.statsUrl}/metrics`)).text();
  assert.match(metrics, /tollgate_config_synchronized 0/);
  assert.match(metrics, /tollgate_config_reloads_total\{result="failure"\} 1/);
  // A later valid edit recovers.
  await edit(gw, (s) => s.replace('body: broken\n          statuz: 201', 'body: fixed'), /config reloaded/);
  assert.equal(await body(`${gw.url()}/hello`), '200 fixed');
  metrics = await (await fetch(`${gw.statsUrl}/metrics`)).text();
  assert.match(metrics, /tollgate_config_synchronized 1/);
});

test('an editor-style save (write temp file, rename over) is picked up', { timeout: 30_000 }, async (t) => {
  const gw = await startGateway(CONFIG);
  t.after(() => gw.stop());
  const tmp = path.join(path.dirname(gw.configPath), '.config.yaml.swp');
  await lineAfter(gw, () => {
    writeFileSync(tmp, readFileSync(gw.configPath, 'utf8').replace('body: first', 'body: renamed'));
    renameSync(tmp, gw.configPath);
  }, /config reloaded/);
  assert.equal(await body(`${gw.url()}/hello`), '200 renamed');
  // The watch survives the rename: a later in-place edit still reloads.
  await edit(gw, (s) => s.replace('body: renamed', 'body: again'), /config reloaded/);
  assert.equal(await body(`${gw.url()}/hello`), '200 again');
});

test('a request in flight during a reload completes; new requests see the new config', { timeout: 30_000 }, async (t) => {
  const { up, release } = await gatedUpstream(t, 'slow upstream done');
  const gw = await startGateway(
    `${CONFIG}
    - name: slow
      backends:
      - host: 127.0.0.1:{{UP}}
`,
    { vars: { UP: up.port } },
  );
  t.after(() => gw.stop());
  const inflight = fetch(`${gw.url()}/slow`).then(async (r) => `${r.status} ${await r.text()}`);
  await up.nextRequest();
  // The new config answers /slow itself: if the in-flight request were re-routed or dropped, we would see it.
  await edit(
    gw,
    (s) => s.replace('body: first', 'body: reloaded').replace(/- name: slow\n\s+backends:\n\s+- host: [^\n]+/, '- name: slow\n      policies:\n        directResponse:\n          body: new-slow'),
    /config reloaded/,
  );
  assert.equal(await body(`${gw.url()}/hello`), '200 reloaded');
  assert.equal(await body(`${gw.url()}/slow`), '200 new-slow');
  release();
  assert.equal(await inflight, '200 slow upstream done');
  assert.equal(up.requests.length, 1);
});

test('rotating a {file:} secret the config references takes effect without editing the config', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'tollgate-reload-');
  const keyFile = path.join(dir, 'api-key');
  writeFileSync(keyFile, 'sk-old-1111\n');
  const up = await scopedUpstream(t);
  const gw = await startGateway(
    routesConfig(`
    - policies:
        backendAuth:
          key:
            file: ${keyFile}
      backends:
      - host: 127.0.0.1:{{UP}}
`),
    { vars: { UP: up.port } },
  );
  t.after(() => gw.stop());
  const auth = async (): Promise<unknown> => {
    const r = await fetch(`${gw.url()}/x`, { headers: { authorization: 'Bearer client' } });
    return ((await r.json()) as { headers: Record<string, unknown> }).headers.authorization;
  };
  assert.equal(await auth(), 'Bearer sk-old-1111');
  await lineAfter(gw, () => writeFileSync(keyFile, 'sk-new-2222\n'), /config reloaded/);
  assert.equal(await auth(), 'Bearer sk-new-2222');
  assert.ok(!gw.stdout.join('\n').includes('sk-new-2222'), 'the secret reached the log');
});

/** The CN of the certificate the server presents on a new TLS connection. */
function servedCn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const cn = s.getPeerCertificate().subject.CN;
      s.destroy();
      resolve(Array.isArray(cn) ? cn.join(',') : String(cn));
    });
    s.once('error', reject);
  });
}

test('a rotated TLS certificate is served to new connections without editing the config', { timeout: 30_000, skip: hasOpenssl() ? false : 'openssl not installed' }, async (t) => {
  const dir = tempDir(t, 'tollgate-rotate-');
  const certPath = path.join(dir, 'tls.crt');
  const keyPath = path.join(dir, 'tls.key');
  makeSelfSignedCert(certPath, keyPath, 'rotation-one');
  const gw = await startGateway(`
binds:
- port: {{PORT}}
  listeners:
  - name: secure
    protocol: HTTPS
    tls:
      cert: ${certPath}
      key: ${keyPath}
    routes:
    - policies:
        directResponse:
          body: ok
`);
  t.after(() => gw.stop());
  assert.equal(await servedCn(gw.ports.PORT!), 'rotation-one');
  // Like cert-manager or a ConfigMap swap: the new pair is prepared aside, then moved into place.
  makeSelfSignedCert(path.join(dir, 'new.crt'), path.join(dir, 'new.key'), 'rotation-two');
  await lineAfter(gw, () => {
    renameSync(path.join(dir, 'new.key'), keyPath);
    renameSync(path.join(dir, 'new.crt'), certPath);
  }, /config reloaded/);
  assert.equal(await servedCn(gw.ports.PORT!), 'rotation-two');
});
