// Regression tests for what a review of the wire transport found: re-entrant pause/resume, a paused call whose
// stream ends, a CONTINUATION flood, non-ASCII processor hosts, and the transport switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WireProcessorClient, asciiHost, selectedTransport } from '../client.js';
import { loopbackTarget, record } from '../test-support.js';
import type { StreamEnd } from '../transport.js';
import { ErrorCode, FrameType, frame } from './frames.js';
import { encodeLiteral } from './hpack.js';
import {
  OK_TRAILERS, RESPONSE_HEAD, bodyOf, dataFrame, goawayCode, headersFrame, headersMsg, isType, messageOf, rawPeer, replyBytes,
  wire, type RawConn,
} from './raw-peer.test-helper.js';

/** Resolves once the client has processed everything `c` sent before: it answers a PING in order. */
async function processed(c: RawConn, tag: number): Promise<void> {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(tag, 4);
  c.send(frame(FrameType.Ping, 0, 0, payload));
  await c.next((f) => f.type === FrameType.Ping && (f.flags & 1) === 1 && f.payload.equals(payload), `PING ACK ${tag}`);
}

test('pause() and resume() inside onMessage while held replies are delivered: nothing skipped, order kept', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => c.hello());
  const order: string[] = [];
  let toggled = false;
  let ended!: (e: StreamEnd) => void;
  const end = new Promise<StreamEnd>((r) => (ended = r));
  const stream = wire(t, peer.port).open({
    onMessage: (m) => {
      order.push(bodyOf(m));
      if (!toggled) {
        toggled = true;
        stream.pause!();
        stream.resume!();
      }
    },
    onEnd: (e) => ended(e),
  });
  stream.send(headersMsg);
  stream.closeSend();
  const c = await peer.conn(0);
  const h = await c.next(isType(FrameType.Headers), 'HEADERS');
  c.send(headersFrame(h.streamId, RESPONSE_HEAD));
  await processed(c, 1);
  stream.pause!();
  c.send(dataFrame(h.streamId, Buffer.concat([replyBytes('c1'), replyBytes('c2')])), dataFrame(h.streamId, replyBytes('d1')), headersFrame(h.streamId, OK_TRAILERS, true));
  await processed(c, 2);
  assert.deepEqual(order, [], 'nothing is delivered while paused');
  stream.resume!();
  assert.deepEqual(await end, { kind: 'ok' });
  assert.deepEqual(order, ['c1', 'c2', 'd1']);
});

test('a paused call with nothing held ends as soon as its stream does (no resume needed)', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => c.hello());
  const r = record(wire(t, peer.port), [headersMsg], { closeSend: true });
  r.stream.pause!();
  const c = await peer.conn(0);
  const h = await c.next(isType(FrameType.Headers), 'HEADERS');
  c.send(headersFrame(h.streamId, RESPONSE_HEAD), headersFrame(h.streamId, OK_TRAILERS, true));
  assert.deepEqual(await r.ended, { kind: 'ok' });
});

test('a header block in endless CONTINUATION frames is a connection error (ENHANCE_YOUR_CALM), not unbounded memory', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => c.hello());
  const r = record(wire(t, peer.port), [headersMsg]);
  const c = await peer.conn(0);
  const h = await c.next(isType(FrameType.Headers), 'HEADERS');
  const empties = Array.from({ length: 100 }, () => frame(FrameType.Continuation, 0, h.streamId));
  c.send(frame(FrameType.Headers, 0, h.streamId, RESPONSE_HEAD), ...empties);
  const end = await r.ended;
  assert.equal(end.kind, 'reset', JSON.stringify(end));
  assert.match(messageOf(end), /more than 32 CONTINUATION frames/);
  assert.equal(await goawayCode(c), ErrorCode.EnhanceYourCalm);
});

test('an HTTP/1.1 server is named as "not HTTP/2", not as an oversized frame', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => c.send(Buffer.from('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')));
  const end = await record(wire(t, peer.port), [headersMsg]).ended;
  assert.match(messageOf(end), /did not start with a SETTINGS frame \(is it an HTTP\/2 gRPC server\?\)/);
});

test('processor host names go on the wire lowercased and in ASCII; one with no header form fails calls, not the client', { timeout: 5000 }, async () => {
  assert.equal(asciiHost('例え.TEST'), 'xn--r8jz45g.test');
  assert.equal(asciiHost('Proc.Example'), 'proc.example');
  assert.equal(asciiHost('::1'), '::1');
  // A host the URL rules reject keeps its spelling; it cannot be encoded in a header, so each call ends `connect`.
  const bad = new WireProcessorClient({ ...loopbackTarget(1), host: 'a b\u0100', display: 'a b\u0100:1' });
  const end = await record(bad, [headersMsg]).ended;
  assert.equal(end.kind, 'connect', JSON.stringify(end));
  assert.match(messageOf(end), /host name cannot be sent/);
  await bad.close(true);
});

test('TOLLGATE_EXTPROC_TRANSPORT accepts only the transports, not inherited object keys', () => {
  assert.equal(selectedTransport({}), 'wire');
  assert.equal(selectedTransport({ TOLLGATE_EXTPROC_TRANSPORT: 'node-http2' }), 'node-http2');
  for (const v of ['constructor', 'toString', '__proto__', 'grpc-js']) {
    assert.throws(() => selectedTransport({ TOLLGATE_EXTPROC_TRANSPORT: v }), /must be one of wire, node-http2/);
  }
});

test('PINGs sent without reading our answers are a flood: the call ends, the write buffer stays bounded', { timeout: 30_000 }, async (t) => {
  const peer = await rawPeer(t, (c) => c.hello());
  const r = record(wire(t, peer.port), [headersMsg]);
  const c = await peer.conn(0);
  await c.next(isType(FrameType.Headers), 'HEADERS');
  c.socket.pause(); // the peer stops reading: every PING ACK we owe it piles up on our side
  let ended = false;
  void r.ended.then(() => (ended = true));
  const batch = Buffer.concat(Array.from({ length: 4096 }, () => frame(FrameType.Ping, 0, 0, Buffer.alloc(8))));
  let sent = 0;
  while (!ended && !c.socket.destroyed && sent < 200 << 20) {
    sent += batch.length;
    if (!c.socket.write(batch)) await Promise.race([once(c.socket, 'drain'), once(c.socket, 'close'), r.ended]);
  }
  const end = await r.ended;
  assert.equal(end.kind, 'reset', JSON.stringify(end));
  assert.match(messageOf(end), /keeps sending PING frames without reading our answers \(flood\)/);
  assert.ok(sent < 200 << 20, `the flood was not stopped after ${sent} bytes of PINGs`);
});

test('frames on stream ids they cannot be on are connection errors (PROTOCOL_ERROR) naming the frame', { timeout: 10_000 }, async (t) => {
  const cases: Array<[string, (id: number) => Buffer, RegExp]> = [
    ['PING on a stream', (id) => frame(FrameType.Ping, 0, id, Buffer.alloc(8)), /PING on stream 1 \(it belongs on stream 0\)/],
    ['RST_STREAM on stream 0', () => frame(FrameType.RstStream, 0, 0, Buffer.alloc(4)), /RST_STREAM on stream 0/],
    ['DATA on an even (server-initiated) stream', () => dataFrame(2, replyBytes('x')), /DATA on stream 2, which we never opened/],
    ['HEADERS on a stream we never opened', (id) => headersFrame(id + 2, RESPONSE_HEAD), /HEADERS on stream 3, which we never opened/],
  ];
  for (const [what, bad, re] of cases) {
    const peer = await rawPeer(t, (c) => c.hello());
    const r = record(wire(t, peer.port), [headersMsg]);
    const c = await peer.conn(0);
    const h = await c.next(isType(FrameType.Headers), 'HEADERS');
    c.send(bad(h.streamId));
    const end = await r.ended;
    assert.equal(end.kind, 'reset', `${what}: ${JSON.stringify(end)}`);
    assert.match(messageOf(end), re, what);
    assert.equal(await goawayCode(c), ErrorCode.ProtocolError, what);
  }
});

test('a PING ACK we did not ask for does not count as the answer to ours (idle check still times out)', { timeout: 10_000 }, async (t) => {
  // The peer answers nothing, but sends an unsolicited PING ACK right after our idle PING: the connection must
  // still be found dead.
  const peer = await rawPeer(t, (c) => {
    c.hello();
    if (c.index === 0) {
      c.onFrame((f) => {
        if (f.type === FrameType.Headers) c.send(headersFrame(f.streamId, RESPONSE_HEAD), headersFrame(f.streamId, OK_TRAILERS, true));
        if (f.type === FrameType.Ping && !(f.flags & 1)) c.send(frame(FrameType.Ping, 1, 0, Buffer.alloc(8, 0xee)));
      });
    } else {
      c.onFrame((f) => { if (f.type === FrameType.Headers) c.send(headersFrame(f.streamId, RESPONSE_HEAD), headersFrame(f.streamId, OK_TRAILERS, true)); });
    }
  });
  const client = wire(t, peer.port, { idlePingAfterMs: 0, pingTimeoutMs: 200 });
  assert.deepEqual(await record(client, [headersMsg], { closeSend: true }).ended, { kind: 'ok' });
  const second = await record(client, [headersMsg], { closeSend: true }).ended; // triggers the idle PING
  assert.ok(second.kind === 'ok' || second.kind === 'reset', JSON.stringify(second));
  // Our PING is never really answered: the client gives the connection up (had the stray ACK counted, it never would).
  await (await peer.conn(0)).closed;
  assert.deepEqual(await record(client, [headersMsg], { closeSend: true }).ended, { kind: 'ok' });
  assert.equal(peer.conns.length, 2);
});

test('trailers over our MAX_HEADER_LIST_SIZE fail that stream only; other calls on the connection go on', { timeout: 10_000 }, async (t) => {
  const peer = await rawPeer(t, (c) => c.hello());
  const client = wire(t, peer.port);
  const a = record(client, [headersMsg], { closeSend: true });
  const c = await peer.conn(0);
  const ha = await c.next(isType(FrameType.Headers), 'HEADERS of a');
  const b = record(client, [headersMsg], { closeSend: true });
  const hb = await c.next((f) => f.type === FrameType.Headers && f.streamId !== ha.streamId, 'HEADERS of b');
  // 70 KB of trailers, in a HEADERS frame and CONTINUATIONs of 16 KiB (a peer ignoring our 64 KiB limit).
  const big = Buffer.concat([OK_TRAILERS, encodeLiteral('x-big', 'v'.repeat(70_000))]);
  const pieces: Buffer[] = [];
  for (let at = 0; at < big.length; at += 16_384) pieces.push(big.subarray(at, at + 16_384));
  c.send(headersFrame(ha.streamId, RESPONSE_HEAD), ...pieces.map((p, i) =>
    frame(i === 0 ? FrameType.Headers : FrameType.Continuation, (i === 0 ? 1 : 0) | (i === pieces.length - 1 ? 4 : 0), ha.streamId, p)));
  const endA = await a.ended;
  assert.equal(endA.kind, 'reset', JSON.stringify(endA));
  assert.match(messageOf(endA), /sent a header list over 65536 bytes \(our SETTINGS_MAX_HEADER_LIST_SIZE\)/);
  const rst = await c.next((f) => f.type === FrameType.RstStream && f.streamId === ha.streamId, 'RST_STREAM of a');
  assert.equal(rst.payload.readUInt32BE(0), ErrorCode.ProtocolError);
  c.send(headersFrame(hb.streamId, RESPONSE_HEAD), headersFrame(hb.streamId, OK_TRAILERS, true));
  assert.deepEqual(await b.ended, { kind: 'ok' });
  assert.equal(c.frames.some((f) => f.type === FrameType.Goaway), false, 'the connection was not torn down');
});
