// Co-run: two proxies pinned to the same core (CPU 0), loaded at the same moment by two wrk on CPU 1. The VM's
// speed changes from one second to the next; two processes sharing one core at once share that speed exactly,
// where two runs taken seconds apart do not. CFS gives each saturated process half the core, so the ratio of
// their CPU per request is the ratio of their capacity per core (and their req/s ratio follows it).
import { wrk } from './wrk.mjs';
import { treeCpu } from './procs.mjs';
import { median } from './measure.mjs';

/**
 * Measures `a` against `b` (each {name, url, pid}) for `cfg.runs` rounds of `cfg.seconds` after a joint warm-up.
 * Returns per-round figures and the medians of the per-round ratios: `cpuRatio` = b's CPU per request ÷ a's
 * (above 1: a is cheaper), `rpsRatio` = a's req/s ÷ b's.
 */
export async function measureCorun(cfg, a, b, { connections, scriptPath }) {
  const both = (seconds) => Promise.all([a, b].map((t) => wrk({ url: t.url, connections, seconds, scriptPath, cpu: '1' })));
  await both(cfg.warmup);
  const rounds = [];
  const tStart = Number(process.hrtime.bigint() / 1000n);
  for (let i = 0; i < cfg.runs; i++) {
    const a0 = treeCpu(a.pid);
    const b0 = treeCpu(b.pid);
    const [ra, rb] = await both(cfg.seconds);
    const aCpu = (treeCpu(a.pid) - a0) / Math.max(1, ra.requests);
    const bCpu = (treeCpu(b.pid) - b0) / Math.max(1, rb.requests);
    rounds.push({ aRps: ra.rps, bRps: rb.rps, aCpu, bCpu, aP99Ms: ra.p99Ms, bP99Ms: rb.p99Ms, errors: ra.errors + ra.non2xx + rb.errors + rb.non2xx });
  }
  if (process.env.BENCH_PROF_DIR) console.error(`CORUNWINDOW ${a.name} ${a.pid} ${b.name} ${b.pid} ${connections} ${tStart} ${Number(process.hrtime.bigint() / 1000n)}`);
  const cpuRatios = rounds.map((r) => r.bCpu / r.aCpu);
  const rpsRatios = rounds.map((r) => r.aRps / r.bRps);
  const res = {
    a: a.name, b: b.name, connections, rounds,
    cpuRatio: median(cpuRatios), cpuMin: Math.min(...cpuRatios), cpuMax: Math.max(...cpuRatios),
    rpsRatio: median(rpsRatios),
    aCpu: median(rounds.map((r) => r.aCpu)), bCpu: median(rounds.map((r) => r.bCpu)),
  };
  console.error(`  corun/${a.name} + ${b.name} c=${connections}: CPU per request ${res.aCpu.toFixed(1)} vs ${res.bCpu.toFixed(1)} µs, ` +
    `capacity ratio ${res.cpuRatio.toFixed(2)}× (rounds ${res.cpuMin.toFixed(2)}–${res.cpuMax.toFixed(2)}), req/s ratio ${res.rpsRatio.toFixed(2)}×` +
    (rounds.some((r) => r.errors) ? `, ERRORS ${rounds.reduce((s, r) => s + r.errors, 0)}` : ''));
  return res;
}
