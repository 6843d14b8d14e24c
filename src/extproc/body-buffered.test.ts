import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BodyChannel, readAll } from '../http/body.js';
import { HeaderList } from '../http/headers.js';
import { concatBody, readPrefix, readWhole } from './body-buffered.js';
import { jsonToStruct, structToJson } from './struct.js';

function chunked(parts: string[], trailers?: HeaderList): BodyChannel {
  const b = new BodyChannel();
  for (const p of parts) b.pushNoWait(Buffer.from(p));
  b.end(trailers);
  return b;
}
const all = async (b: Parameters<typeof readAll>[0]) => (await readAll(b, 1 << 20, () => new Error('big'))).toString();

describe('buffered body reads', { timeout: 10_000 }, () => {
  it('readWhole returns the body and its trailers, or tooLarge past the limit', async () => {
    const t = new HeaderList([['x', '1']]);
    const r = await readWhole(chunked(['ab', 'cd'], t), 4);
    assert.ok(!r.tooLarge);
    assert.equal(r.data.toString(), 'abcd');
    assert.equal(r.trailers, t);
    assert.deepEqual(await readWhole(chunked(['ab', 'cde']), 4), { tooLarge: true });
  });

  it('readPrefix: a body of exactly the limit is complete; a crossing chunk is split; limit 0 sends nothing', async () => {
    const exact = await readPrefix(chunked(['ab', 'cd']), 4);
    assert.equal(exact.complete, true);
    assert.equal(exact.prefix.toString(), 'abcd');
    const split = await readPrefix(chunked(['abc', 'def', 'g']), 4);
    assert.equal(split.complete, false);
    assert.equal(split.prefix.toString(), 'abcd');
    assert.equal(await all(split.rest), 'efg');
    const zero = await readPrefix(chunked(['abc']), 0);
    assert.equal(zero.prefix.length, 0);
    assert.equal(zero.complete, false);
    assert.equal(await all(zero.rest), 'abc');
  });

  it('prefix + rest always reassemble the original (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 10 }), fc.nat({ max: 40 }), async (parts, limit) => {
        const p = await readPrefix(chunked(parts), limit);
        assert.ok(p.prefix.length <= limit);
        assert.equal(await all(concatBody(p.prefix, p.rest)), parts.join(''));
      }),
    );
  });
});

describe('Struct conversion', { timeout: 5_000 }, () => {
  it('round-trips JSON values', () => {
    const v = { s: 'x', n: 1.5, b: true, z: null, l: [1, 'a', { k: false }], o: { deep: { er: 'y' } } };
    assert.deepEqual(structToJson(jsonToStruct(v)), v);
    assert.deepEqual(structToJson(null), {});
  });
});
