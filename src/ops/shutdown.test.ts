import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DRAIN_MS, drainDeadlineMs, drainHoldMs } from './shutdown.js';

test('drain deadline comes from CONNECTION_TERMINATION_DEADLINE', () => {
  assert.equal(drainDeadlineMs({}), DEFAULT_DRAIN_MS);
  assert.equal(drainDeadlineMs({ CONNECTION_TERMINATION_DEADLINE: '5s' }), 5000);
  assert.equal(drainDeadlineMs({ CONNECTION_TERMINATION_DEADLINE: '250ms' }), 250);
  assert.equal(drainDeadlineMs({ CONNECTION_TERMINATION_DEADLINE: '2' }), 2000);
  assert.equal(drainDeadlineMs({ CONNECTION_TERMINATION_DEADLINE: 'soon' }), undefined);
  // Past a timer's reach it is clamped, not left to fire after 1 ms.
  assert.equal(drainDeadlineMs({ CONNECTION_TERMINATION_DEADLINE: '1000h' }), 2 ** 31 - 1);
  assert.equal(drainHoldMs({ CONNECTION_MIN_TERMINATION_DEADLINE: '9999999' }), 2 ** 31 - 1);
});

test('the hold before draining comes from CONNECTION_MIN_TERMINATION_DEADLINE, default 0', () => {
  assert.equal(drainHoldMs({}), 0);
  assert.equal(drainHoldMs({ CONNECTION_MIN_TERMINATION_DEADLINE: '2s' }), 2000);
  assert.equal(drainHoldMs({ CONNECTION_MIN_TERMINATION_DEADLINE: 'x' }), undefined);
});
