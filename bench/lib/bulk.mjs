// Full-duplex bulk transfers: POST `mib` MiB to an echo upstream and read the echoed body back, all in this process
// (the orchestrator, pinned to CPU 1). Reports MiB/s each way and the gateway's RSS growth.
import http from 'node:http';
import { treeRss, treePeakRss, resetPeak } from './procs.mjs';

const CHUNK = Buffer.alloc(64 * 1024, 'a');

/** One transfer; resolves with the bytes received (rejects on error, wrong size or timeout). */
function transfer(url, mib, agent, timeoutMs) {
  const total = mib * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': total }, timeout: timeoutMs });
    let got = 0;
    req.on('timeout', () => req.destroy(new Error(`transfer timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      res.on('data', (d) => (got += d.length));
      res.on('error', reject);
      res.on('end', () => (got === total ? resolve(got) : reject(new Error(`echoed ${got} of ${total} bytes`))));
    });
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(CHUNK.length, total - sent);
        sent += n;
        if (!req.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

/**
 * `sequential` transfers one after another, then `concurrent` at once; `pid` is the gateway (RSS), if any.
 * Returns {seqMiBps, concMiBps, rssBeforeMiB, peakRssMiB, rssGrowthMiB}.
 */
export async function bulk(url, { mib = 10, sequential = 3, concurrent = 4, pid, timeoutMs = 60000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrent });
  try {
    await transfer(url, 1, agent, timeoutMs); // warm-up (connections, JIT, processor channel)
    const rssBefore = pid ? treeRss(pid) : undefined;
    if (pid) resetPeak(pid);
    let t0 = performance.now();
    for (let i = 0; i < sequential; i++) await transfer(url, mib, agent, timeoutMs);
    const seqMiBps = (sequential * mib) / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    await Promise.all(Array.from({ length: concurrent }, () => transfer(url, mib, agent, timeoutMs)));
    const concMiBps = (concurrent * mib) / ((performance.now() - t0) / 1000);
    const peak = pid ? treePeakRss(pid) : undefined;
    return {
      seqMiBps,
      concMiBps,
      rssBeforeMiB: rssBefore === undefined ? undefined : rssBefore / 1024,
      peakRssMiB: peak === undefined ? undefined : peak / 1024,
      rssGrowthMiB: peak === undefined ? undefined : (peak - rssBefore) / 1024,
    };
  } finally {
    agent.destroy();
  }
}
