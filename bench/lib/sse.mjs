// SSE streaming latency: sequential OpenAI-style streamed completions; time to the first body byte and to the end.
import http from 'node:http';

const body = JSON.stringify({ model: 'bench-model', messages: [{ role: 'user', content: 'count' }], stream: true });

function once(url, agent, timeoutMs) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttfb = -1;
    const req = http.request(url, { method: 'POST', agent, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (d) => {
        if (ttfb < 0) ttfb = performance.now() - t0;
        text += d;
      });
      res.on('end', () => (text.includes('[DONE]') ? resolve({ ttfb, total: performance.now() - t0 }) : reject(new Error('stream ended without [DONE]'))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('SSE request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** `n` sequential streamed completions after 20 warm-ups; p50/p99 of TTFB and total, ms. */
export async function sseLatency(url, { n = 100, timeoutMs = 10000 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 20; i++) await once(url, agent, timeoutMs);
    const ttfb = [];
    const total = [];
    for (let i = 0; i < n; i++) {
      const r = await once(url, agent, timeoutMs);
      ttfb.push(r.ttfb);
      total.push(r.total);
    }
    return { n, ttfbP50Ms: pct(ttfb, 50), ttfbP99Ms: pct(ttfb, 99), totalP50Ms: pct(total, 50), totalP99Ms: pct(total, 99) };
  } finally {
    agent.destroy();
  }
}
