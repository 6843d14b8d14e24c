// The grpc-js server: a real Process call over loopback (plaintext and TLS), the health service, error statuses
// and graceful shutdown. The client is grpc-js with the same codecs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { ProcessingRequest, ProcessingResponse } from '../extproc/messages.js';
import { GrpcCode, ProcessorError } from './errors.js';
import { headersReply } from './replies.js';
import { createProcessor } from './server.js';
import { extProcService, healthService, ServingStatus } from './services.js';
import { headerEditsOf, requestHeaders } from './testing.js';

const Client = grpc.makeGenericClientConstructor({ ...extProcService, ...healthService }, 'Both');
type Call = grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;
type AnyClient = grpc.Client & Record<string, (...a: unknown[]) => unknown>;

function exchange(client: AnyClient, msgs: ProcessingRequest[]): Promise<{ replies: ProcessingResponse[]; status: grpc.StatusObject }> {
  const call = client['Process']!() as Call;
  const replies: ProcessingResponse[] = [];
  call.on('data', (r: ProcessingResponse) => replies.push(r));
  call.on('error', () => {});
  for (const m of msgs) call.write(m);
  call.end();
  return new Promise((resolve) => call.on('status', (status: grpc.StatusObject) => resolve({ replies, status })));
}

function check(client: AnyClient, service = ''): Promise<{ status: number } | grpc.ServiceError> {
  return new Promise((resolve) => client['Check']!({ service }, (err: grpc.ServiceError | null, r: { status: number }) => resolve(err ?? r)));
}

const handlers = {
  onRequestHeaders: (h: { get(n: string): string | undefined }) => {
    if (h.get('x-fail') !== undefined) throw new ProcessorError(GrpcCode.UNAVAILABLE, 'asked to fail');
    return headersReply('request', { set: { 'x-seen': h.get(':path') ?? '' } });
  },
};

describe('processor server', { timeout: 20_000 }, () => {
  test('Process over plaintext: replies, error status, health, graceful close', async (t) => {
    const p = createProcessor(handlers);
    const addr = await p.listen();
    t.after(() => p.close({ graceMs: 0 }));
    assert.equal(addr.target, `127.0.0.1:${addr.port}`);
    const client = new Client(addr.target, grpc.credentials.createInsecure()) as unknown as AnyClient;
    t.after(() => client.close());
    const ok = await exchange(client, [requestHeaders({ ':path': '/hello' }, { endOfStream: true })]);
    assert.equal(ok.status.code, 0);
    assert.deepEqual(headerEditsOf(ok.replies[0]).set, { 'x-seen': '/hello' });
    const bad = await exchange(client, [requestHeaders({ 'x-fail': '1' })]);
    assert.equal(bad.status.code, GrpcCode.UNAVAILABLE);
    assert.equal(bad.status.details, 'asked to fail');
    assert.deepEqual(await check(client), { status: ServingStatus.SERVING });
    assert.deepEqual(await check(client, 'envoy.service.ext_proc.v3.ExternalProcessor'), { status: ServingStatus.SERVING });
    assert.equal((await check(client, 'nope') as grpc.ServiceError).code, GrpcCode.NOT_FOUND);
    assert.equal(p.activeStreams, 0);
    await p.close();
    await assert.rejects(exchange(client, []).then((r) => { if (r.status.code !== 0) throw new Error(String(r.status.code)); }));
  });

  test('graceful close waits for an open stream, then it finishes normally', async (t) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const p = createProcessor({ onRequestHeaders: async () => { await gate; return undefined; } });
    const addr = await p.listen();
    t.after(() => p.close({ graceMs: 0 }));
    const client = new Client(addr.target, grpc.credentials.createInsecure()) as unknown as AnyClient;
    t.after(() => client.close());
    const pending = exchange(client, [requestHeaders({})]);
    while (p.activeStreams === 0) await new Promise((r) => setImmediate(r));
    let closed = false;
    const closing = p.close({ graceMs: 10_000 }).then(() => { closed = true; });
    await new Promise((r) => setImmediate(r));
    assert.equal(closed, false);
    release();
    const r = await pending;
    assert.equal(r.status.code, 0);
    assert.equal(r.replies.length, 1);
    await closing;
  });

  test('TLS', async (t) => {
    const dir = new URL('../../test/fixtures/tls/', import.meta.url);
    const cert = readFileSync(new URL('server.crt', dir));
    const key = readFileSync(new URL('server.key', dir));
    const p = createProcessor(handlers);
    const addr = await p.listen({ tls: { key, cert } });
    t.after(() => p.close({ graceMs: 0 }));
    const client = new Client(addr.target, grpc.credentials.createSsl(cert)) as unknown as AnyClient;
    t.after(() => client.close());
    const r = await exchange(client, [requestHeaders({ ':path': '/tls' })]);
    assert.equal(r.status.code, 0);
    assert.deepEqual(headerEditsOf(r.replies[0]).set, { 'x-seen': '/tls' });
  });
});

test('listen on a taken port rejects, and the processor can then listen elsewhere', { timeout: 10_000 }, async (t) => {
  const a = createProcessor({});
  const { port } = await a.listen();
  t.after(() => a.close({ graceMs: 0 }));
  const b = createProcessor({});
  t.after(() => b.close({ graceMs: 0 }));
  await assert.rejects(b.listen({ port }));
  const again = await b.listen();
  assert.notEqual(again.port, port);
});
