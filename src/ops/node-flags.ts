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
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=32']);

/** The flags of GATEWAY_NODE_FLAGS this process was started without (from argv or NODE_OPTIONS). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((f) => f.split('=')[0]!.replace(/_/g, '-'));
  return GATEWAY_NODE_FLAGS.filter((f) => !given.includes(f.split('=')[0]!));
}
