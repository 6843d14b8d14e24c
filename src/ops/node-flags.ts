/**
 * The V8 flags tollgate runs with. `bin/tollgate.js` carries them on its shebang line (a test keeps the two
 * equal), cluster workers inherit them through `process.execArgv`, and `npm start` and `npm run bench` pass
 * them when they start the gateway with `node` directly.
 *
 * `--max-semi-space-size=32` (MiB; V8's default on 64-bit grows it to 16): a proxy allocates a few KB per
 * request that all die young, and with the default young generation the scavenger runs often enough to
 * dominate the tail. Same-run A/B on the plain-proxy cell (bench/cell.mjs, 5 alternating runs, medians):
 * 77 -> 57 µs CPU/request and p99 24.8 -> 6.6 ms; again 121 -> 66 µs and 34.5 -> 6.0 ms; 16 MiB showed no
 * gain and 64 MiB less (66.8 µs, p99 14.3 ms).
 *
 * `--single-threaded-gc`: V8 otherwise runs each scavenge with parallel helper threads. A gateway process has
 * one core's worth of work (one per core in cluster mode, or a CPU limit in a container), so the helpers
 * only take turns with the main thread on the same core: `--trace-gc` on a pinned gateway at ~1k req/s showed
 * 13-25 ms scavenges, 3-5 ms without the helpers. A/B (3 alternating runs): plain c32 70.7 -> 65.7 µs/req,
 * p99 7.7 -> 7.0 ms; ext_proc headers-only c32 p99 77 -> 50 ms; ext_proc at ~1k req/s p99 72 -> 39 and
 * 86 -> 33 ms. It cannot be turned on at run time (V8 aborts), hence the shebang.
 *
 * `--no-allocation-site-pretenuring`: V8 watches how many objects from each allocation site survive a scavenge
 * and, past a threshold, allocates that site's objects straight in old space. A proxy's per-request objects all
 * die young, but a burst after an idle spell can push a site over the threshold; from then on those objects
 * land in old space as garbage, the young ones they point to survive scavenges through them, more sites tip
 * over, and the process stays in that mode: scavenges of 6-20 ms instead of ~2, a mark-compact every ~2 s,
 * about 90 MiB more RSS, a fifth more CPU per request and a p99 several times higher. bench/gc-modes.mjs
 * (fresh gateways under bursts of load): 1 in 4-6 processes fell into it with the two flags above, every one
 * with V8's default semi-space; with this flag, none of 6 and none of 3 (default semi-space). CPU A/B while
 * healthy (bench/cell.mjs plain, 10 alternating rounds, twice): paired 0.90 and 1.01, i.e. within noise.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=32', '--single-threaded-gc', '--no-allocation-site-pretenuring']);

/** The flags of GATEWAY_NODE_FLAGS this process was started without (from argv or NODE_OPTIONS). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((f) => f.split('=')[0]!.replace(/_/g, '-'));
  return GATEWAY_NODE_FLAGS.filter((f) => !given.includes(f.split('=')[0]!));
}
