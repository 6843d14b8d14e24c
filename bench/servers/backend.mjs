// Bench upstream: node:http, keep-alive, fixed-size response (default 1 KiB). Prints its port.
import http from 'node:http';
const size = Number(process.env.BODY_SIZE ?? 1024);
const payload = Buffer.alloc(size, 'x');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': payload.length });
    res.end(payload);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
