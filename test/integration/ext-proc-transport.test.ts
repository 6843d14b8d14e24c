// The raw node:http2 ext_proc transport against a real gRPC server (the grpc-js scriptable processor): round trips,
// multiplexing, failures, reconnect, TLS, large messages and backpressure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRANSPORTS, selectedTransport } from '../../src/extproc/client.js';

/** The transport under test: TOLLGATE_EXTPROC_TRANSPORT (the .node-http2 twin of this file runs it on node:http2). */
const Transport = TRANSPORTS[selectedTransport()];
import { loopbackTarget, record } from '../../src/extproc/test-support.js';
import type { ProcessingRequest } from '../../src/extproc/messages.js';
import type { ProcessorTarget } from '../../src/config/model.js';
import { startProcessor, reply, headerValue } from '../helpers/ext-proc-server.js';

type T = { after(fn: () => unknown): void };
const hdrs = (path: string): ProcessingRequest => ({
  requestHeaders: { headers: { headers: [{ key: ':path', rawValue: Buffer.from(path) }, { key: 'x-n', rawValue: Buffer.from(path.slice(1)) }] }, endOfStream: true },
});
function clientFor(t: T, target: ProcessorTarget | number, opts = {}): InstanceType<typeof Transport> {
  const c = new Transport(typeof target === 'number' ? loopbackTarget(target) : target, opts);
  t.after(() => c.close(true));
  return c;
}
const setValue = (r: { requestHeaders?: { response?: { headerMutation?: { setHeaders?: Array<{ header?: { rawValue?: Uint8Array | null } | null }> | null } | null } | null } | null }) =>
  Buffer.from(r.requestHeaders?.response?.headerMutation?.setHeaders?.[0]?.header?.rawValue ?? []).toString();

test('headers round trip with traceparent metadata, then OK on half-close', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor({ onRequestHeaders: (m) => reply.headers('request', { set: [['x-echo', headerValue(m, ':path') ?? '']] }) });
  t.after(() => p.stop());
  const r = record(clientFor(t, p.port), [hdrs('/hello')], { metadata: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.equal(setValue(r.replies[0]!), '/hello');
  assert.equal(p.records[0]!.metadata['traceparent'], '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  assert.deepEqual(r.violations, []);
});

test('200 concurrent streams share one connection with no mix-ups', { timeout: 20_000 }, async (t) => {
  const p = await startProcessor({
    onRequestHeaders: (m) => ({ delayMs: Number(headerValue(m, 'x-n')) % 7, then: reply.headers('request', { set: [['x-echo', headerValue(m, ':path') ?? '']] }) }),
  });
  t.after(() => p.stop());
  const c = clientFor(t, p.port);
  const calls = Array.from({ length: 200 }, (_, i) => record(c, [hdrs(`/${i}`)], { closeSend: true }));
  const ends = await Promise.all(calls.map((x) => x.ended));
  assert.ok(ends.every((e) => e.kind === 'ok'), JSON.stringify(ends.find((e) => e.kind !== 'ok')));
  calls.forEach((x, i) => assert.equal(setValue(x.replies[0]!), `/${i}`));
  assert.equal(p.connections, 1);
  assert.equal(p.streams, 200);
});

test('thousands of streams on one connection do not trip the server\'s HTTP/2 reset-flood guard', { timeout: 30_000 }, async (t) => {
  // Regression: ending every finished stream with RST_STREAM made node's server send GOAWAY(INTERNAL_ERROR) after ~1000.
  const p = await startProcessor();
  t.after(() => p.stop());
  const c = clientFor(t, p.port);
  let next = 0;
  const worker = async () => {
    while (next < 1500) {
      next++;
      const e = await record(c, [hdrs('/x')], { closeSend: true }).ended;
      assert.deepEqual(e, { kind: 'ok' });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  assert.equal(p.connections, 1);
});

test('processor killed mid-stream ends the call as reset; a restarted processor is used by the next open', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor({ onRequestHeaders: () => ({ crash: true }) });
  t.after(() => p.stop());
  const c = clientFor(t, p.port);
  const end = await record(c, [hdrs('/a')]).ended;
  assert.equal(end.kind, 'reset', JSON.stringify(end));
  const q = await startProcessor({}, { port: p.port });
  t.after(() => q.stop());
  const r = record(c, [hdrs('/b')], { closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.equal(r.replies.length, 1);
});

test('processor down gives connect quickly; after it comes back, opens work again within the backoff cap', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor();
  const port = p.port;
  await p.stop();
  const c = clientFor(t, port);
  const t0 = Date.now();
  const end = await record(c, [hdrs('/a')]).ended;
  assert.equal(end.kind, 'connect');
  assert.match((end as { message: string }).message, /127\.0\.0\.1:\d+.*ECONNREFUSED/);
  assert.ok(Date.now() - t0 < 1000);
  const q = await startProcessor({}, { port });
  t.after(() => q.stop());
  // Opens during the backoff window fail fast; the first one after it dials and succeeds.
  for (let i = 0; ; i++) {
    const e = await record(c, [hdrs('/b')], { closeSend: true }).ended;
    if (e.kind === 'ok') break;
    assert.equal(e.kind, 'connect');
    assert.ok(i < 50, 'never reconnected');
    await new Promise((r) => setTimeout(r, 50)); // the backoff is time-based by design
  }
});

test('gRPC error status with a non-ASCII message', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor({ onRequestHeaders: () => ({ grpcError: { code: 7, message: 'denied: 100% ✓' } }) });
  t.after(() => p.stop());
  const r = record(clientFor(t, p.port), [hdrs('/a')]);
  assert.deepEqual(await r.ended, { kind: 'grpc_status', code: 7, message: 'denied: 100% ✓' });
});

test('processor closing with OK before replying ends as ok with no messages', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor({ onRequestHeaders: () => ({ closeOk: true }) });
  t.after(() => p.stop());
  const r = record(clientFor(t, p.port), [hdrs('/a')]);
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.equal(r.replies.length, 0);
});

test('cancel sends RST_STREAM CANCEL and reports cancelled once', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor({ onRequestHeaders: () => null });
  t.after(() => p.stop());
  const r = record(clientFor(t, p.port), [hdrs('/a')]);
  await p.waitForStreams(1);
  r.stream.cancel();
  r.stream.cancel();
  assert.deepEqual(await r.ended, { kind: 'cancelled' });
  assert.equal(await p.records[0]!.ended, 'cancelled');
  assert.deepEqual(r.violations, []);
});

test('large messages both ways (8 MiB), backpressure signal and drained()', { timeout: 20_000 }, async (t) => {
  const big = Buffer.alloc(8 << 20, 'z');
  const p = await startProcessor({ onRequestBody: (m) => reply.body('request', { body: Buffer.from(m.requestBody!.body!).toString('latin1').toUpperCase() }) });
  t.after(() => p.stop());
  const r = record(clientFor(t, p.port), []);
  const ok = r.stream.send({ requestBody: { body: big, endOfStream: true } });
  assert.equal(ok, false, 'an 8 MiB write must report backpressure');
  await r.stream.drained();
  r.stream.closeSend();
  assert.deepEqual(await r.ended, { kind: 'ok' });
  const got = Buffer.from(r.replies[0]!.requestBody!.response!.bodyMutation!.body!);
  assert.equal(got.length, big.length);
  assert.ok(got.equals(Buffer.alloc(8 << 20, 'Z')));
});

test('a reply over maxReceiveBytes resets the call with a clear message', { timeout: 10_000 }, async (t) => {
  const p = await startProcessor({ onRequestHeaders: () => reply.headers('request', { body: Buffer.alloc(2 << 20) }) });
  t.after(() => p.stop());
  const r = record(clientFor(t, p.port, { maxReceiveBytes: 1 << 20 }), [hdrs('/a')]);
  const end = await r.ended;
  assert.equal(end.kind, 'reset');
  assert.match((end as { message: string }).message, /over the 1048576-byte limit/);
});

const noOpenssl = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl CLI not installed (needed to make a test certificate)';

test('https target: TLS with ALPN h2, verified with caCert, or insecure; an unknown CA is a connect failure', { timeout: 15_000, skip: noOpenssl }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const key = readFileSync(join(dir, 'k.pem'));
  const cert = readFileSync(join(dir, 'c.pem'));
  const p = await startProcessor({}, { tls: { key, cert } });
  t.after(() => p.stop());
  for (const tls of [{ insecure: false, caCert: cert.toString() }, { insecure: true, caCert: undefined }]) {
    const r = record(clientFor(t, loopbackTarget(p.port, 'https', tls)), [hdrs('/s')], { closeSend: true });
    assert.deepEqual(await r.ended, { kind: 'ok' });
    assert.equal(r.replies.length, 1);
  }
  const bad = await record(clientFor(t, loopbackTarget(p.port, 'https', { insecure: false, caCert: undefined })), [hdrs('/s')]).ended;
  assert.equal(bad.kind, 'connect');
  assert.match((bad as { message: string }).message, /self.signed|certificate/i);
});
