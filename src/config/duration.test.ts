import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'node:test';
import { parseDuration } from './duration.js';

describe('parseDuration', { timeout: 5000 }, () => {
  it('parses agentgateway duration strings to milliseconds', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('10s'), 10_000);
    assert.equal(parseDuration('1m'), 60_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('0s'), 0);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '10', 's', '10x', '10 s', '-1s', '1s ', 'ms10', '1d']) {
      assert.equal(parseDuration(bad), undefined, bad);
    }
  });
});


describe('parseDuration properties', { timeout: 10_000 }, () => {
  it('n<unit> is n times the unit, and segments add up', () => {
    const unit = fc.constantFrom<[string, number]>(['ms', 1], ['s', 1000], ['m', 60_000], ['h', 3_600_000]);
    fc.assert(
      fc.property(fc.nat(100_000), unit, fc.nat(1000), (n, [u, ms], extra) => {
        return parseDuration(`${n}${u}`) === n * ms && parseDuration(`${n}${u}${extra}ms`) === n * ms + extra;
      }),
    );
  });
});
