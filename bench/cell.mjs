// Development aid (not part of `npm run bench`): measures one scenario quickly, for before/after numbers while
// optimising. Same placement as the bench: gateway on CPU 0; upstream, processor and wrk on CPU 1.
// Usage: node bench/cell.mjs [plain|quiet|headers|duplex|buffered|latency|latency-ext] [--runs 3] [--seconds 5] [--conns 32]
//        [--prof DIR] [--node-arg FLAG]... [--ab OTHER_CHECKOUT] [--b-node-arg FLAG]... [--proc-node-arg FLAG]...
//        [--vs fastify|undici]  (alternate with a peer proxy on CPU 0 instead of a second gateway)
//        [--b-quiet]  (the second gateway runs with the access log off)
//        [--b-env K=V]...  (environment for the second gateway, e.g. TOLLGATE_EXTPROC_TRANSPORT=node-http2)
//        [--processor sdk|lean|raw]  (the ext_proc processor: bench/servers/processor.mjs on the SDK, the default,
//        processor-lean.mjs on node:http2, or processor-raw.mjs on raw sockets (headers and trailers only), each
//        leaving more of CPU 1 to wrk and the upstream than the one before)
// --prof writes a V8 CPU profile of the gateway into DIR. --ab runs a second gateway from OTHER_CHECKOUT's
// dist/main.js and alternates wrk runs between the two (A B A B ...), so machine drift hits both alike; it
// prints each run and the medians. --b-node-arg alone compares this build with and without extra node flags.
// Allocation sites (collected objects included, unlike --heap-prof): --node-arg --require --node-arg
// ./bench/lib/alloc-sampler.cjs writes /tmp/alloc.heapprofile when the gateway exits.
import { startPinned, freePort, stop, killAll } from './lib/procs.mjs';
import { startGateway } from './lib/gateway.mjs';
import { measureInterleaved } from './lib/measure.mjs';
import { script } from './lib/wrk.mjs';

const argv = process.argv.slice(2);
const arg = (n, d) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : d);
const kind = argv[0] && !argv[0].startsWith('--') ? argv[0] : 'headers';
const nodeArgs = argv.flatMap((a, i) => (a === '--node-arg' ? [argv[i + 1]] : []));
const prof = arg('--prof');
if (prof) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${prof}`);
const bArgs = argv.flatMap((a, i) => (a === '--b-node-arg' ? [argv[i + 1]] : []));
const vs = arg('--vs');
const bQuiet = argv.includes('--b-quiet');
const bEnv = Object.fromEntries(argv.flatMap((a, i) => (a === '--b-env' ? [argv[i + 1].split(/=(.*)/s).slice(0, 2)] : [])));
const other = arg('--ab') ?? (bArgs.length > 0 || vs || bQuiet || Object.keys(bEnv).length > 0 ? '.' : undefined);
const cfg = { runs: Number(arg('--runs', 3)), seconds: Number(arg('--seconds', 5)), warmup: 2, shuffle: true };
process.on('exit', killAll);

const backend = await startPinned({ cpu: 1, cmd: process.execPath, args: ['bench/servers/backend.mjs'] });
const procArgs = argv.flatMap((a, i) => (a === '--proc-node-arg' ? [argv[i + 1]] : []));
const processorKind = arg('--processor', 'sdk');
const processorScript = { sdk: 'bench/servers/processor.mjs', lean: 'bench/servers/processor-lean.mjs', raw: 'bench/servers/processor-raw.mjs' }[processorKind];
if (!processorScript) throw new Error(`--processor must be sdk, lean or raw, not ${processorKind}`);
const processor = await startPinned({ cpu: 1, cmd: process.execPath, args: [...procArgs, processorScript] });
const ext = (opts = '') => `      policies:\n        extProc:\n          host: "127.0.0.1:${processor.port}"\n${opts ? `          processingOptions: {${opts}}\n` : ''}`;
const HEADERS_ONLY = 'requestBodyMode: none, responseBodyMode: none, requestTrailerMode: skip, responseTrailerMode: skip';
const policies = { headers: ext(HEADERS_ONLY), 'latency-ext': ext(HEADERS_ONLY), duplex: ext(), buffered: ext('requestBodyMode: buffered, responseBodyMode: none, requestTrailerMode: skip, responseTrailerMode: skip') }[kind] ?? '';
const QUIET = 'frontendPolicies:\n  accessLog: {enabled: false}\n';
const front = kind === 'quiet' ? QUIET : '';
const yaml = (port, f = front) => `${f}binds:\n- port: ${port}\n  listeners:\n  - routes:\n    - backends:\n      - host: 127.0.0.1:${backend.port}\n${policies}`;
const scriptPath = kind === 'buffered'
  ? script({ method: 'POST', body: 'abcdefghijklmnop'.repeat(640), headers: { 'content-type': 'text/plain' } })
  : script(kind.startsWith('latency') ? { meanDelayMs: 30 } : {});
const procPid = policies ? processor.pid : undefined;
const gws = [{ name: 'this', main: 'dist/main.js', nodeArgs }, ...(other ? [{ name: `${other} ${bArgs.join(' ')} ${Object.entries(bEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`.trim(), main: `${other}/dist/main.js`, nodeArgs: [...nodeArgs, ...bArgs], env: bEnv }] : [])];
if (vs) gws[1] = { name: vs, peer: `bench/servers/${vs}-proxy.mjs` };
if (bQuiet) Object.assign(gws[1], { name: 'access log off', quiet: true });
for (const g of gws) {
  if (g.peer) {
    g.proc = await startPinned({ cpu: 0, cmd: process.execPath, args: [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}/peer`] : []), g.peer], env: { UPSTREAM: `http://127.0.0.1:${backend.port}` } });
    g.port = g.proc.port;
  } else {
    g.port = await freePort();
    g.proc = await startGateway(yaml(g.port, g.quiet ? QUIET : front), { cpu: '0', nodeArgs: g.nodeArgs, main: g.main, env: g.env ?? {} });
  }
}
// Several targets: their runs alternate (measure.mjs), so drift on the shared VM hits each alike.
const label = (g) => `${kind}${procPid ? ` (${processorKind} processor)` : ''} ${g.name}`;
const rows = await measureInterleaved(cfg, gws.map((g) => ({ row: { suite: 'cell', target: label(g) }, opts: { url: `http://127.0.0.1:${g.port}/`, pid: g.proc.pid, procPid, connections: Number(arg('--conns', 32)), scriptPath } })));
if (other) {
  for (const r of rows) console.error(`MEDIAN ${r.target}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} p99 ${r.p99Ms.toFixed(2)} ms, ${r.cpuUsPerReq.toFixed(1)} µs/req (runs: ${r.runs.map((x) => x.cpuUsPerReq).join(' ')})`);
}
for (const g of gws) await stop(g.proc);
await Promise.all([stop(processor), stop(backend)]);
process.exit(0);
