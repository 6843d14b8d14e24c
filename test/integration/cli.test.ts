// The `tollgate` command line, run as a real process (the compiled dist/main.js, as users run it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../helpers/start-gateway.js';
import { tempDir } from '../helpers/temp-files.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tollgate(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

function tempConfig(t: import('node:test').TestContext, name: string, text: string): string {
  const file = path.join(tempDir(t, 'tollgate-cli-'), name);
  writeFileSync(file, text);
  return file;
}

const VALID = `
binds:
  - port: 3000
    listeners:
      - routes:
          - name: hello
            policies:
              directResponse:
                body: hi
`;

test('--validate-only accepts a valid config file', { timeout: 30_000 }, async (t) => {
  const file = tempConfig(t, 'ok.yaml', VALID);
  const r = await tollgate(['--validate-only', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Configuration is valid!\n');
});

test('--validate-only warns about policies that are accepted but not implemented (a request would get 500)', { timeout: 30_000 }, async (t) => {
  const file = tempConfig(t, 'cors.yaml', VALID.replace('            policies:\n', '            policies:\n              cors: {allowOrigins: ["*"]}\n'));
  const r = await tollgate(['--validate-only', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Configuration is valid!\n');
  assert.match(r.stderr, /^warning: route default\/hello \(port 3000\): cors not implemented; requests on it get a 500$/m);
  const clean = await tollgate(['--validate-only', '-f', tempConfig(t, 'ok.yaml', VALID)]);
  assert.equal(clean.stderr, '');
});

test('--validate-only rejects an invalid config with the path on stderr and exit 1', { timeout: 30_000 }, async (t) => {
  const file = tempConfig(t, 'bad.yaml', VALID.replace('body: hi', 'body: hi\n                statuss: 200'));
  const r = await tollgate(['--validate-only', '-f', file]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /binds\[0\]\.listeners\[0\]\.routes\[0\]\.policies\.directResponse/);
  assert.match(r.stderr, /statuss/);
});

test('--validate-only rejects CEL that could never evaluate (unknown function or variable), naming its path', { timeout: 30_000 }, async (t) => {
  const extProc = `
              extProc:
                conditional:
                - condition: "requets.path == '/x'"
                  host: 127.0.0.1:9000
                - host: 127.0.0.1:9001
                  requestAttributes: {a: "nosuchfn(request.path)", ok: "request.method"}
`;
  const file = tempConfig(t, 'cel.yaml', VALID.replace('            policies:\n', `            policies:${extProc}`));
  const r = await tollgate(['--validate-only', '-f', file]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  const base = 'binds\\[0\\]\\.listeners\\[0\\]\\.routes\\[0\\]\\.policies\\.extProc\\.conditional';
  assert.match(r.stderr, new RegExp(`${base}\\[0\\]\\.condition: .*unknown variable "requets" \\(did you mean "request"\\?\\); known: request`));
  assert.match(r.stderr, new RegExp(`${base}\\[1\\]\\.requestAttributes\\.a: .*unknown function "nosuchfn"`));
  assert.doesNotMatch(r.stderr, /requestAttributes\.ok/);
});

test('-c takes an inline config and --validate-only works with it', { timeout: 30_000 }, async () => {
  const ok = await tollgate(['--validate-only', '-c', VALID]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'Configuration is valid!\n');
  const bad = await tollgate(['--validate-only', '-c', 'binds: 7']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /binds/);
});

test('an unset environment variable is a load error naming it', { timeout: 30_000 }, async () => {
  const r = await tollgate(['--validate-only', '-c', VALID.replace('body: hi', 'body: $TOLLGATE_TEST_SURELY_UNSET')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /TOLLGATE_TEST_SURELY_UNSET/);
});

test('a config error never echoes a secret taken from the environment or a file', { timeout: 30_000 }, async (t) => {
  const keyFile = tempConfig(t, 'key.txt', 'sk-file-secret-4242');
  const text = `
binds:
  - port: 3000
    listeners:
      - routes:
          - name: a
            policies:
              backendAuth:
                key: $TOLLGATE_TEST_KEY
            backends:
              - host: 127.0.0.1:1
          - name: b
            policies:
              backendAuth:
                key:
                  file: ${keyFile}
              bogusPolicy: 1
            backends:
              - host: 127.0.0.1:1
`;
  const r = await tollgate(['--validate-only', '-c', text], { TOLLGATE_TEST_KEY: 'sk-env-secret-4242' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bogusPolicy/);
  assert.ok(!r.stderr.includes('sk-env-secret-4242'));
  assert.ok(!r.stderr.includes('sk-file-secret-4242'));
});

test('-f and -c together are a usage error (exit 2)', { timeout: 30_000 }, async () => {
  const r = await tollgate(['-f', 'x.yaml', '-c', VALID]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /mutually exclusive/);
  assert.match(r.stderr, /Usage:/);
});

test('an unknown TOLLGATE_EXTPROC_TRANSPORT stops startup (exit 2) and lists the allowed values', { timeout: 30_000 }, async () => {
  const r = await tollgate(['-c', VALID], { TOLLGATE_EXTPROC_TRANSPORT: 'grpc-js' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /TOLLGATE_EXTPROC_TRANSPORT must be one of wire, node-http2, not "grpc-js"/);
});

test('a missing config file is reported, exit 1', { timeout: 30_000 }, async () => {
  const r = await tollgate(['--validate-only', '-f', '/nonexistent/tollgate.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read config file \/nonexistent\/tollgate\.yaml: ENOENT/);
});

test('schema prints the JSON Schema as valid JSON', { timeout: 30_000 }, async () => {
  const r = await tollgate(['schema']);
  assert.equal(r.code, 0, r.stderr);
  const schema = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(typeof schema, 'object');
  assert.ok('properties' in schema || '$defs' in schema || 'anyOf' in schema, Object.keys(schema).join(','));
  assert.match(r.stdout, /binds/);
  // What the shipped CLI prints is what the repository ships for editors (schema/gateway.schema.json).
  const checkedIn = readFileSync(new URL('../../schema/gateway.schema.json', import.meta.url), 'utf8');
  assert.deepEqual(schema, JSON.parse(checkedIn));
});

test('--help and --version', { timeout: 30_000 }, async () => {
  const help = await tollgate(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--validate-only/);
  const version = await tollgate(['--version']);
  assert.equal(version.code, 0);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(version.stdout, `tollgate ${pkg.version}\n`);
});

test('-c runs the gateway from an inline config', { timeout: 30_000 }, async (t) => {
  const gw = await startGateway(VALID.replace('port: 3000', 'port: {{PORT}}'), { inline: true });
  t.after(() => gw.stop());
  const r = await fetch(`${gw.url()}/anything`);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'hi');
});

test('a bind port already in use fails startup with exit 1 and a clear log line', { timeout: 30_000 }, async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as net.AddressInfo).port;
  const r = await tollgate(['-c', VALID.replace('port: 3000', `port: ${port}`)], {
    TOLLGATE_BIND_HOST: '127.0.0.1',
    ADMIN_ADDR: 'off',
    STATS_ADDR: 'off',
    READINESS_ADDR: 'off',
  });
  assert.equal(r.code, 1);
  const fatal = r.stdout.split('\n').find((l) => l.includes('startup failed'));
  assert.ok(fatal !== undefined, r.stdout);
  assert.match(fatal, /EADDRINUSE/);
});

test('both seed example configs pass --validate-only', { timeout: 30_000 }, async () => {
  for (const name of ['seed-route-extproc.yaml', 'seed-gateway-policies.yaml']) {
    const file = fileURLToPath(new URL(`../fixtures/configs/valid/${name}`, import.meta.url));
    const r = await tollgate(['--validate-only', '-f', file], { OPEN_AI_APIKEY: 'sk-test' });
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, 'Configuration is valid!\n');
  }
});

test('-f - reads the config from stdin', { timeout: 30_000 }, async () => {
  const child = spawn(process.execPath, [MAIN, '--validate-only', '-f', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stdin.end(VALID);
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0);
  assert.equal(out, 'Configuration is valid!\n');
});
