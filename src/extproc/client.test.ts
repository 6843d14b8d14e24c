// Transport edge cases against hand-written raw HTTP/2 peers (garbage, non-gRPC answers, resets, odd framing).
// Round trips against real gRPC processors (grpc-js fixture, Python grpcio) are in test/integration/ext-proc-transport.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { TRANSPORTS, getProcessorClient, selectedTransport, targetKey } from './client.js';
import { frameMessage } from './grpc-framing.js';
import { pb } from './messages.js';
import { loopbackTarget, record } from './test-support.js';
import type { ProcessorClient, StreamEnd } from './transport.js';

type StreamHandler = (s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void;

async function rawServer(t: { after(fn: () => unknown): void }, onStream: StreamHandler): Promise<number> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => { sessions.add(s); s.on('close', () => sessions.delete(s)); s.on('error', () => {}); });
  server.on('stream', (s, h) => { s.on('error', () => {}); onStream(s, h); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { for (const s of sessions) s.destroy(); server.close(); });
  return (server.address() as net.AddressInfo).port;
}

const reply = (body = 'x'): Buffer => frameMessage(pb.ProcessingResponse.encode({ requestBody: { response: { bodyMutation: { body: Buffer.from(body) } } } }).finish());
const GRPC = { ':status': 200, 'content-type': 'application/grpc' };
const headersMsg = { requestHeaders: { headers: { headers: [{ key: ':path', rawValue: Buffer.from('/') }] } } };

/** The transport under test: TOLLGATE_EXTPROC_TRANSPORT (client.node-http2.test.ts runs this file on node:http2). */
const Transport = TRANSPORTS[selectedTransport()];

function client(t: { after(fn: () => unknown): void }, port: number, opts = {}): ProcessorClient {
  const c = new Transport(loopbackTarget(port), opts);
  t.after(() => c.close(true));
  return c;
}

test('request headers carry the gRPC method, content-type, te and metadata', { timeout: 5000 }, async (t) => {
  let seen: http2.IncomingHttpHeaders = {};
  const port = await rawServer(t, (s, h) => { seen = h; s.respond(GRPC, { waitForTrailers: true }); s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' })); s.end(); });
  const r = record(client(t, port), [], { metadata: { traceparent: '00-1-2-01', 'content-type': 'evil', ':path': '/evil' }, closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.equal(seen[':method'], 'POST');
  assert.equal(seen[':path'], '/envoy.service.ext_proc.v3.ExternalProcessor/Process');
  assert.equal(seen['content-type'], 'application/grpc');
  assert.equal(seen['te'], 'trailers');
  assert.equal(seen['traceparent'], '00-1-2-01');
});

test('messages split byte by byte and several per chunk are all delivered, in order, before onEnd', { timeout: 5000 }, async (t) => {
  const port = await rawServer(t, (s) => {
    s.respond(GRPC, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
    const one = reply('a');
    for (const b of one) s.write(Buffer.from([b]));
    s.write(Buffer.concat([reply('b'), reply('c'), reply('d').subarray(0, 3)]));
    s.end(reply('d').subarray(3));
  });
  const r = record(client(t, port), [headersMsg]);
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.deepEqual(r.replies.map((m) => Buffer.from(m.requestBody!.response!.bodyMutation!.body!).toString()), ['a', 'b', 'c', 'd']);
  assert.deepEqual(r.violations, []);
});

const badPeers: Array<[string, StreamHandler, RegExp]> = [
  ['non-200 status', (s) => { s.respond({ ':status': 503, 'content-type': 'application/grpc' }); s.end(); }, /HTTP status 503/],
  ['non-gRPC content-type', (s) => { s.respond({ ':status': 200, 'content-type': 'text/html' }); s.end('<html>'); }, /content-type "text\/html"/],
  ['invalid frame flag', (s) => { s.respond(GRPC); s.write(Buffer.from([7, 0, 0, 0, 1, 0])); }, /invalid gRPC frame flag 7/],
  ['compressed frame', (s) => { s.respond(GRPC); s.write(Buffer.from([1, 0, 0, 0, 1, 0])); }, /compressed/],
  ['oversized length prefix', (s) => { s.respond(GRPC); s.write(Buffer.from([0, 0x7f, 0xff, 0xff, 0xff])); }, /over the 1048576-byte limit/],
  ['malformed protobuf', (s) => { s.respond(GRPC); s.write(frameMessage(Buffer.from([0xff, 0xff, 0xff]))); }, /malformed ProcessingResponse/],
  ['truncated frame then OK', (s) => {
    s.respond(GRPC, { waitForTrailers: true }); s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' })); s.end(reply().subarray(0, 4));
  }, /truncated gRPC frame/],
  ['end without trailers', (s) => { s.respond(GRPC); s.end(reply()); }, /without a gRPC status/],
  ['RST_STREAM mid-stream', (s) => { s.respond(GRPC); s.write(reply(), () => s.close(http2.constants.NGHTTP2_INTERNAL_ERROR)); }, /reset the stream \(INTERNAL_ERROR\)/],
  ['session destroyed mid-stream', (s) => { s.respond(GRPC); s.write(reply(), () => s.session?.destroy()); }, /./],
  ['GOAWAY with an error mid-stream', (s) => { s.respond(GRPC); s.write(reply(), () => s.session?.goaway(http2.constants.NGHTTP2_PROTOCOL_ERROR, 1)); }, /./],
];

for (const [name, handler, re] of badPeers) {
  test(`a peer that sends ${name} ends the call as reset, never a crash`, { timeout: 5000 }, async (t) => {
    const port = await rawServer(t, handler);
    const r = record(client(t, port, { maxReceiveBytes: 1 << 20 }), [headersMsg]);
    const end = await r.ended;
    assert.equal(end.kind, 'reset', JSON.stringify(end));
    assert.match((end as { message: string }).message, re);
    assert.deepEqual(r.violations, []);
  });
}

test('a trailers-only error carries the gRPC status and percent-decoded message', { timeout: 5000 }, async (t) => {
  const port = await rawServer(t, (s) => { s.respond({ ':status': 200, 'grpc-status': '13', 'grpc-message': 'boom%20%E2%9C%93' }, { endStream: true }); });
  const r = record(client(t, port), [headersMsg]);
  assert.deepEqual(await r.ended, { kind: 'grpc_status', code: 13, message: 'boom ✓' });
});

test('a non-HTTP/2 peer is reported (connect or reset), not thrown', { timeout: 5000 }, async (t) => {
  const srv = net.createServer((sock) => { sock.on('error', () => {}); sock.end('HTTP/1.1 400 Bad Request\r\n\r\ngarbage'); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const r = record(client(t, (srv.address() as net.AddressInfo).port), [headersMsg]);
  const end = await r.ended;
  assert.ok(end.kind === 'connect' || end.kind === 'reset', JSON.stringify(end));
});

test('open during dial backoff fails fast with connect', { timeout: 5000 }, async (t) => {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const c = client(t, port, { backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
  const first = await record(c, [headersMsg]).ended;
  assert.equal(first.kind, 'connect');
  assert.match((first as { message: string }).message, /ECONNREFUSED/);
  const t0 = Date.now();
  const second = await record(c, [headersMsg]).ended;
  assert.equal(second.kind, 'connect');
  assert.match((second as { message: string }).message, /retrying in \d+ ms/);
  assert.ok(Date.now() - t0 < 100);
});

test('invalid metadata entries are dropped, the call still works', { timeout: 5000 }, async (t) => {
  let seen: http2.IncomingHttpHeaders = {};
  const port = await rawServer(t, (s, h) => { seen = h; s.respond({ ...GRPC, 'grpc-status': '0' }, { endStream: true }); });
  const r = record(client(t, port), [headersMsg], { metadata: { 'x-bad': 'a\r\nb', 'Bad Name': 'v', 'x-ok': 'fine' } });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.equal(seen['x-bad'], undefined);
  assert.equal(seen['x-ok'], 'fine');
});

test('a handler that throws resets the call instead of crashing', { timeout: 5000 }, async (t) => {
  const port = await rawServer(t, (s) => { s.respond(GRPC); s.write(Buffer.concat([reply(), reply()])); });
  const ends: string[] = [];
  let n = 0;
  await new Promise<void>((resolve) => {
    client(t, port).open({
      onMessage: () => { n++; throw new Error('bug'); },
      onEnd: (e) => { ends.push(e.kind); resolve(); },
    }).send(headersMsg);
  });
  assert.deepEqual(ends, ['reset']);
  assert.equal(n, 1);
});

test('the registry shares one client per target key', { timeout: 5_000 }, () => {
  const a = getProcessorClient(loopbackTarget(1));
  assert.equal(getProcessorClient(loopbackTarget(1)), a);
  assert.notEqual(getProcessorClient(loopbackTarget(2)), a);
  assert.notEqual(targetKey(loopbackTarget(1, 'https', { insecure: true, caCert: undefined })), targetKey(loopbackTarget(1, 'https', { insecure: false, caCert: undefined })));
});

test('a half-open connection is detected with a PING after idleness and replaced', { timeout: 10_000 }, async (t) => {
  const port = await rawServer(t, (s) => { s.respond({ ...GRPC, 'grpc-status': '0' }, { endStream: true }); });
  // A TCP relay that can go silent (drops bytes both ways, keeps sockets open): a processor host that vanished.
  let frozen = false;
  let dials = 0;
  const relay = net.createServer((down) => {
    dials++;
    const up = net.connect(port, '127.0.0.1');
    down.on('data', (b) => { if (!frozen) up.write(b); });
    up.on('data', (b) => { if (!frozen) down.write(b); });
    for (const [a, b] of [[down, up], [up, down]] as const) { a.on('error', () => {}); a.on('close', () => b.destroy()); }
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  t.after(() => relay.close());
  const c = client(t, (relay.address() as net.AddressInfo).port, { idlePingAfterMs: 0, pingTimeoutMs: 150 });
  assert.deepEqual(await record(c, [headersMsg], { closeSend: true }).ended, { kind: 'ok' });
  frozen = true;
  const stuck = await record(c, [headersMsg], { closeSend: true }).ended;
  assert.equal(stuck.kind, 'reset', JSON.stringify(stuck));
  assert.match((stuck as { message: string }).message, /did not answer an HTTP\/2 PING within 150 ms/);
  frozen = false;
  assert.deepEqual(await record(c, [headersMsg], { closeSend: true }).ended, { kind: 'ok' });
  assert.equal(dials, 2);
});

test('on an established connection, a mid-stream loss is reset and a GOAWAY-refused stream is connect', { timeout: 10_000 }, async (t) => {
  let n = 0;
  const port = await rawServer(t, (s) => {
    n++;
    if (n === 1) s.respond({ ...GRPC, 'grpc-status': '0' }, { endStream: true });
    else if (n === 2) { s.respond(GRPC); s.write(reply(), () => s.session?.destroy()); }
    else if (n === 3) s.respond({ ...GRPC, 'grpc-status': '0' }, { endStream: true });
    else s.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
  });
  const c = client(t, port);
  assert.deepEqual(await record(c, [headersMsg], { closeSend: true }).ended, { kind: 'ok' });
  const lost = await record(c, [headersMsg]).ended;
  assert.equal(lost.kind, 'reset', JSON.stringify(lost));
  assert.deepEqual(await record(c, [headersMsg], { closeSend: true }).ended, { kind: 'ok' });
  const refused = await record(c, [headersMsg]).ended;
  assert.equal(refused.kind, 'connect', JSON.stringify(refused));
});

test('pause() holds further replies and the end until resume(); then all arrive in order before onEnd', { timeout: 5000 }, async (t) => {
  let serverClosed!: () => void;
  const closed = new Promise<void>((r) => { serverClosed = r; });
  const port = await rawServer(t, (s) => {
    s.on('close', serverClosed);
    s.respond(GRPC, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
    s.end(Buffer.concat([reply('a'), reply('b'), reply('c')])); // one chunk: pause must hold the rest of it
  });
  const got: string[] = [];
  let ended: StreamEnd | undefined;
  let onEnd!: () => void;
  const end = new Promise<void>((r) => { onEnd = r; });
  const c = client(t, port);
  const stream = c.open({
    onMessage: (m) => {
      got.push(Buffer.from(m.requestBody!.response!.bodyMutation!.body!).toString());
      if (got.length === 1) stream.pause!();
    },
    onEnd: (e) => { ended = e; onEnd(); },
  });
  stream.send(headersMsg);
  stream.closeSend();
  await closed; // the server sent everything, its status included
  await new Promise((r) => setTimeout(r, 50)); // let the bytes cross loopback: nothing may be delivered
  assert.deepEqual(got, ['a']);
  assert.equal(ended, undefined, 'the end waits for the held replies');
  stream.resume!();
  await end;
  assert.deepEqual(got, ['a', 'b', 'c']);
  assert.deepEqual(ended, { kind: 'ok' });
});

test('a finished call lets go of the session handlers, even while node still holds its stream', { timeout: 10_000 }, async (t) => {
  // node can keep a closed HTTP/2 stream (whose listeners hold the call) for a while; if the call still held the
  // handlers, every finished exchange behind them would live on and be promoted to the old generation.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const port = await rawServer(t, (s) => { s.respond(GRPC, { waitForTrailers: true }); s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' })); s.end(); });
  let ended!: (e: StreamEnd) => void;
  const done = new Promise<StreamEnd>((r) => (ended = r));
  let handlers: { onMessage(): void; onEnd(e: StreamEnd): void } | undefined = { onMessage: () => undefined, onEnd: (e) => ended(e) };
  const collected = new WeakRef(handlers);
  const call = client(t, port).open(handlers);
  handlers = undefined;
  call.closeSend();
  assert.deepEqual(await done, { kind: 'ok' });
  await new Promise((r) => setImmediate(r));
  gc();
  assert.equal(collected.deref(), undefined, 'the handlers are still reachable from the finished call');
  assert.ok(call, 'the call itself stays referenced, as a lingering stream would keep it');
});
