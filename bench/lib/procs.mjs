// Starting and stopping the processes under test, pinned with taskset, each printing "PORT n" when ready.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { cpuMicros, memKiB } from './proc.mjs';

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

/** Spawns `cmd args` on `cpu`; resolves once `ready(line)` matches a stdout line (bounded wait). */
export function startPinned({ cpu, cmd, args, env = {}, ready = (l) => l.startsWith('PORT '), timeoutMs = 20000 }) {
  const child = spawn('taskset', ['-c', String(cpu), cmd, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} did not become ready in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    let buf = '';
    const onData = (d) => {
      buf += d;
      for (const line of buf.split('\n')) {
        if (ready(line)) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          child.stdout.resume();
          const m = line.match(/PORT (\d+)/);
          resolve({ child, pid: child.pid, port: m ? Number(m[1]) : undefined });
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited early (${code})\n${stderr}`));
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

/** Total CPU µs of a process tree. */
export function treeCpu(pid) {
  return pidTree(pid).reduce((sum, p) => {
    try {
      return sum + cpuMicros(p);
    } catch {
      return sum;
    }
  }, 0);
}

/** Peak RSS (KiB) of a process tree (sum of each process's high-water mark). */
export function treePeakRss(pid) {
  return pidTree(pid).reduce((sum, p) => {
    try {
      return sum + memKiB(p).hwm;
    } catch {
      return sum;
    }
  }, 0);
}

export async function stop(proc) {
  if (!proc || proc.child.exitCode !== null) return;
  const exited = new Promise((r) => proc.child.once('exit', r));
  proc.child.kill('SIGTERM');
  const t = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}
