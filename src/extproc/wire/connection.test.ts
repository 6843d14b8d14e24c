// Edge cases of tollgate's own HTTP/2 client connection (WireConnection), driven through its public entry,
// WireProcessorClient: flow control both ways, the peer's stream limit, header blocks over one frame, padding, and
// no stream left behind. Peers that break the protocol are in connection-errors.test.ts; gRPC-level edge cases in
// ../client.test.ts; real gRPC servers in test/integration/ext-proc-transport*.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { setTimeout as delay } from 'node:timers/promises';
import { WireProcessorClient } from '../client.js';
import { loopbackTarget, record } from '../test-support.js';
import type { ProcessorStream, StreamEnd } from '../transport.js';
import { ErrorCode, Flag, FrameType, Setting, frame, settings, windowUpdate } from './frames.js';
import { HpackDecoder, encodeLiteral } from './hpack.js';
import {
  MiB, headersMsg, bodyMsg, replyBytes, bodyOf, messageOf, pattern, text, decodeRequests, wire, within,
  settlesWithin, GRPC, h2Server, answerOk, readAll, rawPeer, isType, RESPONSE_HEAD, OK_TRAILERS, headersFrame,
  dataFrame, okAnswer, serveOk, goawayCode, worksAgain, windowedSender,
} from './raw-peer.test-helper.js';

// ---- 1. send-side flow control ----

test('a 300 KiB message crosses a 1 KiB peer stream window intact; send() asks to wait and drained() resolves', { timeout: 10_000 }, async (t) => {
  const body = pattern(300 * 1024);
  let got: Buffer | undefined;
  const srv = await h2Server(t, { settings: { initialWindowSize: 1024 } }, (s) => {
    void readAll(s).then((chunks) => { got = Buffer.from(decodeRequests(chunks)[0]?.requestBody?.body ?? []); answerOk(s); });
  });
  const r = record(wire(t, srv.port));
  assert.equal(r.stream.send(bodyMsg(body)), false, 'a message over the stream high-water mark asks the writer to wait');
  await r.stream.drained();
  r.stream.closeSend();
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.ok(got?.equals(body), 'the message arrived byte for byte');
});

test('a peer that stops reading holds our writer (drained() waits) until it reads again; the message arrives intact', { timeout: 10_000 }, async (t) => {
  const body = pattern(300 * 1024);
  let serverStream!: (s: http2.ServerHttp2Stream) => void;
  const arrived = new Promise<http2.ServerHttp2Stream>((r) => { serverStream = r; });
  const srv = await h2Server(t, { settings: { initialWindowSize: 1024 } }, (s) => { s.pause(); serverStream(s); });
  const r = record(wire(t, srv.port));
  assert.equal(r.stream.send(bodyMsg(body)), false);
  const drained = r.stream.drained();
  const s = await arrived;
  // The server does not read, so it gives no window back: the client must keep holding (most of) the message.
  // A short bounded wait shows drained() does not resolve meanwhile.
  assert.equal(await settlesWithin(drained, 150), false, 'drained() resolved while the peer gave no window');
  const read = readAll(s); // reading resumes the stream
  await drained;
  r.stream.closeSend();
  const requests = decodeRequests(await read);
  answerOk(s);
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.equal(requests.length, 1);
  assert.ok(Buffer.from(requests[0]!.requestBody!.body!).equals(body));
});

test('DATA frames never exceed the peer window or its max frame size, before and after its SETTINGS shrink the window', { timeout: 15_000 }, async (t) => {
  const problems: string[] = [];
  const received = new Map<number, Buffer[]>();
  const peer = await rawPeer(t, (c) => {
    c.hello([[Setting.InitialWindowSize, 1024]]);
    // Until the client acknowledges our SETTINGS it may still use the default 65,535-byte stream window (RFC 9113
    // §6.9.2: the change applies when it processes them, and it ACKs then); after that, 1,024 plus what we give back.
    let acked = false;
    const credit = new Map<number, number>();
    const used = new Map<number, number>();
    let connCredit = 65_535;
    let connUsed = 0;
    c.onFrame((f) => {
      if (f.type === FrameType.Settings && f.flags & Flag.Ack && !acked) {
        acked = true;
        for (const [id, v] of credit) credit.set(id, v + 1024 - 65_535);
      } else if (f.type === FrameType.Headers) {
        credit.set(f.streamId, acked ? 1024 : 65_535);
        used.set(f.streamId, 0);
        received.set(f.streamId, []);
      } else if (f.type === FrameType.Data) {
        const len = f.payload.length;
        if (len > 16_384) problems.push(`a ${len}-byte DATA frame`);
        const u = used.get(f.streamId)! + len;
        used.set(f.streamId, u);
        connUsed += len;
        if (u > credit.get(f.streamId)!) problems.push(`stream ${f.streamId}: ${u} bytes sent against ${credit.get(f.streamId)} of window`);
        if (connUsed > connCredit) problems.push(`connection: ${connUsed} bytes sent against ${connCredit} of window`);
        received.get(f.streamId)!.push(Buffer.from(f.payload));
        if (len > 0) {
          // Give the window back as a reader would.
          c.send(windowUpdate(f.streamId, len), windowUpdate(0, len));
          credit.set(f.streamId, credit.get(f.streamId)! + len);
          connCredit += len;
        }
        if (f.flags & Flag.EndStream) c.send(okAnswer(f.streamId));
      }
    });
  });
  const client = wire(t, peer.port);
  // The first call starts while the connection is still being dialed; the second on an established one.
  for (const [id, size] of [[1, 300 * 1024], [3, 200 * 1024 + 7]] as const) {
    const body = pattern(size);
    const r = record(client);
    assert.equal(r.stream.send(bodyMsg(body)), false);
    await r.stream.drained();
    r.stream.closeSend();
    assert.deepEqual(await r.ended, { kind: 'ok' });
    assert.ok(Buffer.from(decodeRequests(received.get(id)!)[0]!.requestBody!.body!).equals(body), `stream ${id}'s message arrived intact`);
  }
  assert.deepEqual(problems, []);
  assert.equal(peer.conns.length, 1);
});

// ---- 2. the peer's MAX_CONCURRENT_STREAMS ----

// Opened while dialing: until the server's SETTINGS arrive there is no known limit (RFC 9113 §6.5.2), and streams
// sent blind would be refused by nghttp2 with REFUSED_STREAM; the wire transport holds them until the SETTINGS
// (the node:http2 transport does not, and reports the refused ones as `connect`).
for (const warm of [true, false]) {
  test(`10 calls at once stay within the peer's MAX_CONCURRENT_STREAMS of 2 and all end ok (${warm ? 'established connection' : 'opened while dialing'})`, { timeout: 10_000 }, async (t) => {
    let open = 0;
    let max = 0;
    let arrived = 0;
    const held: http2.ServerHttp2Stream[] = [];
    const srv = await h2Server(t, { settings: { maxConcurrentStreams: 2 } }, (s, h) => {
      if (h['x-warmup']) return answerOk(s);
      open++;
      arrived++;
      max = Math.max(max, open);
      s.on('close', () => open--);
      // Each stream holds its slot until two are open (or no more will come), so a client that ignored the limit
      // would have a third open here; nghttp2 would refuse it too (REFUSED_STREAM → the call ends `connect`).
      held.push(s);
      if (open >= 2 || arrived === 10) for (const x of held.splice(0)) answerOk(x, ['r']);
    });
    const client = wire(t, srv.port);
    if (warm) assert.deepEqual(await record(client, [], { closeSend: true, metadata: { 'x-warmup': '1' } }).ended, { kind: 'ok' });
    const calls = Array.from({ length: 10 }, () => record(client, [headersMsg], { closeSend: true }));
    const ends = await Promise.all(calls.map((c) => c.ended));
    assert.deepEqual(ends, Array.from({ length: 10 }, () => ({ kind: 'ok' })));
    assert.ok(calls.every((c) => c.replies.length === 1));
    assert.equal(arrived, 10);
    assert.ok(max <= 2, `the server saw ${max} streams open at once`);
    assert.equal(srv.sessions(), 1);
  });
}

// ---- 3. header blocks over one frame ----

test('request metadata over 16 KiB goes out as HEADERS + CONTINUATION and reaches a node:http2 server whole', { timeout: 5000 }, async (t) => {
  let seen: http2.IncomingHttpHeaders = {};
  const srv = await h2Server(t, {}, (s, h) => { seen = h; answerOk(s); });
  const metadata = Object.fromEntries([0, 1, 2, 3].map((i) => [`x-big-${i}`, text(6000 + i)]));
  const r = record(wire(t, srv.port), [headersMsg], { metadata, closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  for (const [k, v] of Object.entries(metadata)) assert.equal(seen[k], v, k);
});

test('our CONTINUATION frames follow the HEADERS frame back to back, within the max frame size', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, serveOk);
  const metadata = Object.fromEntries([0, 1, 2, 3].map((i) => [`x-big-${i}`, text(6000 + i)]));
  assert.deepEqual(await record(wire(t, peer.port), [headersMsg], { metadata, closeSend: true }).ended, { kind: 'ok' });
  const frames = (await peer.conn(0)).frames;
  const first = frames.findIndex(isType(FrameType.Headers, 1));
  assert.equal(frames[first]!.flags & Flag.EndHeaders, 0, 'the HEADERS frame does not end the block');
  const parts = [frames[first]!.payload];
  let i = first + 1;
  for (; ; i++) {
    const f = frames[i]!;
    assert.equal(f.type, FrameType.Continuation, 'nothing comes between the frames of a header block');
    assert.equal(f.streamId, 1);
    parts.push(f.payload);
    if (f.flags & Flag.EndHeaders) break;
  }
  assert.ok(parts.length >= 2 && parts.every((p) => p.length <= 16_384));
  const fields = new Map(new HpackDecoder(4096, MiB).decode(Buffer.concat(parts)));
  for (const [k, v] of Object.entries(metadata)) assert.equal(fields.get(k), v, k);
});

test('trailers with a 30 KB grpc-message (node sends CONTINUATION) give grpc_status with the whole message', { timeout: 5000 }, async (t) => {
  const message = text(30_000);
  const srv = await h2Server(t, {}, (s) => {
    s.respond(GRPC, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '13', 'grpc-message': message }));
    s.end(replyBytes('before'));
  });
  const r = record(wire(t, srv.port), [headersMsg], { closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'grpc_status', code: 13, message });
  assert.deepEqual(r.replies.map(bodyOf), ['before']);
});

test('a padded trailer block split mid-string over HEADERS + 2 CONTINUATION frames is reassembled', { timeout: 5000 }, async (t) => {
  const message = text(30_000);
  const block = Buffer.concat([encodeLiteral('grpc-status', '13'), encodeLiteral('grpc-message', message)]);
  const peer = await rawPeer(t, (c) => {
    c.hello();
    c.onFrame((f) => {
      if (f.type !== FrameType.Headers) return;
      const a = block.subarray(0, 9_999);
      const padded = Buffer.concat([Buffer.from([200]), a, Buffer.alloc(200)]);
      c.send(
        headersFrame(f.streamId, RESPONSE_HEAD),
        dataFrame(f.streamId, replyBytes('before')),
        frame(FrameType.Headers, Flag.EndStream | Flag.Padded, f.streamId, padded),
        frame(FrameType.Continuation, 0, f.streamId, block.subarray(9_999, 20_001)),
        frame(FrameType.Continuation, Flag.EndHeaders, f.streamId, block.subarray(20_001)),
      );
    });
  });
  const r = record(wire(t, peer.port), [headersMsg], { closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'grpc_status', code: 13, message });
  assert.deepEqual(r.replies.map(bodyOf), ['before']);
});

// ---- 4. padding ----

test('replies and trailers from a server padding every frame to the maximum decode correctly', { timeout: 10_000 }, async (t) => {
  const big = text(100_000);
  let n = 0;
  const srv = await h2Server(t, { paddingStrategy: http2.constants.PADDING_STRATEGY_MAX }, (s) => {
    if (++n === 2) return void s.respond({ ':status': 200, 'grpc-status': '9', 'grpc-message': 'padded%20end' }, { endStream: true });
    answerOk(s, ['a', big, 'c'], { 'x-trailer': 'yes' });
  });
  const client = wire(t, srv.port);
  const r = record(client, [headersMsg], { closeSend: true });
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.deepEqual(r.replies.map(bodyOf), ['a', big, 'c']);
  assert.deepEqual(await record(client, [headersMsg], { closeSend: true }).ended, { kind: 'grpc_status', code: 9, message: 'padded end' });
});

test('padding counts against our window and is given back at once, so padding-heavy DATA cannot stall a paused call', { timeout: 10_000 }, async (t) => {
  // 5,000 replies of 1 byte, one per frame padded with 255 bytes: 1.3 MB on the wire, more than our 1 MiB stream
  // window. A paused call gives no window back for its data, but padding is never delivered and must be returned.
  const bodies = Array.from({ length: 5_000 }, (_, i) => String(i % 10));
  let sender!: ReturnType<typeof windowedSender>;
  const peer = await rawPeer(t, (c) => {
    c.hello();
    sender = windowedSender(c);
    c.onFrame((f) => {
      if (!isType(FrameType.Headers, 1)(f)) return;
      c.send(headersFrame(1, RESPONSE_HEAD));
      // One reply per frame: 6 bytes of gRPC frame + 1 pad-length byte + 255 of padding.
      void bodies.reduce((p, b) => p.then(() => sender.send(1, replyBytes(b), 255)), Promise.resolve())
        .then(() => c.send(headersFrame(1, OK_TRAILERS, true)));
    });
  });
  const r = record(wire(t, peer.port), [headersMsg], { closeSend: true });
  r.stream.pause!();
  // The whole stream fits in the window once padding is returned; without that it would stall at 1 MiB.
  await within((await peer.conn(0)).next((f) => f.type === FrameType.WindowUpdate && f.streamId === 1, 'a stream WINDOW_UPDATE'), 5000, 'padding given back');
  assert.equal(r.replies.length, 0, 'nothing is delivered while paused');
  r.stream.resume!();
  assert.deepEqual(await r.ended, { kind: 'ok' });
  assert.deepEqual(r.replies.map(bodyOf), bodies);
  assert.ok(sender.stats(1).sent > MiB, 'more than one window of bytes went through a paused call');
});

test('invalid padding (pad length over the payload) is a connection PROTOCOL_ERROR', { timeout: 5000 }, async (t) => {
  const peer = await rawPeer(t, (c) => {
    if (c.index > 0) return serveOk(c);
    c.hello();
    void c.next(isType(FrameType.Headers, 1), 'HEADERS').then(() => {
      c.send(headersFrame(1, RESPONSE_HEAD), frame(FrameType.Data, Flag.Padded, 1, Buffer.from([10, 1, 2, 3])));
    });
  });
  const client = wire(t, peer.port);
  const end = await record(client, [headersMsg]).ended;
  assert.equal(end.kind, 'reset', JSON.stringify(end));
  assert.match(messageOf(end), /invalid padding/);
  assert.equal(await goawayCode(await peer.conn(0)), ErrorCode.ProtocolError);
  await worksAgain(client, peer, 2);
});

/**
 * Opens a call that sends request headers, half-closes, and pauses itself in its first onMessage; resolves once
 * it has paused, with the replies so far and the end to come.
 */
async function pausedAfterFirstReply(client: WireProcessorClient): Promise<{ stream: ProcessorStream; got: string[]; ended: Promise<StreamEnd> }> {
  const got: string[] = [];
  let paused!: () => void;
  const isPaused = new Promise<void>((r) => { paused = r; });
  let onEnd!: (e: StreamEnd) => void;
  const ended = new Promise<StreamEnd>((r) => { onEnd = r; });
  const stream: ProcessorStream = client.open({
    onMessage: (m) => {
      got.push(bodyOf(m));
      if (got.length === 1) { stream.pause!(); paused(); }
    },
    onEnd,
  });
  stream.send(headersMsg);
  stream.closeSend();
  await isPaused;
  return { stream, got, ended };
}

// ---- 6. receive-side flow control ----

test('a paused call holds a flow-controlled peer after exactly one 1 MiB stream window; resume() lets 3 MiB through in order', { timeout: 20_000 }, async (t) => {
  const bodies = Array.from({ length: 96 }, (_, i) => `${i}:`.padEnd(32 * 1024, String.fromCharCode(97 + (i % 26))));
  let sender!: ReturnType<typeof windowedSender>;
  let allSent = false;
  const peer = await rawPeer(t, (c) => {
    c.hello();
    sender = windowedSender(c);
    void c.next(isType(FrameType.Headers, 1), 'HEADERS 1').then(async () => {
      c.send(headersFrame(1, RESPONSE_HEAD));
      await sender.send(1, Buffer.concat(bodies.map(replyBytes)));
      allSent = true;
      c.send(headersFrame(1, OK_TRAILERS, true));
    }, () => {});
  });
  const { stream, got, ended } = await pausedAfterFirstReply(wire(t, peer.port));
  await sender.stalled();
  assert.deepEqual(sender.stats(1), { window: 0, granted: MiB, sent: MiB }, 'the peer was allowed one stream window and used it');
  // While paused nothing more is granted: a short bounded wait shows no WINDOW_UPDATE for the stream arrives.
  const update = (await peer.conn(0)).next(isType(FrameType.WindowUpdate, 1), 'a stream WINDOW_UPDATE');
  update.catch(() => {});
  assert.equal(await settlesWithin(update, 150), false, 'a WINDOW_UPDATE came while paused');
  assert.equal(allSent, false);
  assert.equal(got.length, 1);
  stream.resume!();
  assert.deepEqual(await ended, { kind: 'ok' });
  assert.equal(allSent, true);
  assert.deepEqual(got, bodies);
});

test('a paused call keeps a node:http2 server from finishing a 3 MiB answer until resume()', { timeout: 20_000 }, async (t) => {
  const bodies = Array.from({ length: 96 }, (_, i) => `${i}:`.padEnd(32 * 1024, 'y'));
  let finished = false;
  const srv = await h2Server(t, {}, (s) => {
    s.respond(GRPC, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
    for (const b of bodies) s.write(replyBytes(b));
    s.end(() => { finished = true; });
  });
  const { stream, got, ended } = await pausedAfterFirstReply(wire(t, srv.port));
  // The server can write one window (1 MiB) and no more: its end callback must not fire while we are paused.
  await delay(200);
  assert.equal(finished, false, 'the server wrote all 3 MiB while the call was paused');
  assert.equal(got.length, 1);
  stream.resume!();
  assert.deepEqual(await ended, { kind: 'ok' });
  assert.equal(finished, true);
  assert.deepEqual(got, bodies);
});

// ---- 7. no leak ----

test('2,000 sequential calls on one connection end ok and leave no stream behind (close(false) is prompt)', { timeout: 60_000 }, async (t) => {
  let n = 0;
  // Changing response headers and trailers keep node's HPACK encoder inserting and evicting in its dynamic table.
  const srv = await h2Server(t, {}, (s) => {
    n++;
    s.respond({ ...GRPC, 'x-call': `call-${n}` }, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', 'x-seq': `seq-${n}-${'z'.repeat(n % 97)}` }));
    s.end(replyBytes(String(n)));
  });
  const client = new WireProcessorClient(loopbackTarget(srv.port));
  t.after(() => client.close(true));
  for (let i = 1; i <= 2000; i++) {
    const r = record(client, [headersMsg], { closeSend: i % 2 === 0 });
    const end = await r.ended;
    if (end.kind !== 'ok' || r.replies.length !== 1 || bodyOf(r.replies[0]!) !== String(i)) {
      assert.fail(`call ${i}: ${JSON.stringify(end)}, ${r.replies.length} replies`);
    }
  }
  assert.equal(srv.sessions(), 1);
  // close(false) waits for open streams; the connection's own fallback destroys a lingering socket after 1 s, so
  // resolving well before that means no stream was left open and the socket closed cleanly.
  const t0 = performance.now();
  await client.close(false);
  const took = performance.now() - t0;
  assert.ok(took < 500, `close(false) took ${Math.round(took)} ms`);
});
