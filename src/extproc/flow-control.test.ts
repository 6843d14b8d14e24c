import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BACKLOG_HIGH, BACKLOG_LOW, shouldPause } from './flow-control.js';

describe('ext_proc flow control decision', { timeout: 10_000 }, () => {
  it('pauses past the high mark, resumes at the low mark, never while a reader starves', () => {
    assert.equal(shouldPause({ paused: false, backlog: BACKLOG_HIGH, starving: false }), false);
    assert.equal(shouldPause({ paused: false, backlog: BACKLOG_HIGH + 1, starving: false }), true);
    assert.equal(shouldPause({ paused: true, backlog: BACKLOG_LOW + 1, starving: false }), true);
    assert.equal(shouldPause({ paused: true, backlog: BACKLOG_LOW, starving: false }), false);
    assert.equal(shouldPause({ paused: true, backlog: 1000, starving: true }), false);
  });

  it('with nobody starving, a stalled reader never sees more than BACKLOG_HIGH + 1 queued, and reading resumes at the low mark', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom('arrive', 'read'), { maxLength: 300 }), (steps) => {
      let paused = false;
      let backlog = 0;
      for (const s of steps) {
        if (s === 'arrive' && !paused) backlog++; // answers only arrive while the stream is read
        if (s === 'read' && backlog > 0) backlog--;
        paused = shouldPause({ paused, backlog, starving: false });
        assert.ok(backlog <= BACKLOG_HIGH + 1);
        if (backlog <= BACKLOG_LOW) assert.equal(paused, false);
      }
    }));
  });

  it('whatever the backlog and history, a starving reader always gets the stream read', () => {
    fc.assert(fc.property(fc.boolean(), fc.nat(10_000), (paused, backlog) => {
      assert.equal(shouldPause({ paused, backlog, starving: true }), false);
    }));
  });
});
