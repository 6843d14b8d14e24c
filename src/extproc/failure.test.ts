import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideOnFailure, type FailureCause, type FailureInput } from './failure.js';

const cause = (kind: FailureCause['kind']): FailureCause => ({ kind, detail: `${kind} happened` });
const base: FailureInput = {
  failureMode: 'failClosed', statusOnError: 500, direction: 'request', headersForwarded: false, heldEverything: true, cause: cause('grpc_status'),
};

describe('decideOnFailure (one test per row of the decision table)', { timeout: 5_000 }, () => {
  it('failClosed rejects with statusOnError', () => {
    assert.deepEqual(decideOnFailure({ ...base, statusOnError: 503 }), { action: 'reject', status: 503, reason: 'grpc_status happened' });
  });
  it('failClosed rejects a messageTimeout with 504, not statusOnError', () => {
    assert.equal(decideOnFailure({ ...base, statusOnError: 503, cause: cause('timeout') }).status, 504);
  });
  it('failOpen continues unmodified while nothing was forwarded and everything is held', () => {
    for (const k of ['connect', 'grpc_status', 'reset', 'closed', 'timeout', 'protocol'] as const) {
      assert.equal(decideOnFailure({ ...base, failureMode: 'failOpen', cause: cause(k) }).action, 'continue-unmodified', k);
    }
  });
  it('failOpen rejects once bytes handed to the processor are no longer held', () => {
    assert.equal(decideOnFailure({ ...base, failureMode: 'failOpen', heldEverything: false }).action, 'reject');
  });
  it('failOpen rejects when the request headers were already forwarded upstream', () => {
    assert.equal(decideOnFailure({ ...base, failureMode: 'failOpen', headersForwarded: true }).action, 'reject');
  });
  it('failOpen does not cover a reply the gateway refuses to apply', () => {
    assert.equal(decideOnFailure({ ...base, failureMode: 'failOpen', cause: cause('mutation') }).action, 'reject');
  });
  it('failOpen does not cover a buffered body over maxBufferSize', () => {
    assert.equal(decideOnFailure({ ...base, failureMode: 'failOpen', cause: cause('body_too_large') }).action, 'reject');
  });
  it('after response headers reached the client the stream is aborted, in both modes', () => {
    for (const failureMode of ['failOpen', 'failClosed'] as const) {
      const d = decideOnFailure({ ...base, failureMode, direction: 'response', headersForwarded: true, cause: cause('reset') });
      assert.equal(d.action, 'abort-stream');
    }
  });
  it('before response headers go out, a response-side failure rejects (failClosed) or continues (failOpen)', () => {
    assert.equal(decideOnFailure({ ...base, direction: 'response' }).action, 'reject');
    assert.equal(decideOnFailure({ ...base, direction: 'response', failureMode: 'failOpen' }).action, 'continue-unmodified');
  });
});
