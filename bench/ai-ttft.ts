// Streaming LLM overhead of the gateway: time to first token (TTFT) and streamed tokens/s, direct to the
// OpenAI mock vs through tollgate, without and with a pass-through ext_proc processor (full-duplex response).
// Sequential requests only (latency, not load). Usage: npm run -s build && node --import tsx bench/ai-ttft.ts [--quick]
import http from 'node:http';
import { createProcessor } from '../src/processor/index.js';
import { startOpenAiMock } from '../test/helpers/openai-mock.js';
import { startGateway } from '../test/helpers/start-gateway.js';

const quick = process.argv.includes('--quick');
const REQUESTS = quick ? 40 : 200;
const TOKENS = 200;

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'count' }], stream: true });

/** One streamed completion: ms to the first SSE data byte, and ms to the end. */
function once(base: string): Promise<{ ttft: number; total: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttft = -1;
    const req = http.request(`${base}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.on('data', () => {
        if (ttft < 0) ttft = performance.now() - t0;
      });
      res.on('end', () => resolve({ ttft, total: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function measure(name: string, base: string): Promise<Record<string, string | number>> {
  for (let i = 0; i < 20; i++) await once(base); // warm-up: JIT, connection pools, processor channel
  const ttft: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const r = await once(base);
    ttft.push(r.ttft);
    total.push(r.total);
  }
  const f = (n: number): number => Math.round(n * 1000) / 1000;
  return {
    target: name,
    'TTFT p50 ms': f(pct(ttft, 50)),
    'TTFT p99 ms': f(pct(ttft, 99)),
    'stream p50 ms': f(pct(total, 50)),
    'tokens/s (p50)': Math.round(TOKENS / (pct(total, 50) / 1000)),
  };
}

const mock = await startOpenAiMock({ stream: { chunks: TOKENS, delayMs: 0 } });
const processor = createProcessor({}); // pass-through
const proc = { ...(await processor.listen()), close: () => processor.close({ graceMs: 0 }) };
const yaml = `
binds:
- port: {{PORT}}
  listeners:
  - routes:
    - backends:
      - ai: {name: openai, provider: {openAI: {}}, hostOverride: "127.0.0.1:{{MOCK}}"}
- port: {{EXT}}
  listeners:
  - routes:
    - backends:
      - ai: {name: openai, provider: {openAI: {}}, hostOverride: "127.0.0.1:{{MOCK}}"}
      policies:
        extProc:
          host: "{{PROC}}"
          processingOptions: {requestBodyMode: buffered, responseBodyMode: fullDuplexStreamed}
`;
const gw = await startGateway(yaml, { vars: { MOCK: mock.port, PROC: proc.target } });
try {
  const rows = [await measure('direct (mock)', mock.url), await measure('tollgate', gw.url(gw.ports.PORT))];
  try {
    rows.push(await measure('tollgate + ext_proc (pass-through)', gw.url(gw.ports.EXT)));
  } catch (err) {
    rows.push({ target: 'tollgate + ext_proc (pass-through)', 'TTFT p50 ms': `failed: ${(err as Error).message}` });
  }
  console.log(`${REQUESTS} sequential streamed completions of ${TOKENS} SSE chunks each, loopback`);
  console.table(rows);
} finally {
  await gw.stop();
  await proc.close();
  await mock.close();
  agent.destroy();
}
