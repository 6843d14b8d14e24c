// The bench ext_proc processor, on tollgate's SDK (dist/processor): pass-through for every phase except a buffered
// request body, which it uppercases (the "rewritten body" suite). Full-duplex bodies get the SDK's pass-through
// (each chunk echoed as a streamed chunk). Prints "PORT n" when listening.
import { createProcessor, bodyReply } from '../../dist/processor/index.js';
import { upper } from './upper.mjs';

const processor = createProcessor({
  onRequestBody: (chunk, ctx) => (ctx.fullDuplex('request') ? undefined : bodyReply('request', { body: upper(chunk.data) })),
}, { onError: (err) => console.error('processor handler failed:', err) });
const addr = await processor.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
console.log(`PORT ${addr.port}`);
const stop = () => void processor.close({ graceMs: 0 }).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
