import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DRAIN_MS, drainDeadlineMs } from './shutdown.js';

test('drain deadline comes from CONNECTION_TERMINATION_DEADLINE', () => {
  assert.equal(drainDeadlineMs({}), DEFAULT_DRAIN_MS);
  assert.equal(drainDeadlineMs({ CONNECTION_TERMINATION_DEADLINE: '5s' }), 5000);
  assert.equal(drainDeadlineMs({ CONNECTION_TERMINATION_DEADLINE: '250ms' }), 250);
  assert.equal(drainDeadlineMs({ CONNECTION_TERMINATION_DEADLINE: '2' }), 2000);
  assert.equal(drainDeadlineMs({ CONNECTION_TERMINATION_DEADLINE: 'soon' }), undefined);
});
