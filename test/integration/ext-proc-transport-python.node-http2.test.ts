// Runs ext-proc-transport-python.test.ts on the node:http2 transport (the default is tollgate's own HTTP/2 framing), so both
// transports meet the same contract.
process.env.TOLLGATE_EXTPROC_TRANSPORT = 'node-http2';
await import('./ext-proc-transport-python.test.js');
