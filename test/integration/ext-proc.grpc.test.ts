/**
 * gRPC through an extProc route (default options: full duplex both ways, pass-through processor): a unary
 * call, a server-streaming call and an error status, with real @grpc/grpc-js client and server, so the
 * grpc-status trailers must survive ext_proc. Also an ImmediateResponse to a gRPC client.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { routesConfig } from '../helpers/gateway-fixtures.js';
import { startGateway } from '../helpers/start-gateway.js';
import { headerValue, reply, startProcessor } from '../helpers/ext-proc-server.js';

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const service: grpc.ServiceDefinition = {
  Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
  Count: { path: '/test.Echo/Count', requestStream: false, responseStream: true, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
  Missing: { path: '/test.Echo/Missing', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
};

describe('gRPC through an extProc route', { timeout: 60_000 }, () => {
  it('unary, server streaming and error statuses keep their grpc-status; an immediate response becomes a gRPC status', async (t) => {
    const server = new grpc.Server();
    server.addService(service, {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
      Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        for (let i = 1; i <= 3; i++) call.write(Buffer.from(`n${i}`));
        call.end();
      },
      Missing: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' }),
    });
    const upPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    const proc = await startProcessor({
      onRequestHeaders: (msg) => (headerValue(msg, 'x-block') ? reply.immediate({ status: 403, grpcStatus: 7, body: 'blocked by policy' }) : undefined),
    });
    const gw = await startGateway(routesConfig(`
    - backends: [{host: "127.0.0.1:${upPort}"}]
      policies:
        extProc:
          host: "${proc.target}"
`));
    const Client = grpc.makeGenericClientConstructor(service, 'Echo');
    const client = new Client(`127.0.0.1:${new URL(gw.url()).port}`, grpc.credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => unknown>;
    t.after(async () => {
      (client as unknown as grpc.Client).close();
      await gw.stop();
      await proc.stop();
      server.forceShutdown();
    });
    const unary = (method: string, req: Buffer, md = new grpc.Metadata()) =>
      new Promise<{ err: grpc.ServiceError | null; res: Buffer | undefined }>((resolve) =>
        (client[method] as (r: Buffer, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void).call(client, req, md, (err, res) => resolve({ err, res })),
      );

    const a = await unary('Echo', Buffer.from('hi'));
    assert.equal(a.err, null);
    assert.equal(a.res!.toString(), 'echo:hi');

    const stream = (client['Count'] as (r: Buffer) => grpc.ClientReadableStream<Buffer>).call(client, Buffer.from('go'));
    const got: string[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve, reject) => {
      stream.on('data', (b: Buffer) => got.push(b.toString()));
      stream.on('status', resolve);
      stream.on('error', (e: grpc.ServiceError) => (e.code === grpc.status.OK ? undefined : reject(e)));
    });
    assert.deepEqual(got, ['n1', 'n2', 'n3']);
    assert.equal(status.code, grpc.status.OK);

    const m = await unary('Missing', Buffer.from('x'));
    assert.equal(m.err?.code, grpc.status.NOT_FOUND);
    assert.equal(m.err?.details, 'no such thing');

    const md = new grpc.Metadata();
    md.set('x-block', '1');
    const blocked = await unary('Echo', Buffer.from('x'), md);
    assert.equal(blocked.err?.code, grpc.status.PERMISSION_DENIED);
    assert.equal(blocked.err?.details, 'blocked by policy');
  });
});
