import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder, frameMessage, readGrpcStatus, decodeGrpcMessage, checkResponseHeaders } from './grpc-framing.js';

test('frames reassemble under any chunking, with several frames per chunk', { timeout: 5_000 }, () => {
  fc.assert(fc.property(
    fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
    fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
    (msgs, cuts) => {
      const wire = Buffer.concat(msgs.map((m) => frameMessage(m)));
      const d = new FrameDecoder(1024);
      const out: Buffer[] = [];
      let off = 0;
      let i = 0;
      while (off < wire.length) {
        const n = cuts[i++ % cuts.length]!;
        const r = d.push(wire.subarray(off, off + n));
        assert.equal(r.error, undefined);
        out.push(...r.messages);
        off += n;
      }
      assert.equal(d.pendingBytes, 0);
      assert.deepEqual(out.map((b) => [...b]), msgs.map((m) => [...m]));
    },
  ));
});

test('a partial frame is reported as pending', { timeout: 5_000 }, () => {
  const d = new FrameDecoder();
  assert.deepEqual(d.push(frameMessage(Buffer.from('abc')).subarray(0, 6)).messages, []);
  assert.equal(d.pendingBytes, 6); // the prefix and one payload byte
  // A stream that ends right after a prefix announcing a payload is truncated too.
  const p = new FrameDecoder();
  p.push(frameMessage(Buffer.from('abc')).subarray(0, 5));
  assert.equal(p.pendingBytes, 5);
  const partPrefix = new FrameDecoder();
  partPrefix.push(Buffer.from([0, 0]));
  assert.equal(partPrefix.pendingBytes, 2);
});

test('a message spanning chunks keeps none of them alive (it is copied), one inside a chunk is a view', { timeout: 5_000 }, () => {
  const whole = frameMessage(Buffer.from('hello world'));
  const read = Buffer.concat([whole, whole.subarray(0, 9)]); // one whole message, then the start of the next
  const d = new FrameDecoder();
  const first = d.push(read).messages;
  assert.equal(first.length, 1);
  assert.equal(first[0]!.buffer, read.buffer, 'a message inside one chunk is a view of it');
  read.fill(0, whole.length); // the caller reuses or drops its chunk: the message in progress must not depend on it
  const second = d.push(whole.subarray(9)).messages;
  assert.equal(second[0]!.toString(), 'hello world');
  // Big messages (over the preallocation size) also come out whole.
  const big = Buffer.alloc(3 << 20, 7);
  const framed = frameMessage(big);
  const b = new FrameDecoder();
  const out: Buffer[] = [];
  for (let i = 0; i < framed.length; i += 65_536) out.push(...b.push(framed.subarray(i, i + 65_536)).messages);
  assert.equal(out.length, 1);
  assert.ok(out[0]!.equals(big));
  assert.equal(b.pendingBytes, 0);
});

test('a declared length over the limit fails before buffering the payload', { timeout: 5_000 }, () => {
  const d = new FrameDecoder(10);
  const head = Buffer.from([0, 0, 0, 0, 11]);
  assert.match(d.push(head).error ?? '', /11 bytes, over the 10-byte limit/);
  assert.deepEqual(d.push(Buffer.from([0, 0, 0, 0, 1, 1])), { messages: [] });
});

test('compressed and invalid flags are errors', { timeout: 5_000 }, () => {
  assert.match(new FrameDecoder().push(Buffer.from([1, 0, 0, 0, 0])).error ?? '', /compressed/);
  assert.match(new FrameDecoder().push(Buffer.from([9, 0, 0, 0, 0])).error ?? '', /flag 9/);
});

test('grpc-status and percent-decoded grpc-message', { timeout: 5_000 }, () => {
  assert.deepEqual(readGrpcStatus({ 'grpc-status': '7', 'grpc-message': 'no%20way%20%E2%9C%93' }), { code: 7, message: 'no way ✓' });
  assert.deepEqual(readGrpcStatus({ 'grpc-status': 'x' }), { code: 2, message: '' });
  assert.equal(readGrpcStatus({}), undefined);
  assert.equal(decodeGrpcMessage('bad %ZZ and %41 and %E2'), 'bad %ZZ and A and %E2');
});

test('response header checks', { timeout: 5_000 }, () => {
  assert.equal(checkResponseHeaders({ ':status': 200, 'content-type': 'application/grpc+proto' }), undefined);
  assert.equal(checkResponseHeaders({ ':status': '200', 'content-type': 'application/grpc' }), undefined);
  assert.match(checkResponseHeaders({ ':status': 503, 'content-type': 'application/grpc' }) ?? '', /HTTP status 503/);
  assert.match(checkResponseHeaders({ ':status': 200, 'content-type': 'text/html' }) ?? '', /content-type "text\/html"/);
  assert.match(checkResponseHeaders({ ':status': 200, 'content-type': 'application/grpcx' }) ?? '', /not application\/grpc/);
});
