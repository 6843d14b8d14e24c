// Development aid (not part of `npm run bench`): how often a fresh gateway falls into V8's "promote everything"
// GC mode under the plain-proxy load. Each trial starts a new gateway on CPU 0 with --trace-gc, loads it with wrk
// (c=32) in bursts separated by idle seconds, as the interleaved bench cells do, and prints the median scavenge
// pause of the second half and the number of mark-compacts. A healthy process scavenges in ~2 ms and does no
// mark-compact after start-up; a process in the bad mode scavenges in 6-20 ms (about half the young generation
// survives and is promoted) and mark-compacts every ~2 s.
// Usage: node bench/gc-modes.mjs [--trials 6] [--dir CHECKOUT] [--flags "EXTRA V8 FLAGS"] [--quiet]  (access log off)
// The gateway runs with the shipped flags (GATEWAY_NODE_FLAGS), then --flags (later flags win): for example
// --flags "--allocation-site-pretenuring" shows the mode the shipped flags prevent, and adding
// --max-semi-space-size=16 returns to V8's default young generation.
// Allocation sites of what gets promoted: add `--require ./bench/lib/alloc-sampler.cjs` to --flags with
// ALLOC_MINOR=0 in the environment, and send the gateway SIGUSR2 (see alloc-sampler.cjs).
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPinned, killAll, stop, freePort } from './lib/procs.mjs';
import { startGateway } from './lib/gateway.mjs';
import { wrk, script } from './lib/wrk.mjs';

const argv = process.argv.slice(2);
const arg = (n, d) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : d);
const trials = Number(arg('--trials', 6));
const dir = arg('--dir', '.');
const flags = arg('--flags', '').split(' ').filter(Boolean);
const quiet = argv.includes('--quiet');
process.on('exit', killAll);

const backend = await startPinned({ cpu: 1, cmd: process.execPath, args: ['bench/servers/backend.mjs'] });
const get = script();
const traceFile = join(tmpdir(), `tollgate-gc-modes-${process.pid}.log`);
let bad = 0;
try {
  for (let i = 0; i < trials; i++) {
    const port = await freePort();
    const yaml = `${quiet ? 'frontendPolicies:\n  accessLog: {enabled: false}\n' : ''}binds:\n- port: ${port}\n  listeners:\n  - routes:\n    - backends:\n      - host: 127.0.0.1:${backend.port}\n`;
    // startGateway appends the gateway's stdout (here: the --trace-gc lines) to BENCH_GATEWAY_STDOUT.
    writeFileSync(traceFile, '');
    process.env.BENCH_GATEWAY_STDOUT = traceFile;
    const gw = await startGateway(yaml, { cpu: '0', nodeArgs: [...flags, '--trace-gc'], main: `${dir}/dist/main.js` });
    for (const [load, idle] of [[2, 3], [3, 3], [3, 3], [3, 0]]) {
      await wrk({ url: `http://127.0.0.1:${port}/`, connections: 32, seconds: load, scriptPath: get });
      await sleep(idle * 1000);
    }
    await stop(gw);
    const lines = readFileSync(traceFile, 'utf8').split('\n');
    const pauses = lines.filter((l) => l.includes('Scavenge')).map((l) => Number(/MB, ([\d.]+) \//.exec(l)?.[1])).filter(Number.isFinite);
    const late = pauses.slice(pauses.length >> 1).sort((a, b) => a - b);
    const medianMs = late[late.length >> 1];
    const markCompacts = lines.filter((l) => l.includes('Mark-Compact')).length;
    const isBad = medianMs > 5;
    if (isBad) bad++;
    console.log(`trial ${i}: ${pauses.length} scavenges, median pause (second half) ${medianMs?.toFixed(2)} ms, ${markCompacts} mark-compacts${isBad ? '  <- promote-everything mode' : ''}`);
  }
} finally {
  await stop(backend);
}
console.log(`${bad} of ${trials} gateways fell into the promote-everything mode (extra flags: ${flags.join(' ') || 'none'})`);
process.exit(0);
