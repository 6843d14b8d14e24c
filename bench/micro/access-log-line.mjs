// Micro-benchmark (dev aid): access-log lines, JSON.stringify of the line object vs AccessLogWriter, batched the way
// the access log writes them: lines joined into writes of up to 4 KiB, each write flattened and encoded (as
// writing a string to a file descriptor does).
// Usage: npm run build && node bench/micro/access-log-line.mjs   (prints ns per line, median of 7 rounds)
import { AccessLogWriter, accessLogLine } from '../../dist/observability/access-log-line.js';
import { requestId } from '../../dist/http/request-id.js';

const records = Array.from({ length: 512 }, (_, i) => ({
  id: requestId(), gateway: 'default', listener: 'listener0', method: 'GET', path: `/items/${i}`,
  authority: '127.0.0.1:8080', protocol: 'HTTP/1.1', remote: '127.0.0.1', route: 'default/route0',
  routeKey: 'bind/8080/listener0/default/route0', backend: '127.0.0.1:9000', status: 200, durationMs: 0.5 + i / 997,
  bytesIn: 0, bytesOut: 1024, error: undefined, errorCode: undefined, extProc: undefined, ai: undefined, dynamicMetadata: undefined,
}));
const writer = new AccessLogWriter();
const ways = {
  'JSON.stringify(accessLogLine)': (r, now) => JSON.stringify(accessLogLine(r, now)),
  'AccessLogWriter.line': (r, now) => writer.line(r, now).text,
};
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const results = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
let sink = 0;
for (let round = 0; round < 8; round++) {
  for (const [name, f] of Object.entries(ways)) {
    const t0 = process.hrtime.bigint();
    for (let rep = 0; rep < 100; rep++) {
      const now = Date.now();
      let out = '';
      for (const r of records) {
        out += f(r, now) + '\n';
        if (out.length > 3600) {
          sink += Buffer.from(out).length;
          out = '';
        }
      }
      sink += Buffer.from(out).length;
    }
    if (round > 0) results[name].push(Number(process.hrtime.bigint() - t0) / (100 * records.length));
  }
}
for (const [name, xs] of Object.entries(results)) console.log(`${name.padEnd(32)} ${median(xs).toFixed(0)} ns/line`);
if (sink === 0) console.log('nothing written');
