// Turns the raw results into ratios, the issue-6 targets with pass/fail, and a Markdown report.
const f = (n, d = 0) => (n === undefined || n === null || Number.isNaN(n) ? '–' : n.toFixed(d));
const find = (out, suite, target, c) => out.rows.find((r) => r.suite === suite && r.target === target && (c === undefined || r.connections === c));

/** Median of a list (mean of the middle two for an even count). */
/** The co-run peer that is the undici floor plus SPEC's access log and metrics (suites.mjs, undici-spec-proxy.mjs). */
export const SPEC_FLOOR = 'undici-floor + SPEC log and metrics';

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * The ratio of two rows measured in one interleaved call, round by round (a.runs[i] against b.runs[i], taken
 * seconds apart): {median, min, max}. `cpu`: b's CPU per request over a's (capacity per core), else a's req/s
 * over b's. The VM's speed drifts over tens of seconds, and a pair shares its round's speed, so the median of
 * the paired ratios moves far less between runs of the bench than the ratio of the two medians does.
 */
export function pairedRatio(a, b, cpu = false) {
  const n = Math.min(a?.runs?.length ?? 0, b?.runs?.length ?? 0);
  const rs = [];
  for (let i = 0; i < n; i++) rs.push(cpu ? b.runs[i].cpuUsPerReq / a.runs[i].cpuUsPerReq : a.runs[i].rps / b.runs[i].rps);
  const ok = rs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return undefined;
  return { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), n: ok.length };
}

/** Adds `ratio` / `baseline` to every row: each row against the baseline that matters for it. */
export function addRatios(out) {
  for (const r of out.rows) {
    let base;
    if (r.suite === 'proxy' && r.target !== 'direct') {
      // Peer rows carry tollgate ÷ peer (the ratios the targets are stated in); tollgate's own row, tollgate ÷ direct.
      const tg = find(out, 'proxy', 'tollgate', r.connections);
      const other = r.target === 'tollgate' ? find(out, 'proxy', 'direct', r.connections) : r;
      if (tg && other) {
        r.ratio = tg.rps / other.rps;
        r.baseline = `tollgate ÷ ${other.target}`;
      }
      continue;
    }
    if (r.suite.startsWith('extproc') && r.target.includes('+ ext_proc')) base = find(out, r.suite, 'tollgate (no ext_proc)');
    if (r.suite === 'multicore' && r.target.includes('2 workers')) base = find(out, 'multicore', 'tollgate 1 worker');
    if (base) {
      r.baseline = `÷ ${base.target}`;
      r.ratio = r.rps / base.rps;
    }
    if (r.suite === 'latency-1k' && r.target !== 'direct') {
      const d = find(out, 'latency-1k', 'direct');
      r.addedP50Ms = r.p50Ms - d.p50Ms;
      r.addedP99Ms = r.p99Ms - d.p99Ms;
    }
  }
}

/** The issue-6 targets, each {target, figure, pass}. */
export function targets(out) {
  const t = [];
  // `cpuRatio`: the same ratio from CPU µs per request (capacity per core), steadier than req/s on a shared VM.
  const add = (target, figure, pass, cpuRatio, min) =>
    t.push({ target, figure, pass: pass === undefined ? null : Boolean(pass), ...(cpuRatio === undefined ? {} : { cpuRatio, cpuPass: cpuRatio >= min }) });
  const per = (a, b) => (a?.cpuUsPerReq && b?.cpuUsPerReq ? b.cpuUsPerReq / a.cpuUsPerReq : undefined);
  for (const c of [32, 128]) {
    const tg = find(out, 'proxy', 'tollgate', c);
    const fa = find(out, 'proxy', 'fastify-http-proxy', c);
    const un = find(out, 'proxy', 'undici-floor', c);
    if (!tg || !fa || !un) continue;
    // Stated as the median of the per-round ratios (pairedRatio), with their range and the ratio of the medians.
    const plain = (name, peer, min) => {
      const rps = pairedRatio(tg, peer);
      const cpuR = pairedRatio(tg, peer, true);
      if (rps === undefined) return;
      const range = rps.n > 1 ? `, rounds ${f(rps.min, 2)}–${f(rps.max, 2)}` : '';
      add(`plain proxy ≥ ${min}× ${name} (c=${c})`,
        `${f(rps.median, 2)}× (median of ${rps.n} rounds${range}; ratio of medians ${f(tg.rps / peer.rps, 2)}×; CPU ${f(tg.cpuUsPerReq)} vs ${f(peer.cpuUsPerReq)} µs/req)`,
        rps.median >= min, cpuR?.median, min);
    };
    plain('@fastify/http-proxy', fa, 1.5);
    plain('undici floor', un, 0.9);
    for (const [name, peer, min] of [['@fastify/http-proxy', 'fastify-http-proxy', 1.5], ['undici floor', 'undici-floor', 0.9]]) {
      // One entry per freshly started pair (suites.mjs); the target is the median of the pairs' ratios.
      const runs = (out.corun ?? []).filter((r) => r.b === peer && r.connections === c);
      if (runs.length === 0) continue;
      const m = median(runs.map((r) => r.cpuRatio));
      const each = runs.map((r) => `${f(r.cpuRatio, 2)}× (${f(r.aCpu)} vs ${f(r.bCpu)} µs/req)`).join(', ');
      add(`plain proxy ≥ ${min}× ${name} (c=${c}), co-run: both on CPU 0 at once`,
        `${f(m, 2)}× capacity (median of ${runs.length} fresh pair${runs.length > 1 ? 's' : ''}: ${each}; req/s ratio ${f(median(runs.map((r) => r.rpsRatio)), 2)}×)`,
        m >= min);
    }
    add(`plain proxy p99 ≤ fastify's (c=${c})`, `${f(tg.p99Ms, 2)} vs ${f(fa.p99Ms, 2)} ms`, tg.p99Ms <= fa.p99Ms);
  }
  // Context for the floor target: the floor plus SPEC's per-request obligations (access-log line, request metrics;
  // suites.mjs SPEC_FLOOR). tollgate ÷ it is what the rest of the gateway costs; the floor ratio ÷ that ratio is what
  // the obligations alone cost the floor, i.e. the best floor ratio any gateway that meets SPEC on node:http and
  // undici, with tollgate's log and metrics code, could read in this run.
  const specRuns = (out.corun ?? []).filter((r) => r.b === SPEC_FLOOR && r.connections === 32);
  const floorRuns = (out.corun ?? []).filter((r) => r.b === 'undici-floor' && r.connections === 32);
  if (specRuns.length > 0) {
    const toSpec = median(specRuns.map((r) => r.cpuRatio));
    const each = specRuns.map((r) => `${f(r.cpuRatio, 2)}× (${f(r.aCpu)} vs ${f(r.bCpu)} µs/req)`).join(', ');
    add('(context) tollgate ÷ (undici floor + SPEC\'s access log and metrics) (c=32), co-run', `${f(toSpec, 2)}× capacity (median of ${specRuns.length} fresh pair${specRuns.length > 1 ? 's' : ''}: ${each})`, undefined);
    if (floorRuns.length > 0) {
      const toFloor = median(floorRuns.map((r) => r.cpuRatio));
      add('(context) what SPEC\'s access log and metrics alone leave of the floor (c=32): (tollgate ÷ floor) ÷ (tollgate ÷ SPEC floor)', `${f(toFloor / toSpec, 2)}× (${f(toFloor, 2)} ÷ ${f(toSpec, 2)})`, undefined);
    }
  }
  const eh = find(out, 'extproc-headers', 'tollgate + ext_proc');
  const nh = find(out, 'extproc-headers', 'tollgate (no ext_proc)');
  if (eh && nh) add('ext_proc headers-only (2 phases) ≥ 0.3× no ext_proc', `${f(eh.rps / nh.rps, 2)}× (CPU ${f(eh.cpuUsPerReq)} vs ${f(nh.cpuUsPerReq)} µs/req)`, eh.rps / nh.rps >= 0.3, per(eh, nh), 0.3);
  // What that ratio would be if ext_proc cost only the client floor of a 2-message stream (no session, no pipeline
  // work), measured in the same run. The floor's server is grpc-js, which writes each reply alone, so its client
  // reads each alone too; the gateway's processor batches, so the gateway can beat this estimate.
  for (const [transport, name] of [['wire', "tollgate's wire transport"], ['raw', 'node:http2']]) {
    const f2 = out.floor?.find((r) => r.transport === transport && r.kind.includes('2 messages'));
    if (nh && f2) add(`(context) that ratio if ext_proc cost only the client floor on ${name}: plain CPU ÷ (plain CPU + 2-message stream floor, grpc-js server)`, `${f(nh.cpuUsPerReq / (nh.cpuUsPerReq + f2.cpuUsPerStream), 2)}× (${f(nh.cpuUsPerReq)} ÷ (${f(nh.cpuUsPerReq)} + ${f(f2.cpuUsPerStream)}) µs)`, undefined);
  }
  const lean = find(out, 'extproc-headers', 'tollgate + ext_proc, node:http2 processor');
  if (eh && lean) add('(context) the same ext_proc cell with the node:http2 processor (it shares CPU 1 with wrk and the upstream)', `${f(lean.rps / (nh?.rps ?? lean.rps), 2)}× (CPU ${f(lean.cpuUsPerReq)} µs/req, processor ${f(lean.procCpuUsPerReq)}; with the raw processor: ${f(eh.cpuUsPerReq)}, processor ${f(eh.procCpuUsPerReq)})`, undefined);
  const le = find(out, 'latency-1k', 'tollgate + ext_proc');
  if (le) {
    const noise = le.stealCpu0Pct === undefined ? '' : ` (CPU 0 during the cell: ${f(le.foreignCpu0Pct)} % other work, of which ${f(le.stealCpu0Pct, 1)} % steal)`;
    add('added p50 with ext_proc at ~1k req/s ≤ +1 ms', `+${f(le.addedP50Ms, 2)} ms${noise}`, le.addedP50Ms <= 1);
    add('added p99 with ext_proc at ~1k req/s ≤ +8 ms', `+${f(le.addedP99Ms, 2)} ms${noise}`, le.addedP99Ms <= 8);
  }
  const fd = out.duplex?.find((r) => r.target.includes('+ ext_proc'));
  if (fd) add('full-duplex 10 MiB: gateway RSS growth < 64 MiB', `${fd.rssGrowthMiB >= 0 ? '+' : ''}${f(fd.rssGrowthMiB, 1)} MiB`, fd.rssGrowthMiB < 64);
  const sd = out.sse?.find((r) => r.target === 'direct');
  const sg = out.sse?.find((r) => r.target.startsWith('tollgate (ai'));
  if (sd && sg) add('SSE time to first byte within 2 ms of direct (p50)', `+${f(sg.ttfbP50Ms - sd.ttfbP50Ms, 2)} ms`, sg.ttfbP50Ms - sd.ttfbP50Ms <= 2);
  const m1 = find(out, 'multicore', 'tollgate 1 worker');
  const m2 = find(out, 'multicore', 'tollgate 2 workers');
  if (m1 && m2) {
    // Median of the per-round ratios (each round runs both cells, seconds apart), like the plain-proxy targets.
    const r = pairedRatio(m2, m1) ?? { median: m2.rps / m1.rps, min: NaN, max: NaN, n: 1 };
    const range = r.n > 1 ? `median of ${r.n} rounds, rounds ${f(r.min, 2)}–${f(r.max, 2)}; ratio of medians ${f(m2.rps / m1.rps, 2)}×; ` : '';
    add('2 workers ≥ 1.4× 1 worker (plain proxy)', `${f(r.median, 2)}× (${range}CPU ${f(m2.cpuUsPerReq)} vs ${f(m1.cpuUsPerReq)} µs/req; wrk and an nginx origin share the 2 cores)`, r.median >= 1.4);
  }
  return t;
}

/** The whole report as Markdown. */
export function markdown(out) {
  const L = [];
  L.push(`Date: ${out.date}. Machine: ${out.machine.cpus} × ${out.machine.model}, ${out.machine.memGiB} GiB, Linux ${out.machine.kernel}, Node ${out.machine.node}.`);
  L.push(`tollgate commit ${out.commit}. Load average at start / end: ${out.loadavgStart.map((x) => x.toFixed(2)).join(' ')} / ${out.loadavgEnd?.map((x) => x.toFixed(2)).join(' ') ?? '–'}. ` +
    `Each cell: median of ${out.config.runs} run(s) of ${out.config.seconds} s after ${out.config.warmup} s warm-up${out.config.quick ? '' : ' (the plain-proxy suite: 3 rounds of 2 s, then 3 fresh pairs per peer co-run on one core; the multi-core cells: 7 rounds of 3 s)'}, the cells of a comparison interleaved in a random order per round, each re-warmed 1 s before its run; wrk 4.1 -t1.`);
  L.push('Placement: gateway / peer proxy under test on CPU 0; upstream, ext_proc processor (a no-op: on raw sockets for the headers-only and latency cells, bench/servers/processor-raw.mjs; on node:http2 for the body and SSE cells and the "node:http2 processor" row, processor-lean.mjs; the "SDK processor" row uses the tollgate SDK on grpc-js), wrk and the bench clients on CPU 1. ' +
    'Multi-core rows: gateway, an nginx origin (the upstream, answering from its config) and wrk all share CPUs 0–1. CPU µs/req = utime+stime of the process tree under test ÷ requests; "req/s per core" = 1e6 ÷ CPU µs/req (saturation rows); "proc" = the processor\'s; ' +
    '"foreign CPU0" = CPU 0 busy time not used by the process under test (other work on the shared VM: the noise on that cell); "steal" = the part of it the hypervisor took (/proc/stat steal: CPU 0 wanted to run and could not).');
  L.push('');
  L.push('| suite | target | conns | req/s | p50 ms | p99 ms | CPU µs/req | req/s per core | proc µs/req | peak RSS MiB | foreign CPU0 % (steal) | ratio | vs |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of out.rows) {
    const added = r.addedP50Ms !== undefined ? `+${f(r.addedP50Ms, 2)} / +${f(r.addedP99Ms, 2)} ms` : '';
    L.push(`| ${r.suite} | ${r.target} | ${r.connections} | ${f(r.rps)} | ${f(r.p50Ms, 2)} | ${f(r.p99Ms, 2)} | ${f(r.cpuUsPerReq, 1)} | ${r.suite === 'proxy' || r.suite.startsWith('extproc') ? f(r.cpuUsPerReq && 1e6 / r.cpuUsPerReq) : ''} | ${f(r.procCpuUsPerReq, 1)} | ${f(r.peakRssMiB)} | ${f(r.foreignCpu0Pct)}${r.stealCpu0Pct !== undefined && r.foreignCpu0Pct !== undefined ? ` (${f(r.stealCpu0Pct, 1)})` : ''} | ` +
      `${r.ratio !== undefined ? `${f(r.ratio, 2)}×` : added ? added : ''} | ${r.baseline ?? (added ? 'added p50 / p99 vs direct' : '')} |` + (r.errors ? ` ⚠ ${r.errors} errors` : ''));
  }
  if (out.corun?.length) {
    L.push('', 'Plain proxy, co-run: tollgate and one peer pinned to CPU 0 together and loaded at the same moment (one wrk each, on CPU 1), so both see the VM\'s speed of that moment; the kernel gives each half the core. "capacity" = the peer\'s CPU per request ÷ tollgate\'s (per-core capacity, tollgate ÷ peer); median of the per-round ratios. Each pair was started for its co-run (a new tollgate and a new peer, in alternating order), served one check request and went straight into a joint warm-up (' + corunWarmupText(out) + '); the targets take the median over the pairs.', '');
    L.push('| pair | conns | tollgate CPU µs/req | peer CPU µs/req | capacity tollgate ÷ peer | rounds | req/s tollgate ÷ peer | p99 ms tollgate / peer |', '|---|---:|---:|---:|---:|---|---:|---|');
    for (const r of out.corun) L.push(`| ${r.a} + ${r.b}${r.pair !== undefined ? ` #${r.pair}` : ''} | ${r.connections} | ${f(r.aCpu, 1)} | ${f(r.bCpu, 1)} | ${f(r.cpuRatio, 2)}× | ${f(r.cpuMin, 2)}–${f(r.cpuMax, 2)} | ${f(r.rpsRatio, 2)}× | ${f(median(r.rounds.map((x) => x.aP99Ms)), 1)} / ${f(median(r.rounds.map((x) => x.bP99Ms)), 1)} |`);
  }
  if (out.floor) {
    L.push('', 'ext_proc client floor (same run): one Process stream per request (request_headers → reply → half-close → status; the 2-message row sends a second message after the first reply, as a headers-only exchange does), 32 concurrent on one HTTP/2 connection, the compiled transport as client on CPU 0, lean grpc-js server on CPU 1.', '');
    L.push('| client | streams/s | client CPU µs/stream |', '|---|---:|---:|');
    for (const r of out.floor) L.push(`| ${r.kind} | ${f(r.streamsPerSec)} | ${f(r.cpuUsPerStream)} |`);
  }
  if (out.duplex) {
    L.push('', 'Full-duplex 10 MiB up + 10 MiB echoed back (upstream echoes; processor passes every chunk through).', '');
    L.push('| target | MiB/s each way, sequential | MiB/s each way, 4 concurrent | gateway RSS before → peak MiB | RSS growth MiB |', '|---|---:|---:|---:|---:|');
    for (const r of out.duplex) L.push(`| ${r.target} | ${f(r.seqMiBps)} | ${f(r.concMiBps)} | ${r.rssBeforeMiB === undefined ? '–' : `${f(r.rssBeforeMiB)} → ${f(r.peakRssMiB)}`} | ${f(r.rssGrowthMiB, 1)} |`);
  }
  if (out.sse) {
    L.push('', `SSE: sequential OpenAI-style streamed completions (100 chunks, one per upstream event-loop turn), ${out.sse[0]?.n} per target.`, '');
    L.push('| target | TTFB p50 ms | TTFB p99 ms | total p50 ms | total p99 ms | chunks/s at p50 |', '|---|---:|---:|---:|---:|---:|');
    for (const r of out.sse) L.push(`| ${r.target} | ${f(r.ttfbP50Ms, 2)} | ${f(r.ttfbP99Ms, 2)} | ${f(r.totalP50Ms, 2)} | ${f(r.totalP99Ms, 2)} | ${f(r.chunks / (r.totalP50Ms / 1000))} |`);
  }
  const verdict = (p) => (p === null || p === undefined ? '–' : p ? 'pass' : '**FAIL**');
  L.push('', 'Targets (issue 6). "CPU-normalised" restates a throughput ratio as per-core capacity (1e6 ÷ CPU µs/req), which other work on a shared core does not distort. The plain-proxy ratios are the median of per-round ratios: each round measures every target once, in a random order, seconds apart, so a pair shares the VM\'s speed of the moment.', '',
    '| target | figure | result | CPU-normalised ratio | result |', '|---|---|---|---:|---|');
  for (const t of out.targets) L.push(`| ${t.target} | ${t.figure} | ${verdict(t.pass)} | ${t.cpuRatio === undefined ? '' : `${f(t.cpuRatio, 2)}×`} | ${t.cpuRatio === undefined ? '' : verdict(t.cpuPass)} |`);
  if (out.failures?.length) L.push('', 'Suites that failed in this run:', '', ...out.failures.map((x) => `- ${x}`));
  return L.join('\n') + '\n';
}

/** The co-run warm-up as the run used it (results from before it was recorded said nothing). */
function corunWarmupText(out) {
  const w = out.corunWarmup;
  return w === undefined ? 'length not recorded' : `${w.first} s before the 32-connection co-run, ${w.next} s before the 128-connection one`;
}
