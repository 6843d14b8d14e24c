// Runs wrk (Debian's package) pinned to a core and parses req/s and latency percentiles.
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { track } from './procs.mjs';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-wrk-'));

// Prints exact percentiles as one JSON line at the end (wrk's --latency table rounds and lacks p99.9).
const REPORT = `
done = function(summary, latency, requests)
  io.write(string.format('\\nJSON {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;
// Random (exponential) think time per request: gives Poisson-like arrivals. A constant delay() keeps
// connections in lock-step and inflates latency (reference/node-performance.md B0).
const delayScript = (meanMs) => `
delay = function()
  return math.floor(-${meanMs} * math.log(1 - math.random()))
end
`;

/** Writes a wrk Lua script (method/body/headers + optional exponential delay) and returns its path. */
export function script({ method = 'GET', body, headers = {}, meanDelayMs } = {}) {
  let s = `wrk.method = "${method}"\n`;
  if (body !== undefined) s += `wrk.body = ${JSON.stringify(body)}\n`;
  for (const [k, v] of Object.entries(headers)) s += `wrk.headers["${k}"] = "${v}"\n`;
  if (meanDelayMs) s += delayScript(meanDelayMs);
  s += REPORT;
  const p = join(dir, `s${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(p, s);
  return p;
}

/** Runs one bounded wrk measurement. Returns {rps, p50Ms, p90Ms, p99Ms, errors, non2xx, requests}. */
export function wrk({ url, connections = 32, seconds = 5, cpu = '1', scriptPath }) {
  const args = ['-c', String(cpu), 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', scriptPath, url];
  return new Promise((resolve, reject) => {
    track(execFile('taskset', args, { timeout: (seconds + 20) * 1000 }, (err, stdout) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stdout}`));
      const line = stdout.split('\n').find((l) => l.startsWith('JSON '));
      if (!line) return reject(new Error(`wrk printed no summary:\n${stdout}`));
      const j = JSON.parse(line.slice(5));
      resolve({
        requests: j.requests,
        rps: j.requests / (j.duration_us / 1e6),
        p50Ms: j.p50 / 1000,
        p90Ms: j.p90 / 1000,
        p99Ms: j.p99 / 1000,
        errors: j.errors,
        non2xx: j.non2xx,
      });
    }));
  });
}
