// A tiny demo upstream for the quickstart: answers every request with JSON describing what it received
// (method, path, headers, body size), so you can see what the gateway forwarded.
// Usage: node examples/quickstart/demo-upstream.mjs [port]   (default 18080, listens on 127.0.0.1 only)
import http from 'node:http';

const port = Number(process.argv[2] ?? process.env.DEMO_UPSTREAM_PORT ?? 18080);

const server = http.createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => {
    const body = JSON.stringify({ upstream: 'demo', method: req.method, path: req.url, headers: req.headers, bodyBytes: bytes }, null, 2) + '\n';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`demo upstream listening on http://127.0.0.1:${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)).closeAllConnections());
