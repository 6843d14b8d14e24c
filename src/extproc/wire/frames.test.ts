// FrameReader: a byte stream cut anywhere gives the same frames, in order, with their payloads intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, FrameType, frame, type Frame } from './frames.js';

const payload = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const frames = [
  frame(FrameType.Settings, 0, 0),
  frame(FrameType.Headers, 4, 1, payload(40, 1)),
  frame(FrameType.Data, 0, 1, payload(16_384, 2)),
  frame(FrameType.Data, 1, 3, payload(1, 3)),
  frame(FrameType.Ping, 0, 0, payload(8, 4)),
  frame(FrameType.Data, 0, 5, payload(9_000, 5)),
];
const stream = Buffer.concat(frames);
const shape = (f: Frame) => ({ type: f.type, flags: f.flags, streamId: f.streamId, payload: Buffer.from(f.payload).toString('hex') });
const expected = frames.map((b) => shape({ type: b[3]!, flags: b[4]!, streamId: b.readUInt32BE(5), payload: b.subarray(9) }));

function readAll(cuts: number[]): ReturnType<typeof shape>[] {
  const r = new FrameReader(16_384);
  const got: ReturnType<typeof shape>[] = [];
  let at = 0;
  for (const end of [...cuts, stream.length]) {
    assert.equal(r.push(stream.subarray(at, end), (f) => (got.push(shape(f)), true)), undefined);
    at = end;
  }
  return got;
}

test('frames cut at every single position are reassembled', () => {
  for (let cut = 1; cut < stream.length; cut += 7) assert.deepEqual(readAll([cut]), expected, `cut at ${cut}`);
});

test('frames fed in small random pieces (1 to 40 000 bytes) are reassembled', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff);
  for (let round = 0; round < 200; round++) {
    const cuts: number[] = [];
    for (let at = Math.ceil(rnd() * 40); at < stream.length; at += 1 + Math.floor(rnd() * (round % 2 ? 40 : 40_000))) cuts.push(at);
    assert.deepEqual(readAll(cuts), expected, `round ${round}`);
  }
});

test('a frame over the limit is an error, whether its header arrives whole or cut', () => {
  const big = frame(FrameType.Data, 0, 1, Buffer.alloc(16_385));
  assert.match(new FrameReader(16_384).push(big, () => true) ?? '', /16385-byte frame, over our 16384-byte/);
  const r = new FrameReader(16_384);
  assert.equal(r.push(big.subarray(0, 2), () => true), undefined);
  assert.match(r.push(big.subarray(2, 20), () => true) ?? '', /16385-byte frame/);
});

test('onFrame returning false stops reading', () => {
  let n = 0;
  new FrameReader(16_384).push(stream, () => ++n < 2);
  assert.equal(n, 2);
});
