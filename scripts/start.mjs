// `npm start`: the quickstart. Builds if needed, starts the bundled demo upstream and the gateway on
// examples/quickstart/config.yaml (loopback only, no outside service), prints what to curl, and stops
// everything on Ctrl-C / SIGTERM.
// To add a service (e.g. an ext_proc processor), append to `services` below: each one is started in order
// and waited for (its stdout must print `readyLine`) before the next starts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const gatewayPort = process.env.QUICKSTART_PORT ?? '3000';
const upstreamPort = process.env.DEMO_UPSTREAM_PORT ?? '18080';
const processorPort = process.env.EXT_PROC_PORT ?? '9001';
const env = {
  ...process.env,
  QUICKSTART_PORT: gatewayPort,
  DEMO_UPSTREAM_PORT: upstreamPort,
  EXT_PROC_PORT: processorPort,
  TOLLGATE_BIND_HOST: process.env.TOLLGATE_BIND_HOST ?? '127.0.0.1',
};

/** Started in order; `readyLine` is a substring of the stdout line that means "ready". */
const services = [
  {
    name: 'demo-upstream',
    args: ['examples/quickstart/demo-upstream.mjs', upstreamPort],
    readyLine: 'demo upstream listening',
  },
  {
    // The ext_proc example processor the bundled config routes through (examples/header-injector).
    name: 'header-injector',
    args: ['--import', 'tsx', 'examples/header-injector/index.ts', '--port', processorPort],
    readyLine: 'header-injector listening',
  },
  {
    name: 'tollgate',
    args: ['bin/tollgate.js', '-f', 'examples/quickstart/config.yaml'],
    readyLine: '"msg":"tollgate ready"',
  },
];

if (!existsSync(new URL('../dist/main.js', import.meta.url))) {
  console.log('[start] dist/ is missing, building…');
  const b = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
// The gateway runs with the V8 flags its launcher's shebang carries (src/ops/node-flags.ts).
const { GATEWAY_NODE_FLAGS } = await import('../dist/ops/node-flags.js');
services.find((s) => s.name === 'tollgate').args.unshift(...GATEWAY_NODE_FLAGS);

const children = [];
let stopping = false;

function stopAll(code) {
  if (stopping) return;
  stopping = true;
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  if (alive.length === 0) process.exit(code);
  let left = alive.length;
  for (const c of alive) {
    c.once('exit', () => {
      if (--left === 0) process.exit(code);
    });
    c.kill('SIGTERM');
  }
  // The gateway drains for up to its deadline; do not wait forever for a stuck child.
  setTimeout(() => {
    for (const c of alive) c.kill('SIGKILL');
    process.exit(code || 1);
  }, 35_000).unref();
}

/** Starts one service, echoing its output with a prefix, and resolves with its ready line. */
function start(svc) {
  return new Promise((resolve, reject) => {
    // detached: a terminal Ctrl-C reaches only this script, which then sends each child exactly one SIGTERM
    // (a second signal would make the gateway skip its drain).
    const child = spawn(process.execPath, svc.args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.push(child);
    let ready = false;
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk.replace(/^(?=.)/gm, `[${svc.name}] `));
      if (ready) return;
      pending += chunk;
      const line = pending.split('\n').find((l) => l.includes(svc.readyLine));
      if (line !== undefined) {
        ready = true;
        pending = '';
        resolve(line);
      }
    });
    child.stderr.on('data', (chunk) => process.stderr.write(`[${svc.name}] ${chunk}`));
    child.once('exit', (code, signal) => {
      if (!ready) reject(new Error(`${svc.name} exited before it was ready (${signal ?? code})`));
      else if (!stopping) {
        console.error(`[start] ${svc.name} exited (${signal ?? code}); stopping`);
        stopAll(code ?? 1);
      }
    });
  });
}

process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

const readyLines = {};
try {
  for (const svc of services) readyLines[svc.name] = await start(svc);
} catch (err) {
  console.error(`[start] ${err.message}`);
  stopAll(1);
}
if (!stopping) {
  // The gateway's ready line reports the ops addresses it really bound (ADMIN_ADDR etc. may override them).
  let ops = {};
  try {
    ops = JSON.parse(readyLines.tollgate);
  } catch {
    // keep the defaults below
  }
  const g = `http://127.0.0.1:${gatewayPort}`;
  const stats = ops.stats ?? '127.0.0.1:15020';
  const admin = ops.admin ?? '127.0.0.1:15000';
  const readiness = ops.readiness ?? '127.0.0.1:15021';
  console.log(`
tollgate is running on ${g} (config: examples/quickstart/config.yaml, hot-reloaded on save)

Try:
  curl -i ${g}/hello                    # answered by the gateway itself (directResponse)
  curl -i ${g}/anything?x=1             # proxied to the demo upstream, which echoes what it got
                                        # via the header-injector ext_proc processor (127.0.0.1:${processorPort}):
                                        # the echo shows x-ext-proc-injected arriving at the upstream, and the
                                        # response carries x-ext-proc-processed-by
  curl -s http://${stats}/metrics | grep tollgate_requests_total
  curl -s http://${admin}/config_dump
  curl -i http://${readiness}/healthz/ready

Press Ctrl-C to stop.
`);
}
