import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyChannel } from './body.js';
import { HeaderList } from './headers.js';

async function collect(body: AsyncIterable<Buffer>): Promise<string> {
  let s = '';
  for await (const c of body) s += c.toString();
  return s;
}

test('takeComplete hands over every chunk of an ended body once, with its trailers', async () => {
  const ch = new BodyChannel();
  void ch.push(Buffer.from('ab'));
  void ch.push(Buffer.from('cd'));
  ch.end(new HeaderList([['x-t', '1']]));
  const chunks = ch.takeComplete();
  assert.deepEqual(chunks?.map((c) => c.toString()), ['ab', 'cd']);
  assert.equal(ch.buffered, 0);
  assert.equal(ch.trailers()?.get('x-t'), '1');
  assert.equal(ch.takeComplete(), undefined, 'a second take gets nothing');
  await assert.rejects(collect(ch), /already being read/);
});

test('takeComplete leaves a body that has not ended, failed or started alone', async () => {
  const open = new BodyChannel();
  void open.push(Buffer.from('x'));
  assert.equal(open.takeComplete(), undefined);
  open.end();
  assert.equal(await collect(open), 'x', 'the chunk is still there for the reader');

  const failed = new BodyChannel();
  failed.fail(new Error('boom'));
  assert.equal(failed.takeComplete(), undefined);
  await assert.rejects(collect(failed), /boom/);

  const started = new BodyChannel();
  void started.push(Buffer.from('a'));
  const it = started[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.toString(), 'a');
  started.end();
  assert.equal(started.takeComplete(), undefined, 'a body being read is not taken');
  assert.equal((await it.next()).done, true);
});
