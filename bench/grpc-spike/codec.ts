// Codec spike: build+encode a 15-header ProcessingRequest and decode the reply, with protobufjs static code (ours),
// protobufjs reflection (`load`), and @grpc/proto-loader's serializers (what grpc-js users get by default).
import { join } from 'node:path';
import protobuf from 'protobufjs';
import * as protoLoader from '@grpc/proto-loader';
import { pb } from '../../src/extproc/messages.js';
import { buildRequest, HEADER_LIST, REPLY } from './common.js';

const protoDir = join(import.meta.dirname, '../../proto');
const file = 'envoy/service/ext_proc/v3/external_processor.proto';
const replyBytes = pb.ProcessingResponse.encode(REPLY).finish();

const root = new protobuf.Root();
root.resolvePath = (_o, target) => (target.startsWith('google/') ? target : join(protoDir, target));
root.loadSync(file, { keepCase: false });
const ReqT = root.lookupType('envoy.service.ext_proc.v3.ProcessingRequest');
const ResT = root.lookupType('envoy.service.ext_proc.v3.ProcessingResponse');

const def = protoLoader.loadSync(file, { includeDirs: [protoDir], keepCase: true, longs: String, enums: Number, defaults: false, oneofs: true });
const m = (def['envoy.service.ext_proc.v3.ExternalProcessor'] as Record<string, protoLoader.MethodDefinition<object, object>>)['Process']!;

function bench(name: string, fn: () => unknown): [string, number] {
  for (let i = 0; i < 20_000; i++) fn();
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 400) { for (let i = 0; i < 1000; i++) fn(); n += 1000; }
    runs.push((performance.now() - t0) * 1000 / n);
  }
  runs.sort((a, b) => a - b);
  return [name, runs[2]!];
}
function pairs() { return HEADER_LIST.map(([key, v]) => ({ key, raw_value: Buffer.from(v, 'latin1') })); }
const prebuilt = buildRequest();
const prebuiltPl = { request_headers: { headers: { headers: pairs() }, end_of_stream: false } };
const results = [
  bench('build the message (15 Buffer.from)', () => buildRequest()),
  bench('static: encode prebuilt request', () => pb.ProcessingRequest.encode(prebuilt).finish()),
  bench('reflection: encode prebuilt request', () => ReqT.encode(prebuilt).finish()),
  bench('proto-loader: serialize prebuilt request', () => m.requestSerialize(prebuiltPl)),
  bench('static: build+encode request', () => pb.ProcessingRequest.encode(buildRequest()).finish()),
  bench('static: decode reply', () => pb.ProcessingResponse.decode(replyBytes)),
  bench('reflection: build+encode request', () => ReqT.encode(buildRequest()).finish()),
  bench('reflection: decode reply', () => ResT.decode(replyBytes)),
  bench('proto-loader: build+serialize request', () => m.requestSerialize({ request_headers: { headers: { headers: pairs() }, end_of_stream: false } })),
  bench('proto-loader: deserialize reply', () => m.responseDeserialize(Buffer.from(replyBytes))),
];
console.log(JSON.stringify({ requestBytes: pb.ProcessingRequest.encode(buildRequest()).finish().length, results }));
