// Starts the compiled tollgate CLI (dist/main.js) on a CPU set with its own config file; waits for readiness.
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, track, pidTree, profFlags } from './procs.mjs';
import { GATEWAY_NODE_FLAGS } from '../../dist/ops/node-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));

/**
 * Spawns tollgate pinned to `cpu` with `yaml`; admin and stats servers off, readiness on a free port (polled, bounded).
 * It runs with the V8 flags `bin/tollgate.js` carries (GATEWAY_NODE_FLAGS), as a user's gateway does.
 * `main`: the CLI entry (another build, for A/B comparisons). `nodeArgs` go to node itself (e.g. `--cpu-prof`, which NODE_OPTIONS refuses).
 * Access logs stay at the default (on, to stdout, discarded): that is what users run.
 */
export async function startGateway(yaml, { cpu = '0', env = {}, nodeArgs = [], timeoutMs = 30000, main = 'dist/main.js' } = {}) {
  const file = join(dir, `tollgate-${Date.now()}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const readyPort = await freePort();
  const child = track(spawn('taskset', ['-c', cpu, process.execPath, ...GATEWAY_NODE_FLAGS, ...nodeArgs, ...profFlags(), main, '-f', file], {
    env: { ...process.env, TOLLGATE_BIND_HOST: '127.0.0.1', ADMIN_ADDR: 'off', STATS_ADDR: 'off', READINESS_ADDR: `127.0.0.1:${readyPort}`, ...env },
    // BENCH_GATEWAY_STDOUT=FILE keeps the gateway's stdout (access log, --trace-gc) for a look afterwards.
    stdio: ['ignore', process.env.BENCH_GATEWAY_STDOUT ? openSync(process.env.BENCH_GATEWAY_STDOUT, 'a') : 'ignore', 'pipe'],
  }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited (${child.exitCode}): ${stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${readyPort}/healthz/ready`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return { child, pid: child.pid, stderr: () => stderr };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const p of pidTree(child.pid)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {}
  }
  throw new Error(`gateway not ready in ${timeoutMs} ms: ${stderr}`);
}

/** Waits until `url` answers any HTTP status (bounded). */
export async function waitHttp(url, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} not reachable in ${timeoutMs} ms`);
}
