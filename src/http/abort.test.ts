import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestAbort, signalSource } from './abort.js';

test('RequestAbort: callbacks run once, removed ones do not, first reason wins', { timeout: 5_000 }, () => {
  const a = new RequestAbort();
  const seen: string[] = [];
  a.onAbort(() => seen.push('one'));
  const off = a.onAbort(() => seen.push('removed'));
  off();
  a.abort('first');
  a.abort('second');
  assert.deepEqual(seen, ['one']);
  assert.equal(a.aborted, true);
  assert.equal(a.reason, 'first');
});

test('RequestAbort: the signal is made on demand and follows the abort, before or after it was asked for', { timeout: 5_000 }, () => {
  const early = new RequestAbort();
  const s = early.signal;
  assert.equal(s.aborted, false);
  early.abort('gone');
  assert.equal(s.aborted, true);
  assert.equal(s.reason, 'gone');
  const late = new RequestAbort();
  late.abort('late');
  assert.equal(late.signal.aborted, true);
  assert.equal(late.signal.reason, 'late');
  const noReason = new RequestAbort();
  noReason.abort();
  assert.equal((noReason.reason as Error).name, 'AbortError');
});

test('signalSource adapts an AbortSignal', { timeout: 5_000 }, () => {
  const ac = new AbortController();
  const src = signalSource(ac.signal);
  let calls = 0;
  src.onAbort(() => calls++);
  const off = src.onAbort(() => calls += 10);
  off();
  ac.abort('x');
  assert.equal(calls, 1);
  assert.equal(src.aborted, true);
  assert.equal(src.reason, 'x');
});
