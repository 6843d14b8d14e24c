/**
 * `npm start` (scripts/start.mjs): the bundled quickstart starts the demo upstream and the gateway with no
 * outside service, plus the header-injector ext_proc processor; prints what to curl, serves both routes (the
 * proxied one through the processor), and stops all three children on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('npm start serves /hello from the gateway and proxies the rest to the demo upstream through the header-injector processor', { timeout: 60_000 }, async (t) => {
  const [gwPort, upPort, admin, stats, ready, procPort] = await freePorts(6);
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: ROOT,
    env: {
      ...process.env,
      QUICKSTART_PORT: String(gwPort),
      DEMO_UPSTREAM_PORT: String(upPort),
      EXT_PROC_PORT: String(procPort),
      ADMIN_ADDR: `127.0.0.1:${admin}`,
      STATS_ADDR: `127.0.0.1:${stats}`,
      READINESS_ADDR: `127.0.0.1:${ready}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: string) => {
      out += c;
      if (out.includes('Press Ctrl-C')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`start.mjs exited (${code}) before ready:\n${out}`)));
  });
  assert.match(out, new RegExp(`curl -i http://127\\.0\\.0\\.1:${gwPort}/hello`));
  assert.match(out, new RegExp(`http://127\\.0\\.0\\.1:${stats}/metrics`));

  const hello = await fetch(`http://127.0.0.1:${gwPort}/hello`);
  assert.equal(hello.status, 200);
  assert.equal(await hello.text(), 'Hello from tollgate!\n');
  const echoed = await fetch(`http://127.0.0.1:${gwPort}/anything?x=1`);
  assert.equal(echoed.status, 200);
  const body = (await echoed.json()) as { upstream: string; path: string; headers: Record<string, string> };
  assert.equal(body.upstream, 'demo');
  assert.equal(body.path, '/anything?x=1');
  assert.equal(body.headers['x-tollgate-route'], 'demo');
  // The header-injector processor (the seed's "how it works" flow): its header reaches the upstream, and it
  // adds one to the response.
  assert.equal(body.headers['x-ext-proc-injected'], 'hello from the header-injector processor');
  assert.equal(echoed.headers.get('x-ext-proc-processed-by'), 'header-injector');
  assert.match(out, /x-ext-proc-injected/);

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  // Both children are gone: their ports refuse connections.
  await assert.rejects(fetch(`http://127.0.0.1:${gwPort}/hello`));
  await assert.rejects(fetch(`http://127.0.0.1:${upPort}/`));
  // (A gRPC port rejects plain fetches even when up, so check for a refused TCP connection.)
  const refused = await new Promise<boolean>((resolve) => {
    const sock = net.connect(procPort!, '127.0.0.1');
    sock.once('connect', () => { sock.destroy(); resolve(false); });
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
  assert.equal(refused, true, 'the processor port is closed');
});
