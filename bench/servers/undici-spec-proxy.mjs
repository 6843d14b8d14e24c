// The Node floor plus what SPEC asks of every request, and nothing else: bench/servers/undici-proxy.mjs (node:http +
// undici Pool.dispatch) that also writes the access-log line (SPEC "Logs": one JSON line per request naming the
// route, backend, status and duration) and records the request counter and duration histogram (SPEC "Metrics").
// Both use tollgate's own code for them (dist/observability: the batched line writer to stdout, the fast
// counters), so this is the cheapest a SPEC-compliant gateway on node:http and undici is known to be: the bench
// compares tollgate with it to tell the cost of the obligations from the cost of the rest of the gateway.
// No routing, policies, forwarded headers, timeouts or ext_proc. Needs a built tollgate (npm run build).
// SPEC_ONLY=log or SPEC_ONLY=metrics keeps just one of the two, to tell their costs apart.
import http from 'node:http';
import { Pool } from 'undici';
import { createAccessLog } from '../../dist/observability/access-log.js';
import { createMetrics } from '../../dist/observability/metrics.js';
import { channels } from '../../dist/observability/diagnostics.js';
import { requestId } from '../../dist/http/request-id.js';

const upstream = process.env.UPSTREAM; // http://127.0.0.1:port
const backendName = upstream.replace(/^https?:\/\//, '');
const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
const only = process.env.SPEC_ONLY;
const accessLog = createAccessLog({ enabled: only !== 'metrics' });
if (only !== 'log') createMetrics();

function record(req, start) {
  return {
    id: requestId(),
    gateway: 'bind/8080',
    listener: 'listener0',
    method: req.method,
    path: req.url,
    authority: req.headers.host ?? '',
    protocol: 'HTTP/1.1',
    remote: req.socket.remoteAddress ?? '',
    route: 'default/route0',
    routeKey: 'route0',
    backend: backendName,
    status: undefined,
    durationMs: undefined,
    bytesIn: 0,
    bytesOut: 0,
    error: undefined,
    errorCode: undefined,
    extProc: undefined,
    ai: undefined,
    dynamicMetadata: undefined,
    start,
  };
}

function finish(log, status, bytesOut) {
  log.status = status;
  log.bytesOut = bytesOut;
  log.durationMs = performance.now() - log.start;
  if (channels.requestEnd.hasSubscribers) channels.requestEnd.publish({ record: log });
}

const server = http.createServer((req, res) => {
  const log = record(req, performance.now());
  let bytes = 0;
  let status = 0;
  pool.dispatch(
    { method: req.method, path: req.url, headers: req.headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
    {
      onRequestStart() {},
      onResponseStart(_c, s, headers) {
        status = s;
        res.writeHead(s, headers);
      },
      onResponseData(_c, chunk) {
        bytes += chunk.length;
        res.write(chunk);
      },
      onResponseEnd() {
        res.end();
        finish(log, status, bytes);
      },
      onResponseError(_c, err) {
        if (!res.headersSent) res.writeHead(502).end(String(err.message));
        else res.destroy(err);
        finish(log, 502, bytes);
      },
    },
  );
});
server.keepAliveTimeout = 60_000;
// stdout carries the access log (to /dev/null in the bench, as tollgate's does), so the port goes to stderr.
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.error(`PORT ${server.address().port}`));
process.on('SIGTERM', () => {
  accessLog.flush();
  process.exit(0);
});
