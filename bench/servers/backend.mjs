// Bench upstream (node:http, keep-alive):
// - any path: drains the request body, answers 200 with a fixed body (BODY_SIZE, default 1 KiB);
// - /echo: streams the request body back (full-duplex 10 MiB suite);
// - /v1/chat/completions: an OpenAI-like SSE stream of SSE_CHUNKS chunks, one per event-loop turn, then usage and
//   [DONE] (SSE suite). Prints "PORT n" when listening.
import http from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';

const size = Number(process.env.BODY_SIZE ?? 1024);
const chunks = Number(process.env.SSE_CHUNKS ?? 100);
const payload = Buffer.alloc(size, 'x');
const sseEvent = (choices, extra = {}) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'bench-model', choices, ...extra })}\n\n`;

async function sse(res) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (let i = 0; i < chunks && !res.destroyed; i++) {
    res.write(sseEvent([{ index: 0, delta: { content: `tok${i} ` }, finish_reason: null }]));
    await nextTurn();
  }
  res.write(sseEvent([{ index: 0, delta: {}, finish_reason: 'stop' }]));
  res.write(sseEvent([], { usage: { prompt_tokens: 5, completion_tokens: chunks, total_tokens: chunks + 5 } }));
  res.end('data: [DONE]\n\n');
}

const server = http.createServer((req, res) => {
  if (req.url === '/echo') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    req.pipe(res);
    return;
  }
  req.resume();
  req.on('end', () => {
    if (req.url?.startsWith('/v1/chat/completions')) return void sse(res);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': payload.length });
    res.end(payload);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
