// Starting and stopping the processes under test, pinned with taskset, each printing "PORT n" when ready.
// Every child is registered so `killAll()` can clean up on any exit path (failure, timeout, Ctrl-C).
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { cpuMicros, memKiB } from './proc.mjs';

const live = new Set();

/**
 * BENCH_PROF_DIR=DIR: node flags that write a V8 CPU profile of a process under test into DIR when it exits (the
 * gateways and the node peers). The co-runs print their time windows (CORUNWINDOW lines, µs of the monotonic clock
 * the profiles use), so each process's samples can be cut to one co-run.
 */
export const profFlags = () => (process.env.BENCH_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF_DIR}`] : []);

/** Registers a child for cleanup; it is forgotten once it exits. */
export function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** SIGKILLs every tracked child and its direct children (cluster workers, nginx workers). Synchronous. */
export function killAll() {
  for (const child of live) {
    if (child.exitCode !== null || child.pid === undefined) continue;
    for (const p of pidTree(child.pid).reverse()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
    }
  }
  live.clear();
}

/** A free loopback port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `cmd args` on `cpu` (a taskset list); resolves once a stdout line says "PORT n" (bounded wait).
 * `stdoutNull`: stdout goes to /dev/null, as tollgate's does in the bench (its access log), and the "PORT n" line is
 * read from stderr instead.
 */
export function startPinned({ cpu, cmd, args, env = {}, timeoutMs = 20000, stdoutNull = false }) {
  const child = track(spawn('taskset', ['-c', String(cpu), cmd, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', stdoutNull ? 'ignore' : 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const portStream = stdoutNull ? child.stderr : child.stdout;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not become ready in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    let buf = '';
    const onData = (d) => {
      buf += d;
      const m = buf.match(/^PORT (\d+)$/m);
      if (!m) return;
      clearTimeout(timer);
      portStream.off('data', onData);
      portStream.resume();
      resolve({ child, pid: child.pid, port: Number(m[1]) });
    };
    portStream.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited early (${code})\n${stderr}`));
    });
  });
}

/** The pid plus its direct children (nginx workers, cluster workers). */
export function pidTree(pid) {
  try {
    const kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    return [pid, ...kids];
  } catch {
    return [pid];
  }
}

const sumTree = (pid, f) => pidTree(pid).reduce((sum, p) => {
  try {
    return sum + f(p);
  } catch {
    return sum;
  }
}, 0);

/** Total CPU µs of a process tree. */
export const treeCpu = (pid) => sumTree(pid, cpuMicros);
/** Peak RSS (KiB) of a process tree since the last `resetPeak` (sum of each process's high-water mark). */
export const treePeakRss = (pid) => sumTree(pid, (p) => memKiB(p).hwm);
/** Current RSS (KiB) of a process tree. */
export const treeRss = (pid) => sumTree(pid, (p) => memKiB(p).rss);

/** Resets the peak-RSS high-water mark of a process tree (Linux clear_refs "5"), so a peak is per measurement. */
export function resetPeak(pid) {
  for (const p of pidTree(pid)) {
    try {
      writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {}
  }
}

/** SIGTERM, then SIGKILL (process tree) after 5 s; resolves when the child is gone. */
export async function stop(proc) {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise((r) => proc.child.once('exit', r));
  const tree = pidTree(proc.pid);
  proc.child.kill('SIGTERM');
  const t = setTimeout(() => {
    for (const p of tree) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
    }
  }, 5000);
  await exited;
  clearTimeout(t);
}
