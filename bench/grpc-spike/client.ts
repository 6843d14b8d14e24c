// Spike client: C concurrent loops of "open stream, send request_headers, await reply, half-close, await status"
// over one HTTP/2 connection (`raw2`/`wire2`: two such messages per stream, as a headers-only ext_proc exchange
// sends). `wire*` is tollgate's default transport (its own HTTP/2 framing), `raw*` the node:http2 one.
// Prints {streamsPerSec, cpuUsPerStream} as JSON. It runs the compiled dist/ transport, as the gateway does.
import * as grpc from '@grpc/grpc-js';
import { H2ProcessorClient, WireProcessorClient } from '../../dist/extproc/client.js';
import { buildRequest, PROCESS } from './common.js';
import type { ProcessingRequest, ProcessingResponse } from '../../dist/extproc/messages.js';

const [kind, port, conc, secs] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
type OneStream = () => Promise<void>;

function stream(Client: typeof H2ProcessorClient | typeof WireProcessorClient, messages: number): OneStream {
  const c = new Client({ scheme: 'http', host: '127.0.0.1', port, display: `127.0.0.1:${port}`, tls: undefined });
  return () => new Promise<void>((resolve, reject) => {
    let replies = 0;
    const s = c.open({
      onMessage: () => (++replies < messages ? s.send(buildRequest()) : s.closeSend()),
      onEnd: (e) => (e.kind === 'ok' ? resolve() : reject(new Error(JSON.stringify(e)))),
    });
    s.send(buildRequest());
  });
}

function grpcJs(): OneStream {
  const Client = grpc.makeGenericClientConstructor(PROCESS, 'ExternalProcessor');
  const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as {
    Process(): grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;
  };
  return () => new Promise<void>((resolve, reject) => {
    const call = c.Process();
    call.on('data', () => call.end());
    call.on('error', reject);
    call.on('status', (st: grpc.StatusObject) => (st.code === 0 ? resolve() : reject(new Error(st.details))));
    call.write(buildRequest());
  });
}

const kinds: Record<string, () => OneStream> = {
  raw: () => stream(H2ProcessorClient, 1), raw2: () => stream(H2ProcessorClient, 2),
  wire: () => stream(WireProcessorClient, 1), wire2: () => stream(WireProcessorClient, 2),
  'grpc-js': grpcJs,
};
if (!kinds[kind]) throw new Error(`kind must be one of ${Object.keys(kinds).join(', ')}`);
const one = kinds[kind]!();
let done = 0;
let measuring = false;
let stop = false;
async function loop(): Promise<void> {
  while (!stop) {
    await one();
    if (measuring) done++;
  }
}
const loops = Array.from({ length: conc }, loop);
await new Promise((r) => setTimeout(r, 1000)); // warm-up (JIT, connection)
measuring = true;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await new Promise((r) => setTimeout(r, secs * 1000));
const cpu = process.cpuUsage(cpu0);
const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
measuring = false;
const n = done;
stop = true;
await Promise.all(loops);
console.log(JSON.stringify({ kind, conc, streamsPerSec: Math.round(n / elapsed), cpuUsPerStream: Math.round((cpu.user + cpu.system) / n) }));
process.exit(0);
