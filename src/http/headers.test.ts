import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeaderList } from './headers.js';

const list = (): HeaderList =>
  new HeaderList([
    ['A', '1'],
    ['set-cookie', 'x=1'],
    ['b', '2'],
    ['Set-Cookie', 'y=2'],
    ['a', '3'],
  ]);

describe('HeaderList', () => {
  it('lower-cases names and keeps order and repeats', () => {
    const h = list();
    assert.equal(h.size, 5);
    assert.deepEqual(h.entries(), [
      ['a', '1'],
      ['set-cookie', 'x=1'],
      ['b', '2'],
      ['set-cookie', 'y=2'],
      ['a', '3'],
    ]);
    assert.equal(h.get('A'), '1');
    assert.deepEqual(h.getAll('SET-COOKIE'), ['x=1', 'y=2']);
    assert.equal(h.has('B'), true);
    assert.equal(h.has('c'), false);
    assert.equal(h.get('c'), undefined);
    assert.deepEqual([...h], h.entries());
  });

  it('set replaces every value at the first position; delete removes all; version counts changes only', () => {
    const h = list();
    const v0 = h.version;
    h.set('a', 'new');
    assert.deepEqual(h.toFlat(), ['a', 'new', 'set-cookie', 'x=1', 'b', '2', 'set-cookie', 'y=2']);
    h.set('c', '4');
    assert.deepEqual(h.toFlat().slice(-2), ['c', '4']);
    assert.equal(h.delete('set-cookie'), true);
    assert.deepEqual(h.toFlat(), ['a', 'new', 'b', '2', 'c', '4']);
    const v1 = h.version;
    assert.ok(v1 > v0);
    assert.equal(h.delete('nope'), false);
    assert.equal(h.version, v1, 'a delete that removed nothing is no change');
    h.append('B', '5');
    assert.deepEqual(h.getAll('b'), ['2', '5']);
    assert.equal(h.size, 4);
  });

  it('clone and toFlat are copies; flatView is the live array', () => {
    const h = list();
    const c = h.clone();
    assert.equal(c.version, h.version);
    c.set('a', 'changed');
    assert.equal(h.get('a'), '1');
    const flat = h.toFlat();
    flat[1] = 'mutated';
    assert.equal(h.get('a'), '1');
    const view = h.flatView();
    h.append('z', '9');
    assert.deepEqual(view.slice(-2), ['z', '9']);
  });

  it('toObject joins repeats into arrays; flatInto skips one name; fromRaw/fromObject/adopt build the same list', () => {
    const h = list();
    assert.deepEqual(h.toObject(), { a: ['1', '3'], 'set-cookie': ['x=1', 'y=2'], b: '2' });
    assert.deepEqual(h.flatInto(['host', 'h'], 'set-cookie'), ['host', 'h', 'a', '1', 'b', '2', 'a', '3']);
    assert.deepEqual(HeaderList.fromRaw(['A', '1', 'B', '2']).entries(), [
      ['a', '1'],
      ['b', '2'],
    ]);
    assert.deepEqual(HeaderList.fromObject({ A: '1', n: 5, m: ['x', 'y'], u: undefined }).toFlat(), ['a', '1', 'n', '5', 'm', 'x', 'm', 'y']);
    assert.deepEqual(HeaderList.adopt(['a', '1']).toObject(), { a: '1' });
  });
});
