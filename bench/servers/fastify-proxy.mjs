// Peer: fastify 5 + @fastify/http-proxy 11 (undici underneath), default options, every path to UPSTREAM.
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';

const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
await app.register(proxy, { upstream: process.env.UPSTREAM, prefix: '/', undici: { connections: 128, pipelining: 1 } });
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`PORT ${app.server.address().port}`);
// A clean exit on SIGTERM lets --cpu-prof (bench/cell.mjs --prof) write its profile.
process.on('SIGTERM', () => process.exit(0));
