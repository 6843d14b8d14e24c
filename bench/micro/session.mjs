// Micro-benchmark (dev aid): the ext_proc session layer alone, without HTTP/2 or the HTTP pipeline. A lean
// in-memory processor replies CONTINUE to every phase on the next microtask; each exchange runs request and
// response headers (body modes none), as the headers-only bench cell does. Prints µs of CPU per exchange.
// Usage: npm run build && node bench/micro/session.mjs [exchanges]   (runs the compiled dist/, as production does)
import { signalSource } from '../../dist/http/abort.js';
import { HeaderList } from '../../dist/http/headers.js';
import { bufferBody } from '../../dist/http/body.js';
import { ExtProcSession } from '../../dist/extproc/session.js';

const config = {
  target: { scheme: 'http', host: '127.0.0.1', port: 1, display: 'proc:1', tls: undefined },
  failureMode: 'failClosed', messageTimeoutMs: 2000, statusOnError: 500,
  processingOptions: { requestHeaderMode: 'send', responseHeaderMode: 'send', requestBodyMode: 'none', responseBodyMode: 'none', requestTrailerMode: 'skip', responseTrailerMode: 'skip', allowModeOverride: false },
  metadataContext: undefined, requestAttributes: undefined, responseAttributes: undefined,
};
const REQ_REPLY = { requestHeaders: {} };
const RES_REPLY = { responseHeaders: {} };
const client = {
  open(h) {
    return {
      send(msg) {
        queueMicrotask(() => h.onMessage(msg.requestHeaders != null ? REQ_REPLY : RES_REPLY));
        return true;
      },
      drained: () => Promise.resolve(),
      closeSend: () => queueMicrotask(() => h.onEnd({ kind: 'ok' })),
      cancel: () => h.onEnd({ kind: 'cancelled' }),
    };
  },
  close: () => Promise.resolve(),
};
const headers = [['host', 'a.test'], ['user-agent', 'wrk'], ['accept', '*/*'], ['x-forwarded-for', '127.0.0.1'], ['x-forwarded-proto', 'http']];
async function one() {
  const ac = new AbortController();
  const ctx = {
    id: 'r', start: 0, listener: {}, route: undefined, backend: undefined, signal: ac.signal, abort: signalSource(ac.signal),
    maxBufferSize: 1 << 20, traceparent: undefined, extprocMetadata: {},
    log: { id: 'r', gateway: 'g', listener: 'l', method: 'GET', path: '/', authority: 'a', protocol: 'HTTP/1.1', remote: '' },
  };
  const req = { method: 'GET', scheme: 'http', authority: 'a.test', path: '/', headers: new HeaderList(headers), body: null, httpVersion: '1.1', remoteAddress: '127.0.0.1', remotePort: 1 };
  const s = new ExtProcSession({ config, ctx, req, client });
  await s.onRequest(req);
  const res = { status: 200, headers: new HeaderList([['content-type', 'text/plain'], ['content-length', '1024'], ['date', 'x']]), body: bufferBody(Buffer.alloc(1024)) };
  await s.onResponse(res);
  s.finish();
}
const n = Number(process.argv[2] ?? 50_000);
for (let i = 0; i < 5000; i++) await one();
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < n; i++) await one();
const c = process.cpuUsage(c0);
console.log(`session layer: ${((c.user + c.system) / n).toFixed(1)} µs CPU/exchange (${((performance.now() - t0) * 1000 / n).toFixed(1)} µs wall)`);
