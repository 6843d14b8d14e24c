// tollgate benchmark: bounded, loopback-only, same-run comparisons. The system under test is pinned to
// CPU 0; load generator (wrk), upstream and processors run on CPU 1. Each cell is the median of N runs.
// Usage: npm run bench [-- --quick] [-- --only proxy]
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { wrk, script } from './lib/wrk.mjs';
import { spawn } from 'node:child_process';
import { startPinned, freePort, treeCpu, treePeakRss, stop } from './lib/procs.mjs';
import { startNginx } from './servers/nginx.mjs';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 3;
const SECONDS = quick ? 3 : 5;
const WARMUP_SECONDS = 2;
const tmp = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Measures one target: warm-up, then RUNS runs; CPU µs/request from /proc for the target's process tree. */
async function measure(name, url, { pid, connections, scriptPath }) {
  await wrk({ url, connections, seconds: WARMUP_SECONDS, scriptPath });
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const cpu0 = pid ? treeCpu(pid) : 0;
    const r = await wrk({ url, connections, seconds: SECONDS, scriptPath });
    const cpu1 = pid ? treeCpu(pid) : 0;
    runs.push({ ...r, cpuUsPerReq: pid ? (cpu1 - cpu0) / r.requests : undefined });
  }
  const out = {
    name,
    connections,
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuUsPerReq: pid ? median(runs.map((r) => r.cpuUsPerReq)) : undefined,
    peakRssMiB: pid ? treePeakRss(pid) / 1024 : undefined,
    errors: runs.reduce((s, r) => s + r.errors + r.non2xx, 0),
    runs: runs.length,
  };
  console.error(`  ${name} c=${connections}: ${out.rps.toFixed(0)} req/s p50 ${out.p50Ms.toFixed(2)} p99 ${out.p99Ms.toFixed(2)} ms` +
    (out.cpuUsPerReq ? ` cpu ${out.cpuUsPerReq.toFixed(1)} µs/req` : '') + (out.errors ? ` ERRORS ${out.errors}` : ''));
  return out;
}


/** Starts the gateway pinned to CPU 0 and waits for readiness (polls /healthz/ready, bounded). */
async function startGateway(yaml, port) {
  const file = join(tmp, `tollgate-${port}.yaml`);
  writeFileSync(file, yaml);
  const readyPort = await freePort();
  const child = spawn('taskset', ['-c', '0', process.execPath, 'dist/main.js', '-f', file], {
    env: { ...process.env, TOLLGATE_BIND_HOST: '127.0.0.1', ADMIN_ADDR: 'off', STATS_ADDR: 'off', READINESS_ADDR: `127.0.0.1:${readyPort}`, TOLLGATE_ACCESS_LOG: 'off' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited: ${stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${readyPort}/healthz/ready`);
      if (r.status === 200) return { child, pid: child.pid, port };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`gateway not ready: ${stderr}`);
}

async function proxySuite(results) {
  console.error('# plain proxy (1 KiB responses, keep-alive)');
  const backend = await startPinned({ cpu: 1, cmd: process.execPath, args: ['bench/servers/backend.mjs'] });
  const up = `127.0.0.1:${backend.port}`;
  const gwPort = await freePort();
  const gateway = await startGateway(
    `binds:\n- port: ${gwPort}\n  listeners:\n  - routes:\n    - backends:\n      - host: ${up}\n`,
    gwPort,
  );
  const undiciProxy = await startPinned({ cpu: 0, cmd: process.execPath, args: ['bench/servers/undici-proxy.mjs'], env: { UPSTREAM: `http://${up}` } });
  const nginxPort = await freePort();
  const nginx = startNginx({ port: nginxPort, upstreamPort: backend.port });
  await waitHttp(`http://127.0.0.1:${nginxPort}/`);
  const get = script();
  try {
    for (const c of [32, 128]) {
      results.push({ suite: 'proxy', ...(await measure('direct', `http://${up}/`, { connections: c, scriptPath: get })) });
      results.push({ suite: 'proxy', ...(await measure('tollgate', `http://127.0.0.1:${gwPort}/`, { pid: gateway.pid, connections: c, scriptPath: get })) });
      results.push({ suite: 'proxy', ...(await measure('undici-floor', `http://127.0.0.1:${undiciProxy.port}/`, { pid: undiciProxy.pid, connections: c, scriptPath: get })) });
      results.push({ suite: 'proxy', ...(await measure('nginx', `http://127.0.0.1:${nginxPort}/`, { pid: nginx.pid, connections: c, scriptPath: get })) });
    }
    console.error('# latency at moderate load (random arrivals)');
    const paced = script({ meanDelayMs: 30 });
    for (const [name, url, pid] of [
      ['direct', `http://${up}/`, undefined],
      ['tollgate', `http://127.0.0.1:${gwPort}/`, gateway.pid],
    ]) {
      results.push({ suite: 'latency', ...(await measure(name, url, { pid, connections: 32, scriptPath: paced })) });
    }
  } finally {
    nginx.kill('SIGTERM');
    await stop(undiciProxy);
    await stop(gateway);
    await stop(backend);
  }
}

async function waitHttp(url) {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} not reachable`);
}

function table(results) {
  const base = (suite, c) => results.find((r) => r.suite === suite && r.name === 'direct' && r.connections === c);
  const lines = ['| suite | target | conns | req/s | ratio vs direct | p50 ms | p99 ms | CPU µs/req | peak RSS MiB |', '|---|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of results) {
    const b = base(r.suite, r.connections);
    lines.push(`| ${r.suite} | ${r.name} | ${r.connections} | ${r.rps.toFixed(0)} | ${b ? (r.rps / b.rps).toFixed(2) : '–'} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.cpuUsPerReq?.toFixed(1) ?? '–'} | ${r.peakRssMiB?.toFixed(0) ?? '–'} |`);
  }
  return lines.join('\n');
}

const results = [];
const t0 = Date.now();
await proxySuite(results);
const out = { date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, runs: RUNS, seconds: SECONDS, results };
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/latest.json', JSON.stringify(out, null, 2));
console.log(table(results));
console.error(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s; wrote bench/results/latest.json`);
