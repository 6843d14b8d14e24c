import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyChannel, type ChannelSink } from './body.js';
import { HeaderList } from './headers.js';

/** A sink that records what it got and reports itself full after `capacity` chunks until `drain()`. */
class RecordingSink implements ChannelSink {
  chunks: string[] = [];
  ended: HeaderList | undefined | 'no' = 'no';
  failed: unknown = undefined;
  calls = 0;
  #room: number;
  constructor(
    private readonly channel: BodyChannel,
    capacity = Infinity,
  ) {
    this.#room = capacity;
  }
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk.toString());
    return --this.#room > 0;
  }
  end(trailers: HeaderList | undefined): void {
    this.calls++;
    this.ended = trailers;
  }
  error(err: unknown): void {
    this.calls++;
    this.failed = err;
  }
  drain(capacity = Infinity): void {
    this.#room = capacity;
    this.channel.resume();
  }
}

describe('BodyChannel.pipeTo', () => {
  it('delivers what was queued before, then each later chunk in the producer turn, then the end with trailers', () => {
    const ch = new BodyChannel();
    ch.offer(Buffer.from('a'));
    const sink = new RecordingSink(ch);
    ch.pipeTo(sink);
    assert.deepEqual(sink.chunks, ['a']);
    ch.offer(Buffer.from('b'));
    assert.deepEqual(sink.chunks, ['a', 'b']);
    assert.equal(ch.buffered, 0);
    ch.end(new HeaderList([['x-t', '1']]));
    assert.equal(sink.calls, 1);
    assert.ok(sink.ended instanceof HeaderList);
    assert.equal((sink.ended as HeaderList).get('x-t'), '1');
  });

  it('ends at once for a body that had already ended, and an empty body ends with no chunk', () => {
    const ch = new BodyChannel();
    ch.offer(Buffer.from('whole'));
    ch.end();
    const sink = new RecordingSink(ch);
    ch.pipeTo(sink);
    assert.deepEqual(sink.chunks, ['whole']);
    assert.equal(sink.ended, undefined);
    const empty = new BodyChannel();
    empty.end();
    const s2 = new RecordingSink(empty);
    empty.pipeTo(s2);
    assert.deepEqual(s2.chunks, []);
    assert.equal(s2.calls, 1);
  });

  it('stops at a full sink, holds the end until resume, and tells the producer when it is below the high-water mark', async () => {
    const ch = new BodyChannel({ highWaterMark: 4 });
    const sink = new RecordingSink(ch, 1);
    ch.pipeTo(sink);
    assert.equal(ch.offer(Buffer.from('1')), true);
    assert.deepEqual(sink.chunks, ['1']);
    assert.equal(ch.offer(Buffer.from('22')), true);
    assert.equal(ch.offer(Buffer.from('33')), false, 'queue at the high-water mark');
    let roomy = false;
    const room = ch.room().then(() => (roomy = true));
    ch.end();
    assert.deepEqual(sink.chunks, ['1']);
    assert.equal(sink.calls, 0, 'no end while chunks wait');
    await Promise.resolve();
    assert.equal(roomy, false);
    sink.drain(1);
    assert.deepEqual(sink.chunks, ['1', '22']);
    assert.equal(sink.calls, 0);
    sink.drain();
    assert.deepEqual(sink.chunks, ['1', '22', '33']);
    assert.equal(sink.calls, 1);
    await room;
    assert.equal(roomy, true);
  });

  it('delivers a failure even to a full sink, once', () => {
    const ch = new BodyChannel();
    const sink = new RecordingSink(ch, 1);
    ch.pipeTo(sink);
    ch.offer(Buffer.from('x'));
    ch.offer(Buffer.from('y'));
    const boom = new Error('upstream reset');
    ch.fail(boom);
    assert.equal(sink.failed, boom);
    ch.end();
    sink.drain();
    assert.equal(sink.calls, 1);
    assert.deepEqual(sink.chunks, ['x']);
  });

  it('cancel tells the producer once and drops what was queued', () => {
    const ch = new BodyChannel();
    const reasons: unknown[] = [];
    ch.onCancel = (r) => reasons.push(r);
    const sink = new RecordingSink(ch, 1);
    ch.pipeTo(sink);
    ch.offer(Buffer.from('x'));
    ch.offer(Buffer.from('y'));
    ch.cancel('client left');
    ch.cancel('again');
    assert.deepEqual(reasons, ['client left']);
    assert.equal(ch.buffered, 0);
    assert.equal(ch.cancelled, true);
    sink.drain();
    assert.equal(sink.calls, 0);
  });

  it('a body is read once: pipeTo after iteration started, or twice, throws', async () => {
    const ch = new BodyChannel();
    ch.pipeTo(new RecordingSink(ch));
    assert.throws(() => ch.pipeTo(new RecordingSink(ch)), /already being read/);
    const it2 = new BodyChannel();
    it2.end();
    const iter = it2[Symbol.asyncIterator]();
    await iter.next();
    assert.throws(() => it2.pipeTo(new RecordingSink(it2)), /already being read/);
  });
});
