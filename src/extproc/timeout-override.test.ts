import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decideOverride, MAX_OVERRIDE_MS } from './timeout-override.js';

const running = { armed: true, usedInState: false };

describe('override_message_timeout decision', { timeout: 10_000 }, () => {
  it('replaces a running timer with the requested value', () => {
    assert.deepEqual(decideOverride({ seconds: 2, nanos: 500_000_000 }, running), { apply: true, ms: 2500 });
    assert.deepEqual(decideOverride({ nanos: 1_000_000 }, running), { apply: true, ms: 1 });
    assert.deepEqual(decideOverride({ seconds: { toNumber: () => 3600 } }, running), { apply: true, ms: MAX_OVERRIDE_MS });
  });

  it('is ignored without a running timer, or a second time in the same state', () => {
    assert.equal(decideOverride({ seconds: 1 }, { armed: false, usedInState: false }).apply, false);
    const second = decideOverride({ seconds: 1 }, { armed: true, usedInState: true });
    assert.deepEqual(second, { apply: false, why: 'the timer was already overridden once in this processing state' });
  });

  it('is ignored outside [1 ms, 1 h] or when malformed', () => {
    for (const d of [{}, { nanos: 999_999 }, { seconds: 3600, nanos: 1_000_000 }, { seconds: -1 }, { nanos: -5 }, { nanos: 1_000_000_000 }]) {
      assert.equal(decideOverride(d, running).apply, false, JSON.stringify(d));
    }
  });

  it('applies exactly when armed, unused and within range', () => {
    fc.assert(fc.property(fc.integer({ min: -10, max: 4000 }), fc.integer({ min: 0, max: 999_999_999 }), fc.boolean(), fc.boolean(), (seconds, nanos, armed, used) => {
      const ms = seconds * 1000 + Math.floor(nanos / 1e6);
      const d = decideOverride({ seconds, nanos }, { armed, usedInState: used });
      assert.equal(d.apply, armed && !used && ms >= 1 && ms <= MAX_OVERRIDE_MS);
      if (d.apply) assert.equal(d.ms, ms);
    }));
  });
});
