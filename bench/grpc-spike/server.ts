// Spike server: a lean grpc-js ext_proc server (one reply per message, OK on half-close). Prints its port.
import * as grpc from '@grpc/grpc-js';
import { PROCESS, REPLY } from './common.js';
import type { ProcessingRequest, ProcessingResponse } from '../../dist/extproc/messages.js';

const server = new grpc.Server();
server.addService(PROCESS, {
  Process: (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
    call.on('data', () => call.write(REPLY));
    call.on('end', () => call.end());
    call.on('error', () => {});
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(port);
});
process.on('SIGTERM', () => server.forceShutdown());
