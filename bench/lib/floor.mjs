// The per-stream floor of an ext_proc client, measured in the same run: bench/grpc-spike's client (one Process
// stream per "request": send request_headers, read the reply, half-close, read the status; C concurrent over one
// HTTP/2 connection) on CPU 0 against the spike's lean grpc-js server on CPU 1. Three clients: tollgate's own
// HTTP/2 framing (the default transport, src/extproc/wire/), node:http2 (the other transport) and @grpc/grpc-js.
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { track, stop } from './procs.mjs';
import { median } from './measure.mjs';

const tsx = [process.execPath, '--import', 'tsx'];

function runClient(kind, port, conc, secs) {
  return new Promise((resolve, reject) => {
    track(execFile('taskset', ['-c', '0', ...tsx, 'bench/grpc-spike/client.ts', kind, String(port), String(conc), String(secs)], { timeout: (secs + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`floor client ${kind} failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()));
    }));
  });
}

/** Returns rows {kind, conc, streamsPerSec, cpuUsPerStream} (medians of `runs`). */
export async function streamFloor({ runs, seconds, conc = 32 }) {
  const child = track(spawn('taskset', ['-c', '1', ...tsx, 'bench/grpc-spike/server.ts'], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const server = { child, pid: child.pid };
  try {
    const port = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('spike server did not start in 20 s')), 20000);
      createInterface({ input: child.stdout }).once('line', (l) => (clearTimeout(t), resolve(Number(l))));
      child.once('exit', (c) => reject(new Error(`spike server exited (${c})`)));
    });
    const rows = [];
    for (const kind of ['wire', 'wire2', 'raw', 'raw2', 'grpc-js']) {
      const rs = [];
      for (let i = 0; i < runs; i++) rs.push(await runClient(kind, port, conc, seconds));
      const row = {
        kind: {
          wire: 'tollgate wire transport', wire2: 'tollgate wire transport, 2 messages per stream',
          raw: 'raw node:http2', raw2: 'raw node:http2, 2 messages per stream', 'grpc-js': '@grpc/grpc-js',
        }[kind],
        transport: kind.replace(/2$/, ''),
        conc,
        streamsPerSec: median(rs.map((r) => r.streamsPerSec)),
        cpuUsPerStream: median(rs.map((r) => r.cpuUsPerStream)),
        runs: rs,
      };
      console.error(`  floor/${row.kind} c=${conc}: ${row.streamsPerSec} streams/s, ${row.cpuUsPerStream} µs/stream`);
      rows.push(row);
    }
    return rows;
  } finally {
    await stop(server);
  }
}
