// The bench suites. Placement: the system under test on CPU 0; upstream, processor, wrk and this orchestrator on
// CPU 1 (except the multi-core suite, where everything shares both cores). Each returns plain result objects.
import { startPinned, freePort, stop, track, profFlags } from './procs.mjs';
import { wrk } from './wrk.mjs';
import { startGateway, waitHttp } from './gateway.mjs';
import { startNginx, startNginxOrigin } from '../servers/nginx.mjs';
import { measureInterleaved } from './measure.mjs';
import { measureCorun } from './corun.mjs';
import { SPEC_FLOOR } from './report.mjs';
import { script } from './wrk.mjs';
import { bulk } from './bulk.mjs';
import { sseLatency } from './sse.mjs';
import { streamFloor } from './floor.mjs';

const node = process.execPath;
/** Fresh tollgate + peer pairs per co-run comparison (suite 1). */
const CORUN_PAIRS = 3;
const route = (up, policies = '') => `  listeners:\n  - routes:\n    - backends:\n      - host: 127.0.0.1:${up}\n${policies}`;
const ai = (up, policies = '') => `  listeners:\n  - routes:\n    - backends:\n      - ai: {name: openai, provider: {openAI: {}}, hostOverride: "127.0.0.1:${up}"}\n${policies}`;
const extProc = (proc, options = '') => `      policies:\n        extProc:\n          host: "127.0.0.1:${proc}"\n${options ? `          processingOptions: {${options}}\n` : ''}`;

// tollgate's defaults (agentgateway's) are full-duplex bodies and trailers both ways; "headers only" and
// "buffered request body" must say what they mean, or the 1 KiB response body streams through the processor too.
const HEADERS_ONLY = 'requestBodyMode: none, responseBodyMode: none, requestTrailerMode: skip, responseTrailerMode: skip';
const BUFFERED_REQUEST = 'requestBodyMode: buffered, responseBodyMode: none, requestTrailerMode: skip, responseTrailerMode: skip';

/** One gateway, one bind per scenario (only one bind carries load at a time, so CPU accounting stays per scenario). */
function gatewayYaml(p, up, proc, rawProc, sdkProc) {
  const bind = (port, body) => `- port: ${port}\n${body}`;
  return ['binds:',
    bind(p.plain, route(up)),
    bind(p.headers, route(up, extProc(rawProc, HEADERS_ONLY))),
    bind(p.headersLean, route(up, extProc(proc, HEADERS_ONLY))),
    bind(p.headersSdk, route(up, extProc(sdkProc, HEADERS_ONLY))),
    bind(p.buffered, route(up, extProc(proc, BUFFERED_REQUEST))),
    bind(p.duplex, route(up, extProc(proc, 'requestBodyMode: fullDuplexStreamed, responseBodyMode: fullDuplexStreamed'))),
    bind(p.ai, ai(up)),
    bind(p.aiExt, ai(up, extProc(proc, 'responseBodyMode: fullDuplexStreamed'))),
  ].join('\n') + '\n';
}

async function check(url, init, expect) {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const text = await r.text();
  if (r.status !== 200 || !expect(text)) throw new Error(`sanity check failed for ${url}: ${r.status} ${text.slice(0, 200)}`);
}

/** Suites 1–6: plain proxy peers, ext_proc (headers, buffered body, full duplex), stream floor, SSE, latency. */
export async function pinnedSuites(cfg, out) {
  const backend = await startPinned({ cpu: 1, cmd: node, args: ['bench/servers/backend.mjs'] });
  // The processor shares CPU 1 with wrk and the upstream, so its cost can cap an ext_proc cell below what the
  // gateway on CPU 0 does. The headers-only and latency cells use the raw no-op processor (raw sockets, 15–45 µs/req
  // depending on how much the gateway batches, about what a compiled processor costs); with the node:http2 one
  // (~100 µs/req) CPU 1 ran out first. The body cells need a processor that handles bodies: the node:http2 one.
  // The node:http2 (lean) and SDK (grpc-js, ~250 µs/req) processors each get one headers-only row of their own.
  const rawProcessor = await startPinned({ cpu: 1, cmd: node, args: ['bench/servers/processor-raw.mjs'] });
  const processor = await startPinned({ cpu: 1, cmd: node, args: ['bench/servers/processor-lean.mjs'] });
  const sdkProcessor = await startPinned({ cpu: 1, cmd: node, args: ['bench/servers/processor.mjs'] });
  const up = backend.port;
  const p = {};
  for (const k of ['plain', 'headers', 'headersLean', 'headersSdk', 'buffered', 'duplex', 'ai', 'aiExt', 'nginx']) p[k] = await freePort();
  const gw = await startGateway(gatewayYaml(p, up, processor.port, rawProcessor.port, sdkProcessor.port), { cpu: '0' });
  // Same proxy without access logs (on by default, JSON lines to stdout): shows what logging costs per request.
  p.quiet = await freePort();
  const gwQuiet = await startGateway(`frontendPolicies:\n  accessLog: {enabled: false}\nbinds:\n- port: ${p.quiet}\n${route(up)}`, { cpu: '0' });
  const upstream = { UPSTREAM: `http://127.0.0.1:${up}` };
  const undici = await startPinned({ cpu: 0, cmd: node, args: [...profFlags(), 'bench/servers/undici-proxy.mjs'], env: upstream });
  const fastify = await startPinned({ cpu: 0, cmd: node, args: [...profFlags(), 'bench/servers/fastify-proxy.mjs'], env: upstream });
  const nginx = { child: track(startNginx({ port: p.nginx, upstreamPort: up })) };
  nginx.pid = nginx.child.pid;
  const u = (port, path = '/') => `http://127.0.0.1:${port}${path}`;
  try {
    await waitHttp(u(p.nginx));
    const kib = (t) => t.length === 1024;
    for (const port of [up, p.plain, p.quiet, p.nginx, fastify.port, undici.port, p.headers, p.headersLean, p.headersSdk]) await check(u(port), {}, kib);
    await check(u(p.buffered, '/echo'), { method: 'POST', body: 'hello ext_proc' }, (t) => t === 'HELLO EXT_PROC');
    await check(u(p.duplex, '/echo'), { method: 'POST', body: 'full duplex' }, (t) => t === 'full duplex');
    // Load each node process under test at once, before it can sit idle. A node process that served a request and
    // then idled ~10 s before its first load runs process.nextTick about 10x slower from then on (its tick-object
    // literal; a V8 state, with or without tollgate's flags): in a profiled run the undici floor spent 13 % of its
    // CPU there against 1 % in a fresh floor, which flattered tollgate's co-run ratio to it by about 0.1. A few
    // seconds of load right after the first request prevent it (README, Performance).
    const get = script();
    for (const port of [p.plain, p.quiet, fastify.port, undici.port]) await wrk({ url: u(port), connections: 32, seconds: cfg.quick ? 1 : 2, scriptPath: get, cpu: '1' });

    console.error('# 1. plain proxy (1 KiB responses, keep-alive)');
    const targets = [
      ['direct', up, undefined], ['tollgate', p.plain, gw.pid], ['tollgate (access log off)', p.quiet, gwQuiet.pid], ['nginx', p.nginx, nginx.pid],
      ['fastify-http-proxy', fastify.port, fastify.pid], ['undici-floor', undici.port, undici.pid],
    ];
    // Each comparison's runs are interleaved (measure.mjs): drift on the shared VM then hits every target alike.
    // The targets are ratios between these rows, and one 5 s run on this VM can be 1.5x slower than the next, so
    // this suite takes more, shorter rounds; report.mjs states each target as the median of per-round ratios.
    // 3 rounds (5 before the co-run took fresh pairs, 4 before it had a third peer), to keep the whole bench under
    // 10 minutes: the co-run is what the floor targets are read from.
    const plainCfg = { ...cfg, runs: cfg.quick ? 1 : 3, seconds: cfg.quick ? cfg.seconds : 2 };
    for (const c of [32, 128]) {
      out.rows.push(...(await measureInterleaved(plainCfg, targets.map(([target, port, pid]) => ({ row: { suite: 'proxy', target }, opts: { url: u(port), pid, connections: c, scriptPath: get } })))));
    }
    await Promise.all([stop(fastify), stop(undici), stop(nginx), stop(gwQuiet)]);
    // The same targets measured the other way: tollgate and the peer on CPU 0 at the same moment (corun.mjs), each
    // pair started for it. Two starts of one node program differ by 10-20 % in CPU per request (eight fresh floors
    // read 51-75 µs), so one pair cannot tell 0.85x from 0.95x: each peer gets CORUN_PAIRS pairs, and the target is the
    // median of their ratios (report.mjs). Fresh pairs also carry no history: a process that served one request and
    // then idled for seconds can stay slow (the nextTick state above), and the long-lived ones had served the suite.
    out.corun = [];
    // A fresh tollgate takes several seconds of load before its CPU per request settles (more code for V8 to
    // optimize than the floor's): co-runs after a 2 s warm-up read it 10-20 % dearer than the same pair 10 s later.
    // So each pair's first co-run warms both for 5 s; the second follows at once and needs only a short one.
    const corunCfg = { runs: cfg.quick ? 1 : 3, seconds: 2, warmup: cfg.quick ? 1 : 5 };
    const corunNextCfg = { ...corunCfg, warmup: 1 };
    out.corunWarmup = { first: corunCfg.warmup, next: corunNextCfg.warmup };
    const pairs = cfg.quick ? 1 : CORUN_PAIRS;
    // The third peer is the floor plus SPEC's per-request obligations (undici-spec-proxy.mjs: the access-log line and
    // the request metrics, with tollgate's own code for both). It is not a target: it tells what those obligations
    // cost from what the rest of the gateway costs (report.mjs), at 32 connections only, to stay within 10 minutes.
    const corunPeers = [
      ['fastify-http-proxy', 'bench/servers/fastify-proxy.mjs', [32, 128]],
      ['undici-floor', 'bench/servers/undici-proxy.mjs', [32, 128]],
      [SPEC_FLOOR, 'bench/servers/undici-spec-proxy.mjs', [32]],
    ];
    for (const [peerName, peerScript, conns] of corunPeers) {
      for (let i = 0; i < pairs; i++) {
        const tgPort = await freePort();
        const startTg = () => startGateway(`binds:\n- port: ${tgPort}\n${route(up)}`, { cpu: '0' });
        // The SPEC floor writes its access log to stdout, to /dev/null as tollgate's goes.
        const startPeer = () => startPinned({ cpu: 0, cmd: node, args: [...profFlags(), peerScript], env: upstream, stdoutNull: peerName === SPEC_FLOOR });
        // Alternate which one starts first, so neither always gets the other's start-up noise.
        const [tgProc, peerProc] = i % 2 === 0 ? [await startTg(), await startPeer()] : (([pp, t]) => [t, pp])([await startPeer(), await startTg()]);
        try {
          await check(u(tgPort), {}, kib);
          await check(u(peerProc.port), {}, kib);
          const tg = { name: 'tollgate', url: u(tgPort), pid: tgProc.pid };
          const peer = { name: peerName, url: u(peerProc.port), pid: peerProc.pid };
          // measureCorun loads both at once right away (its warm-up), so neither sits idle after its check.
          for (const c of conns) {
            out.corun.push({ ...(await measureCorun(c === 32 ? corunCfg : corunNextCfg, tg, peer, { connections: c, scriptPath: get })), pair: i + 1 });
          }
        } finally {
          await Promise.all([stop(tgProc), stop(peerProc)]);
        }
      }
    }

    console.error('# 2. ext_proc headers only (request + response headers, no-op processor)');
    const headerCells = [['tollgate (no ext_proc)', p.plain], ['tollgate + ext_proc', p.headers, rawProcessor.pid],
      ['tollgate + ext_proc, node:http2 processor', p.headersLean, processor.pid],
      ['tollgate + ext_proc, SDK processor', p.headersSdk, sdkProcessor.pid]];
    out.rows.push(...(await measureInterleaved(cfg, headerCells.map(([target, port, procPid, pid = gw.pid]) =>
      ({ row: { suite: 'extproc-headers', target }, opts: { url: u(port), pid, procPid, connections: 32, scriptPath: get } })))));
    // Context rows, not targets: two runs each (every run starts a client process under tsx), to keep the bench
    // under 10 minutes.
    out.floor = await streamFloor({ runs: Math.min(2, cfg.runs), seconds: 2 });

    console.error('# 3. ext_proc buffered 10 KiB request body, uppercased by the processor');
    const post = script({ method: 'POST', body: 'abcdefghijklmnop'.repeat(640), headers: { 'content-type': 'text/plain' } });
    out.rows.push(...(await measureInterleaved(cfg, [['tollgate (no ext_proc)', p.plain], ['tollgate + ext_proc', p.buffered, processor.pid]].map(([target, port, procPid]) =>
      ({ row: { suite: 'extproc-body-10KiB', target }, opts: { url: u(port), pid: gw.pid, procPid, connections: 32, scriptPath: post } })))));

    console.error('# 4. ext_proc full-duplex 10 MiB both ways');
    out.duplex = [];
    const fd = { mib: 10, sequential: cfg.quick ? 2 : 3, concurrent: 4 };
    for (const [target, port, pid] of [['direct', up], ['tollgate (no ext_proc)', p.plain, gw.pid], ['tollgate + ext_proc full duplex', p.duplex, gw.pid]]) {
      const r = { target, ...fd, ...(await bulk(u(port, '/echo'), { ...fd, pid })) };
      console.error(`  duplex/${target}: ${r.seqMiBps.toFixed(0)} MiB/s sequential, ${r.concMiBps.toFixed(0)} MiB/s ×4` + (r.rssGrowthMiB !== undefined ? `, RSS +${r.rssGrowthMiB.toFixed(1)} MiB (peak ${r.peakRssMiB.toFixed(0)})` : ''));
      out.duplex.push(r);
    }

    console.error('# 5. SSE streaming (OpenAI-style, 100 chunks)');
    out.sse = [];
    for (const [target, port] of [['direct', up], ['tollgate (ai backend)', p.ai], ['tollgate + ext_proc (full-duplex response)', p.aiExt]]) {
      const r = { target, chunks: 100, ...(await sseLatency(u(port, '/v1/chat/completions'), { n: cfg.quick ? 40 : 150 })) };
      console.error(`  sse/${target}: TTFB p50 ${r.ttfbP50Ms.toFixed(2)} ms p99 ${r.ttfbP99Ms.toFixed(2)}, total p50 ${r.totalP50Ms.toFixed(2)} ms`);
      out.sse.push(r);
    }

    console.error('# 6. latency at ~1k req/s, random arrivals (exponential think time, mean 30 ms, 32 conns)');
    const paced = script({ meanDelayMs: 30 });
    out.rows.push(...(await measureInterleaved(cfg, [['direct', up], ['tollgate', p.plain, gw.pid], ['tollgate + ext_proc', p.headers, gw.pid, rawProcessor.pid]].map(([target, port, pid, procPid]) =>
      ({ row: { suite: 'latency-1k', target }, opts: { url: u(port), pid, procPid, connections: 32, scriptPath: paced } })))));
  } finally {
    await Promise.all([stop(gw), stop(gwQuiet), stop(undici), stop(fastify), stop(nginx)]);
    await Promise.all([stop(rawProcessor), stop(processor), stop(sdkProcessor), stop(backend)]);
  }
}

/**
 * Suite 7: 1 vs 2 workers, everything (gateway, upstream, wrk) sharing both cores: no pinning is possible. The
 * upstream is nginx answering from its config (a few µs per request), not the node upstream (~30 µs), so that
 * the second worker competes with as little else as this 2-core machine allows.
 */
export async function multicoreSuite(cfg, out) {
  const originPort = await freePort();
  const origin = { child: track(startNginxOrigin({ port: originPort, cpu: '0,1' })) };
  origin.pid = origin.child.pid;
  const backend = { port: originPort };
  try {
    await waitHttp(`http://127.0.0.1:${originPort}/`);
    const get = script();
    // Both gateways run at once (only the measured one carries load), so their runs can be interleaved.
    const gws = [];
    try {
      for (const workers of [1, 2]) {
        const port = await freePort();
        gws.push({ workers, port, gw: await startGateway(`binds:\n- port: ${port}\n${route(backend.port)}`, { cpu: '0,1', env: { TOLLGATE_WORKERS: String(workers) } }) });
        await check(`http://127.0.0.1:${port}/`, {}, (t) => t.length === 1024);
      }
      // The whole machine carries this cell (gateway workers, wrk and the origin on both cores), so the VM's speed
      // swings hit it hardest: one run's 2-worker ÷ 1-worker ratio ranged 1.16–1.78 over 3 rounds. More, shorter
      // rounds, and the target is stated as the median of the per-round ratios (report.mjs), as for the plain proxy.
      const mcCfg = { ...cfg, runs: cfg.quick ? 1 : 7, seconds: cfg.quick ? cfg.seconds : 3 };
      out.rows.push(...(await measureInterleaved(mcCfg, gws.map(({ workers, port, gw }) =>
        ({ row: { suite: 'multicore', target: `tollgate ${workers} worker${workers > 1 ? 's' : ''}` }, opts: { url: `http://127.0.0.1:${port}/`, pid: gw.pid, connections: 128, scriptPath: get, wrkCpu: '0,1' } })))));
    } finally {
      await Promise.all(gws.map(({ gw }) => stop(gw)));
    }
  } finally {
    await stop(origin);
  }
}
