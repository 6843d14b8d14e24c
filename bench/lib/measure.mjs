// One wrk-measured cell: warm-up, then RUNS runs; req/s and latency are medians over runs; CPU µs/request from /proc
// (utime+stime of the target's process tree, and of the processor when there is one); peak RSS per cell.
import { wrk } from './wrk.mjs';
import { readFileSync } from 'node:fs';
import { treeCpu, treePeakRss, resetPeak } from './procs.mjs';

const TICK_US = 1e4; // CLK_TCK 100
/**
 * CPU 0 so far, µs (/proc/stat): busy = everything but idle and iowait; steal = time the hypervisor ran something
 * else while this vCPU wanted to run (a stall the guest cannot see otherwise: the latency cells' tails follow it).
 */
function cpu0Us() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu0 '));
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: (v.reduce((a, b) => a + b, 0) - v[3] - v[4]) * TICK_US, steal: (v[7] ?? 0) * TICK_US };
}

/** Median (mean of the middle two for even counts). */
export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const fmt = (n, d = 0) => (n === undefined ? '–' : n.toFixed(d));

/**
 * Measures `url` with wrk. `pid`: process tree under test (CPU, RSS); `procPid`: the ext_proc processor (its CPU).
 * `wrkCpu`: where wrk runs. Returns one result row.
 */
export async function measure(cfg, row, opts) {
  return (await measureInterleaved(cfg, [{ row, opts }]))[0];
}

/** One wrk run of a cell, with the CPU of the process under test (and of the processor) per request. */
async function oneRun(cfg, { url, pid, procPid, connections, scriptPath, wrkCpu = '1' }) {
  const c0 = pid ? treeCpu(pid) : 0;
  const p0 = procPid ? treeCpu(procPid) : 0;
  const b0 = cpu0Us();
  const t0 = performance.now();
  const r = await wrk({ url, connections, seconds: cfg.seconds, scriptPath, cpu: wrkCpu });
  const n = Math.max(1, r.requests);
  const elapsedUs = (performance.now() - t0) * 1000;
  const ours = pid ? treeCpu(pid) - c0 : 0;
  // CPU 0 time not used by the process under test: other engineers' work, interrupts (the noise on this cell).
  const b1 = cpu0Us();
  const foreignPct = pid && wrkCpu === '1' ? Math.max(0, (b1.busy - b0.busy - ours) / elapsedUs) * 100 : undefined;
  const stealPct = ((b1.steal - b0.steal) / elapsedUs) * 100;
  return { ...r, foreignPct, stealPct, cpu: pid ? ours / n : undefined, procCpu: procPid ? (treeCpu(procPid) - p0) / n : undefined };
}

/**
 * Measures several cells (each `{row, opts}` as for `measure`) with their runs interleaved: run 1 of every
 * cell, then run 2 of every cell, and so on. On a shared VM the speed drifts by tens of percent over minutes;
 * interleaving makes the drift hit every cell of a comparison alike, so the ratios hold even when the absolute
 * figures move. Peak RSS is per process, so cells sharing one gateway process report the same peak.
 */
export async function measureInterleaved(cfg, cells) {
  for (const { opts } of cells) {
    await wrk({ url: opts.url, connections: opts.connections, seconds: cfg.warmup, scriptPath: opts.scriptPath, cpu: opts.wrkCpu ?? '1' });
  }
  for (const { opts } of cells) if (opts.pid) resetPeak(opts.pid);
  const runs = cells.map(() => []);
  const order = cells.map((_, k) => k);
  for (let i = 0; i < cfg.runs; i++) {
    // `cfg.shuffle`: each round visits the cells in a new random order, so no cell always runs right after the
    // same neighbour (or first, after the idle pause): position effects then average out over the rounds.
    if (cfg.shuffle) shuffle(order);
    for (const k of order) {
      const { opts } = cells[k];
      // A target that sat idle while the others ran gets a short warm-up first (V8 shrinks an idle heap), so
      // every run measures a process under steady load, as a sequential run would.
      if (cells.length > 1) await wrk({ url: opts.url, connections: opts.connections, seconds: 1, scriptPath: opts.scriptPath, cpu: opts.wrkCpu ?? '1' });
      runs[k].push(await oneRun(cfg, opts));
    }
  }
  return cells.map(({ row, opts }, k) => summarize(row, opts, runs[k]));
}

function shuffle(xs) {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
}

function summarize(row, { pid, connections }, runs) {
  const out = {
    ...row,
    connections,
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuUsPerReq: median(runs.map((r) => r.cpu)),
    procCpuUsPerReq: median(runs.map((r) => r.procCpu)),
    foreignCpu0Pct: median(runs.map((r) => r.foreignPct)),
    stealCpu0Pct: median(runs.map((r) => r.stealPct)),
    peakRssMiB: pid ? treePeakRss(pid) / 1024 : undefined,
    errors: runs.reduce((s, r) => s + r.errors + r.non2xx, 0),
    runs: runs.map((r) => ({ rps: Math.round(r.rps), p50Ms: r.p50Ms, p99Ms: r.p99Ms, cpuUsPerReq: r.cpu && Math.round(r.cpu * 10) / 10 })), // in round order: runs[i] of two cells of one call are a pair
  };
  console.error(`  ${row.suite}/${row.target} c=${connections}: ${fmt(out.rps)} req/s, p50 ${fmt(out.p50Ms, 2)} p99 ${fmt(out.p99Ms, 2)} ms` +
    (out.cpuUsPerReq !== undefined ? `, ${fmt(out.cpuUsPerReq, 1)} µs/req` : '') +
    (out.procCpuUsPerReq !== undefined ? ` (processor ${fmt(out.procCpuUsPerReq, 1)})` : '') +
    (out.foreignCpu0Pct !== undefined ? `, foreign CPU0 ${fmt(out.foreignCpu0Pct)} % (steal ${fmt(out.stealCpu0Pct, 1)} %)` : '') +
    (out.peakRssMiB !== undefined ? `, peak RSS ${fmt(out.peakRssMiB)} MiB` : '') + (out.errors ? `, ERRORS ${out.errors}` : ''));
  return out;
}
