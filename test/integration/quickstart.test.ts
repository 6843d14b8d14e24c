/**
 * `npm start` (scripts/start.mjs): the bundled quickstart starts the demo upstream and the gateway with no
 * outside service, prints what to curl, serves both routes, and stops both children on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('npm start serves /hello from the gateway and proxies the rest to the demo upstream', { timeout: 60_000 }, async (t) => {
  const [gwPort, upPort, admin, stats, ready] = await freePorts(5);
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: ROOT,
    env: {
      ...process.env,
      QUICKSTART_PORT: String(gwPort),
      DEMO_UPSTREAM_PORT: String(upPort),
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

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  // Both children are gone: their ports refuse connections.
  await assert.rejects(fetch(`http://127.0.0.1:${gwPort}/hello`));
  await assert.rejects(fetch(`http://127.0.0.1:${upPort}/`));
});
