// The Node floor: a minimal node:http server + undici Pool.dispatch proxy (no routing, no policies).
import http from 'node:http';
import { Pool } from 'undici';
const upstream = process.env.UPSTREAM; // http://127.0.0.1:port
const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
const server = http.createServer((req, res) => {
  pool.dispatch(
    { method: req.method, path: req.url, headers: req.headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
    {
      onRequestStart() {},
      onResponseStart(_c, status, headers) {
        res.writeHead(status, headers);
      },
      onResponseData(_c, chunk) {
        res.write(chunk);
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError(_c, err) {
        if (!res.headersSent) res.writeHead(502).end(String(err.message));
        else res.destroy(err);
      },
    },
  );
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
// A clean exit on SIGTERM lets --cpu-prof (bench/cell.mjs --prof) write its profile.
process.on('SIGTERM', () => process.exit(0));
