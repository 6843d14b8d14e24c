// Hand-written HTTP/2 peers that break the protocol: each must end the call with a named cause (and the GOAWAY code
// RFC 9113 asks for) and leave the client usable on a new connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { record } from '../test-support.js';
import { ErrorCode, Flag, FrameType, Setting, frame, goaway, rstStream, settings, windowUpdate } from './frames.js';
import { HpackDecoder } from './hpack.js';
import {
  MiB, FLOW_CONTROL_ERROR, headersMsg, bodyMsg, replyBytes, bodyOf, messageOf, pattern, text, wire, within,
  h2Server, answerOk, rawPeer, isType, RESPONSE_HEAD, OK_TRAILERS, headersFrame, dataFrame, okAnswer, serveOk,
  goawayCode, worksAgain, type Scope,
} from './raw-peer.test-helper.js';

// ---- 5. hand-written peers that break the protocol ----

test('a peer that accepts but never sends SETTINGS: connect "timed out", then a new connection works', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => { if (c.index > 0) serveOk(c); });
  const client = wire(t, peer.port, { connectTimeoutMs: 200, backoffBaseMs: 0 });
  const r = record(client, [headersMsg]);
  const end = await r.ended;
  assert.equal(end.kind, 'connect', JSON.stringify(end));
  assert.match(messageOf(end), /timed out after 200 ms/);
  assert.deepEqual(r.violations, []);
  assert.equal((await peer.conn(0)).prefaceOk, true);
  await worksAgain(client, peer, 2);
});

test('a peer whose first frame is not SETTINGS: connect naming SETTINGS, GOAWAY(PROTOCOL_ERROR)', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => {
    if (c.index > 0) return serveOk(c);
    c.send(frame(FrameType.Ping, 0, 0, Buffer.alloc(8)));
  });
  const client = wire(t, peer.port, { backoffBaseMs: 0 });
  const end = await record(client, [headersMsg]).ended;
  assert.ok(end.kind === 'connect' || end.kind === 'reset', JSON.stringify(end));
  assert.match(messageOf(end), /SETTINGS/);
  assert.equal(await goawayCode(await peer.conn(0)), ErrorCode.ProtocolError);
  await worksAgain(client, peer, 2);
});

/**
 * A peer that answers SETTINGS, waits for the client's ACK and first HEADERS, then sends `bad`; every later
 * connection behaves. `together` sends `bad` in the same write as the SETTINGS instead.
 */
async function misbehavingPeer(t: Scope, bad: Buffer, together = false) {
  return rawPeer(t, (c) => {
    if (c.index > 0) return serveOk(c);
    if (together) return c.send(settings([]), bad);
    c.hello();
    void Promise.all([c.next((f) => f.type === FrameType.Settings && (f.flags & Flag.Ack) !== 0, 'SETTINGS ACK'), c.next(isType(FrameType.Headers, 1), 'HEADERS')])
      .then(() => c.send(bad), () => {});
  });
}

const connectionErrors: Array<[string, Buffer, RegExp, number]> = [
  ['a frame over 16,384 bytes', dataFrame(1, Buffer.alloc(16_385)), /16385-byte frame, over our 16384-byte SETTINGS_MAX_FRAME_SIZE/, ErrorCode.FrameSizeError],
  ['an undecodable header block (index 0)', headersFrame(1, Buffer.from([0x80])), /cannot decode.*index 0/, ErrorCode.CompressionError],
  ['PUSH_PROMISE', frame(FrameType.PushPromise, Flag.EndHeaders, 1, Buffer.from([0, 0, 0, 2, 0x82])), /PUSH_PROMISE/, ErrorCode.ProtocolError],
  ['a connection WINDOW_UPDATE of 0', windowUpdate(0, 0), /WINDOW_UPDATE of 0/, ErrorCode.ProtocolError],
  ['DATA on stream 0', dataFrame(0, Buffer.from('x')), /DATA on stream 0/, ErrorCode.ProtocolError],
];

for (const [name, bad, re, code] of connectionErrors) {
  test(`${name}: the call ends reset naming it, we send GOAWAY(${code}), and a new connection works`, { timeout: 5000 }, async (t) => {
    const peer = await misbehavingPeer(t, bad);
    const client = wire(t, peer.port);
    const r = record(client, [headersMsg]);
    const end = await r.ended;
    assert.equal(end.kind, 'reset', JSON.stringify(end));
    assert.match(messageOf(end), re);
    assert.deepEqual(r.violations, []);
    assert.equal(await goawayCode(await peer.conn(0)), code);
    await worksAgain(client, peer, 2);
  });
}

// Bug: #protocolError writes the GOAWAY with socket.write() and then destroys the socket. When something was already
// written in the same tick (here the SETTINGS ACK for the SETTINGS that arrived in the same read), the socket is
// corked until next tick, so the GOAWAY sits in the cork buffer and destroy() discards it.
test('the GOAWAY is sent even when the bad frame arrives in the same read as the SETTINGS (socket corked)', { timeout: 5000 }, async (t) => {
  const peer = await misbehavingPeer(t, dataFrame(1, Buffer.alloc(16_385)), true);
  const client = wire(t, peer.port);
  const end = await record(client, [headersMsg]).ended;
  assert.equal(end.kind, 'reset', JSON.stringify(end));
  assert.match(messageOf(end), /16385-byte frame/);
  assert.equal(await goawayCode(await peer.conn(0)), ErrorCode.FrameSizeError);
});

test('DATA beyond our 1 MiB stream window on a paused call: FLOW_CONTROL_ERROR (GOAWAY), the call ends reset naming it', { timeout: 10_000 }, async (t) => {
  const body = text(16_000);
  const chunk = replyBytes(body);
  const stream = Buffer.concat(Array.from({ length: 70 }, () => chunk));
  const peer = await misbehavingPeer(t, Buffer.concat([
    headersFrame(1, RESPONSE_HEAD),
    // 65 full frames: one past the 1 MiB window (the peer ignores that it got no WINDOW_UPDATE).
    ...Array.from({ length: 65 }, (_, i) => dataFrame(1, stream.subarray(i * 16_384, (i + 1) * 16_384))),
  ]));
  const client = wire(t, peer.port);
  const r = record(client, [headersMsg]);
  r.stream.pause!(); // nothing is consumed, so no window is given back
  assert.equal(await goawayCode(await peer.conn(0)), FLOW_CONTROL_ERROR);
  // A paused call whose connection failed ends only on resume(), after the replies it holds.
  r.stream.resume!();
  const end = await r.ended;
  assert.equal(end.kind, 'reset', JSON.stringify(end));
  assert.match(messageOf(end), /overran stream 1's flow-control window/);
  assert.ok(r.replies.length >= 60, `${r.replies.length} replies delivered before the error`);
  assert.ok(r.replies.every((m) => bodyOf(m) === body));
  await worksAgain(client, peer, 2);
});

test('a PING from the peer is answered with a PING ACK carrying the same 8 bytes', { timeout: 5000 }, async (t) => {
  const opaque = Buffer.from([1, 2, 3, 4, 0xfd, 0xfe, 0xff, 0]);
  const peer = await rawPeer(t, (c) => {
    c.hello();
    void c.next(isType(FrameType.Headers, 1), 'HEADERS').then(async () => {
      c.send(frame(FrameType.Ping, 0, 0, opaque));
      await c.next((f) => f.type === FrameType.Ping && (f.flags & Flag.Ack) !== 0, 'PING ACK');
      c.send(okAnswer(1));
    }, () => {});
  });
  const client = wire(t, peer.port);
  assert.deepEqual(await record(client, [headersMsg], { closeSend: true }).ended, { kind: 'ok' });
  const ack = await (await peer.conn(0)).next((f) => f.type === FrameType.Ping && (f.flags & Flag.Ack) !== 0, 'PING ACK');
  assert.equal(ack.streamId, 0);
  assert.ok(ack.payload.equals(opaque));
});

test('after the peer sets HEADER_TABLE_SIZE 0, our next header block starts with a table size update to 0', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => {
    c.hello([[Setting.HeaderTableSize, 0]]);
    const answered = new Set<number>();
    c.onFrame((f) => { if (f.type === FrameType.Headers && !answered.has(f.streamId)) { answered.add(f.streamId); c.send(okAnswer(f.streamId)); } });
  });
  const client = wire(t, peer.port);
  assert.deepEqual(await record(client, [headersMsg], { closeSend: true }).ended, { kind: 'ok' });
  const conn = await peer.conn(0);
  await conn.next((f) => f.type === FrameType.Settings && (f.flags & Flag.Ack) !== 0, 'our SETTINGS acknowledged');
  assert.deepEqual(await record(client, [headersMsg], { closeSend: true, metadata: { 'x-a': 'b' } }).ended, { kind: 'ok' });
  const h = await conn.next(isType(FrameType.Headers, 3), 'HEADERS on stream 3');
  assert.equal(h.flags & (Flag.Padded | Flag.Priority), 0);
  assert.equal(h.payload[0], 0x20);
  const fields = new Map(new HpackDecoder(0).decode(h.payload)); // a decoder whose table is 0 accepts it
  assert.equal(fields.get(':method'), 'POST');
  assert.equal(fields.get('x-a'), 'b');
});

test('a node:http2 server with headerTableSize 0 works end to end', { timeout: 5000 }, async (t) => {
  const srv = await h2Server(t, { settings: { headerTableSize: 0 } }, (s, h) => answerOk(s, [String(h['x-n'])], { 'x-n': String(h['x-n']) }));
  const client = wire(t, srv.port);
  for (let i = 0; i < 20; i++) {
    const r = record(client, [headersMsg], { closeSend: true, metadata: { 'x-n': String(i), traceparent: `00-${i}` } });
    assert.deepEqual(await r.ended, { kind: 'ok' });
    assert.deepEqual(r.replies.map(bodyOf), [String(i)]);
  }
});

test('GOAWAY(NO_ERROR, last 1) with streams 1 and 3 open: 1 completes, 3 ends connect, the next call dials anew', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => {
    if (c.index > 0) return serveOk(c);
    c.hello();
    void Promise.all([c.next(isType(FrameType.Headers, 1), 'HEADERS 1'), c.next(isType(FrameType.Headers, 3), 'HEADERS 3')])
      .then(() => c.send(goaway(1, ErrorCode.NoError), okAnswer(1, ['one'])), () => {});
  });
  const client = wire(t, peer.port);
  const one = record(client, [headersMsg]);
  const three = record(client, [headersMsg]);
  const end3 = await three.ended;
  assert.equal(end3.kind, 'connect', JSON.stringify(end3));
  assert.match(messageOf(end3), /refused the stream \(GOAWAY NO_ERROR\)/);
  assert.deepEqual(await one.ended, { kind: 'ok' });
  assert.deepEqual(one.replies.map(bodyOf), ['one']);
  await (await peer.conn(0)).closed; // the drained connection is closed once its last stream is done
  await worksAgain(client, peer, 2);
  assert.deepEqual((await peer.conn(0)).headerStreams(), [1, 3], 'no stream was opened after the GOAWAY');
});

test('RST_STREAM(REFUSED_STREAM) ends the call connect, RST_STREAM(INTERNAL_ERROR) reset; the connection stays', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => {
    c.hello();
    c.onFrame((f) => {
      if (f.type !== FrameType.Headers) return;
      if (f.streamId === 1) c.send(rstStream(1, ErrorCode.RefusedStream));
      else if (f.streamId === 3) c.send(headersFrame(3, RESPONSE_HEAD), rstStream(3, ErrorCode.InternalError));
      else c.send(okAnswer(f.streamId));
    });
  });
  const client = wire(t, peer.port);
  const refused = await record(client, [headersMsg]).ended;
  assert.equal(refused.kind, 'connect', JSON.stringify(refused));
  assert.match(messageOf(refused), /REFUSED_STREAM/);
  const reset = await record(client, [headersMsg]).ended;
  assert.equal(reset.kind, 'reset', JSON.stringify(reset));
  assert.match(messageOf(reset), /reset the stream \(INTERNAL_ERROR\)/);
  await worksAgain(client, peer, 1);
});

test('a stream WINDOW_UPDATE of 0 resets that stream (RST_STREAM PROTOCOL_ERROR); the connection stays', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => {
    c.hello();
    c.onFrame((f) => {
      if (f.type !== FrameType.Headers) return;
      c.send(f.streamId === 1 ? windowUpdate(1, 0) : okAnswer(f.streamId));
    });
  });
  const client = wire(t, peer.port);
  const end = await record(client, [headersMsg]).ended;
  assert.equal(end.kind, 'reset', JSON.stringify(end));
  assert.match(messageOf(end), /invalid WINDOW_UPDATE.*PROTOCOL_ERROR/);
  const rst = await (await peer.conn(0)).next(isType(FrameType.RstStream, 1), 'RST_STREAM on stream 1');
  assert.equal(rst.payload.readUInt32BE(0), ErrorCode.ProtocolError);
  await worksAgain(client, peer, 1);
});

// Bug: in #onGoaway, the streams above the last stream id are forgotten before the waiting ones are refused, and
// #forget starts a waiting stream in the slot it frees: a HEADERS goes out after the GOAWAY (RFC 9113 §6.8 forbids
// it), on an id the peer has said it will not process, so that call is never answered and hangs.
test('a GOAWAY refusing the open stream does not start a waiting one on that connection', { timeout: 3000 }, async (t) => {
  const peer = await rawPeer(t, (c) => {
    c.hello([[Setting.MaxConcurrentStreams, 1]]);
    void c.next(isType(FrameType.Headers, 1), 'HEADERS 1').then(() => c.send(goaway(0, ErrorCode.NoError)), () => {});
  });
  const client = wire(t, peer.port);
  // Let the connection learn the limit first, so the later calls wait for a slot.
  const first = record(client, [headersMsg]);
  await (await peer.conn(0)).next((f) => f.type === FrameType.Settings && (f.flags & Flag.Ack) !== 0, 'SETTINGS ACK');
  const waiting = [record(client, [headersMsg]), record(client, [headersMsg])];
  const ends = await Promise.allSettled([first, ...waiting].map((c) => within(c.ended, 1000, 'the call ends')));
  assert.deepEqual((await peer.conn(0)).headerStreams(), [1], 'no HEADERS after the GOAWAY');
  assert.deepEqual(ends.map((e) => (e.status === 'fulfilled' ? e.value.kind : String(e.reason))), ['connect', 'connect', 'connect']);
});

test('a GOAWAY refusing the open stream: waiting calls end connect, the peer sees no new stream (raw check)', { timeout: 5000 }, async (t) => {
  // The same as above with one waiting call, which the GOAWAY refuses before any slot frees: this part works.
  const peer = await rawPeer(t, (c) => {
    if (c.index > 0) return serveOk(c);
    c.hello([[Setting.MaxConcurrentStreams, 1]]);
    void c.next(isType(FrameType.Headers, 1), 'HEADERS 1').then(() => c.send(goaway(1, ErrorCode.NoError), okAnswer(1)), () => {});
  });
  const client = wire(t, peer.port);
  const first = record(client, [headersMsg]);
  await (await peer.conn(0)).next((f) => f.type === FrameType.Settings && (f.flags & Flag.Ack) !== 0, 'SETTINGS ACK');
  const second = record(client, [headersMsg]);
  const end = await second.ended;
  assert.equal(end.kind, 'connect', JSON.stringify(end));
  assert.match(messageOf(end), /GOAWAY NO_ERROR/);
  assert.deepEqual(await first.ended, { kind: 'ok' });
  assert.deepEqual((await peer.conn(0)).headerStreams(), [1]);
  await worksAgain(client, peer, 2);
});

// Bug: #onGoaway marks waiting streams closed and reports them lost without waking their drain waiters (#lose and
// #forget do wake them), so a drained() taken while the stream waited for a slot never resolves. WireCall.drained()
// promises "callers never wait forever".
test('drained() of a call refused by GOAWAY while it waited for a slot resolves', { timeout: 3000 }, async (t) => {
  const peer = await rawPeer(t, (c) => {
    c.hello([[Setting.MaxConcurrentStreams, 1]]);
    void c.next(isType(FrameType.Headers, 1), 'HEADERS 1').then(() => c.send(goaway(1, ErrorCode.NoError)), () => {});
  });
  const client = wire(t, peer.port);
  const first = record(client, [headersMsg]);
  await (await peer.conn(0)).next((f) => f.type === FrameType.Settings && (f.flags & Flag.Ack) !== 0, 'SETTINGS ACK');
  const second = record(client);
  assert.equal(second.stream.send(bodyMsg(pattern(100 * 1024))), false, 'more than the high-water mark waits');
  const drained = second.stream.drained();
  assert.equal((await second.ended).kind, 'connect');
  await within(drained, 1000, 'drained() of the refused call');
  first.stream.cancel();
});

// RFC 9113 §6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE change that takes a stream window over 2^31-1 is a connection
// FLOW_CONTROL_ERROR. #onSettings adds the delta to every stream window without checking.
test('a SETTINGS_INITIAL_WINDOW_SIZE change that overflows a stream window is a FLOW_CONTROL_ERROR', { timeout: 3000 }, async (t) => {
  const peer = await rawPeer(t, (c) => {
    c.hello();
    void c.next(isType(FrameType.Headers, 1), 'HEADERS 1').then(() => {
      c.send(windowUpdate(1, 0x7fff_ffff - 65_535), settings([[Setting.InitialWindowSize, 65_536]]));
    }, () => {});
  });
  const client = wire(t, peer.port);
  const end = await within(record(client).ended, 1000, 'the call ends'); // no DATA sent: the stream window is 65,535
  assert.equal(end.kind, 'reset', JSON.stringify(end));
  assert.equal(await goawayCode(await peer.conn(0)), FLOW_CONTROL_ERROR);
});

// RFC 9113 §8.1: a response starts with HEADERS; DATA first is malformed. We deliver its replies to the session
// before any response headers were checked (not gRPC, status, content-type), and only the later block fails.
test('DATA before the response HEADERS delivers no reply', { timeout: 3000 }, async (t) => {
  const peer = await rawPeer(t, (c) => {
    c.hello();
    void c.next(isType(FrameType.Headers, 1), 'HEADERS 1').then(() => {
      c.send(dataFrame(1, replyBytes('too early')), headersFrame(1, Buffer.concat([RESPONSE_HEAD, OK_TRAILERS]), true));
    }, () => {});
  });
  const r = record(wire(t, peer.port), [headersMsg]);
  const end = await r.ended;
  assert.equal(end.kind, 'reset', JSON.stringify(end));
  assert.deepEqual(r.replies.map(bodyOf), []);
});
