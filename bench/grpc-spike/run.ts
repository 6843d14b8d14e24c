// gRPC spike runner: `node --import tsx bench/grpc-spike/run.ts` from the repo root (≈1.5 min).
// Server pinned to CPU 1, client to CPU 0 (taskset when present). Median of 3 runs per cell.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';

const SECS = Number(process.env.SPIKE_SECS ?? 3);
const hasTaskset = spawnSync('taskset', ['--version']).status === 0;
const pin = (cpu: number, args: string[]): [string, string[]] => (hasTaskset ? ['taskset', ['-c', String(cpu), ...args]] : [args[0]!, args.slice(1)]);
const node = [process.execPath, '--import', 'tsx'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const [cmd, args] = pin(1, [...node, 'bench/grpc-spike/server.ts']);
const server = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<string>((r) => createInterface({ input: server.stdout! }).once('line', r));
const rows: string[] = [];
try {
  for (const conc of [16, 64]) {
    for (const kind of ['grpc-js', 'raw']) {
      const runs: Array<{ streamsPerSec: number; cpuUsPerStream: number }> = [];
      for (let i = 0; i < 3; i++) {
        const [c, a] = pin(0, [...node, 'bench/grpc-spike/client.ts', kind, port, String(conc), String(SECS)]);
        runs.push(JSON.parse(execFileSync(c, a, { encoding: 'utf8' }).trim().split('\n').pop()!));
      }
      const row = `| ${kind === 'raw' ? 'raw node:http2 (src/extproc/client.ts)' : 'grpc-js 1.14 + our protobufjs codecs'} | ${conc} | ${median(runs.map((r) => r.streamsPerSec))} | ${median(runs.map((r) => r.cpuUsPerStream))} | ${runs.map((r) => `${r.streamsPerSec}/${r.cpuUsPerStream}`).join(', ')} |`;
      console.log(row);
      rows.push(row);
    }
  }
} finally {
  server.kill('SIGTERM');
}
const [cc, ca] = pin(0, [...node, 'bench/grpc-spike/codec.ts']);
const codec = JSON.parse(execFileSync(cc, ca, { encoding: 'utf8' }).trim());
console.log(`\nrequest bytes: ${codec.requestBytes}`);
for (const [name, us] of codec.results as Array<[string, number]>) console.log(`| ${name} | ${us.toFixed(2)} µs |`);
