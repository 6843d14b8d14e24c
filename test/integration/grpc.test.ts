/**
 * gRPC end to end through the gateway with @grpc/grpc-js on both sides: unary and server-streaming calls,
 * metadata and grpc-status trailers, upstream errors, and gateway errors in gRPC form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { freePort } from '../helpers/ports.js';
import { routesConfig, scopedGateway } from '../helpers/gateway-fixtures.js';

const id = (b: Buffer): Buffer => b;
const service = {
  echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  count: { path: '/test.Echo/Count', requestStream: false, responseStream: true, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
} satisfies grpc.ServiceDefinition;

type EchoClient = grpc.Client & {
  echo(req: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientUnaryCall;
  count(req: Buffer): grpc.ClientReadableStream<Buffer>;
};
const EchoClientCtor = grpc.makeGenericClientConstructor(service, 'Echo') as unknown as new (addr: string, creds: grpc.ChannelCredentials) => EchoClient;

async function startGrpcServer(): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(service, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const text = call.request.toString();
      if (text === 'fail') return cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
      const trailer = new grpc.Metadata();
      trailer.set('x-trailer', 'from-server');
      const seen = call.metadata.get('x-client')[0] ?? 'none';
      cb(null, Buffer.from(`echo:${text}:${String(seen)}`), trailer);
    },
    count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = Number(call.request.toString());
      for (let i = 0; i < n; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, server };
}

function unary(client: EchoClient, text: string, md = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res?: Buffer; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = client.echo(Buffer.from(text), md, (err, res) => setImmediate(() => resolve({ err, ...(res ? { res } : {}), ...(trailers ? { trailers } : {}) })));
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

test('gRPC unary and streaming calls pass through the gateway with status trailers', { timeout: 30_000 }, async (t) => {
  const { port, server } = await startGrpcServer();
  t.after(() => server.forceShutdown());
  const dead = await freePort();
  const gw = await scopedGateway(t, routesConfig(`
    - name: grpc
      matches: [{path: {pathPrefix: /test.Echo}}]
      backends: [{host: "127.0.0.1:${port}"}]
    - name: down
      matches: [{path: {pathPrefix: /down.Svc}}]
      backends: [{host: "127.0.0.1:${dead}"}]
`));
  const client = new EchoClientCtor(`127.0.0.1:${gw.ports.PORT}`, grpc.credentials.createInsecure());
  t.after(() => client.close());

  const md = new grpc.Metadata();
  md.set('x-client', 'meta');
  const ok = await unary(client, 'hi', md);
  assert.equal(ok.err, null);
  assert.equal(ok.res?.toString(), 'echo:hi:meta');
  assert.deepEqual(ok.trailers?.get('x-trailer'), ['from-server']);

  const bad = await unary(client, 'fail');
  assert.equal(bad.err?.code, grpc.status.NOT_FOUND);
  assert.equal(bad.err?.details, 'no such thing');

  const items: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const s = client.count(Buffer.from('5'));
    s.on('data', (b: Buffer) => items.push(b.toString()));
    s.on('end', resolve);
    s.on('error', reject);
  });
  assert.deepEqual(items, ['0', '1', '2', '3', '4']);

  // Gateway-made errors arrive as gRPC statuses, not HTTP errors.
  const generic = new grpc.Client(`127.0.0.1:${gw.ports.PORT}`, grpc.credentials.createInsecure());
  t.after(() => generic.close());
  const call = (path: string): Promise<grpc.ServiceError | null> =>
    new Promise((resolve) => generic.makeUnaryRequest(path, id, id, Buffer.from('x'), (err) => resolve(err)));
  const missing = await call('/nope.Svc/Method');
  assert.equal(missing?.code, grpc.status.UNIMPLEMENTED);
  assert.match(missing?.details ?? '', /route not found/);
  const down = await call('/down.Svc/Method');
  assert.equal(down?.code, grpc.status.UNAVAILABLE);
  assert.match(down?.details ?? '', /connection refused/);
});
