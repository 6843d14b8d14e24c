// The streamed local reply (StreamedImmediateResponse) in the pure state machine: unit and property tests.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initialState, isAwaiting, replyKind, transition, type Event, type State, type Step } from './state.js';
import { run } from './state.test-helper.js';

const allowed = (): State => initialState({ localReplyAllowed: true });
const headersSent: Event = { e: 'sent', dir: 'request', phase: 'headers' };
const local = (part: 'headers' | 'body' | 'trailers', end = false): Event =>
  end ? { e: 'reply', kind: `local_${part}`, end } : { e: 'reply', kind: `local_${part}` };
const chunk = (last = false): Event => ({ e: 'sent', dir: 'request', phase: 'body', mode: 'fullDuplexStreamed', last });
const failDetail = (s: Step): string => {
  const f = s.effects.find((e) => e.k === 'fail');
  assert.ok(f && f.k === 'fail', `expected a failure, got ${JSON.stringify(s.effects)}`);
  return f.cause.detail;
};

describe('streamed local reply (state machine)', { timeout: 10_000 }, () => {
  it('replyKind names the part of a streamed_immediate_response', () => {
    assert.equal(replyKind({ streamedImmediateResponse: { headersResponse: {} } }), 'local_headers');
    assert.equal(replyKind({ streamedImmediateResponse: { bodyResponse: {} } }), 'local_body');
    assert.equal(replyKind({ streamedImmediateResponse: { trailersResponse: {} } }), 'local_trailers');
    assert.equal(replyKind({ streamedImmediateResponse: {} }), 'streamed_immediate_response');
  });

  it('headers, body chunks, then end_of_stream: every part is delivered and the stream half-closes at the end', () => {
    const s = run([headersSent, local('headers'), local('body'), local('body'), local('body', true)], allowed());
    assert.deepEqual(s.all.map((x) => x.effects.filter((e) => e.k === 'local')), [
      [], [{ k: 'local', part: 'headers', end: false }], [{ k: 'local', part: 'body', end: false }], [{ k: 'local', part: 'body', end: false }],
      [{ k: 'local', part: 'body', end: true }],
    ]);
    assert.equal(s.state.t, 'responded');
    assert.ok(s.effects.some((e) => e.k === 'closeSend'));
    assert.deepEqual(transition(s.state, { e: 'finish' }).effects.map((e) => e.k), ['cancelLater']);
  });

  it('trailers end the local reply', () => {
    const s = run([headersSent, local('headers'), local('body'), local('trailers')], allowed());
    assert.equal(s.state.t, 'responded');
    assert.deepEqual(s.effects[0], { k: 'local', part: 'trailers', end: true });
  });

  it('headers with end_of_stream are the whole reply', () => {
    const s = run([headersSent, local('headers', true)], allowed());
    assert.equal(s.state.t, 'responded');
    assert.deepEqual(s.effects.map((e) => e.k), ['local', 'disarmTimer', 'closeSend']);
  });

  it('is refused unless the modes allow it (request headers send, body none or full duplex)', () => {
    const s = run([headersSent, local('headers')], initialState());
    assert.equal(s.state.t, 'failed');
    assert.match(failDetail(s), /needs requestHeaderMode send and requestBodyMode none or fullDuplexStreamed/);
  });

  it('may only answer request_headers', () => {
    const s = run([headersSent, { e: 'reply', kind: 'request_headers' }, { e: 'sent', dir: 'response', phase: 'headers' }, local('headers')], allowed());
    assert.equal(s.state.t, 'failed');
    assert.match(failDetail(s), /can only answer request_headers/);
  });

  it('must start with headers_response', () => {
    for (const first of [local('body'), local('trailers'), { e: 'reply', kind: 'streamed_immediate_response' } as Event]) {
      const s = run([headersSent, first], allowed());
      assert.equal(s.state.t, 'failed');
      assert.match(failDetail(s), /must start with a headers_response/);
    }
  });

  it('a headers_response the channel found unusable (no :status) is a protocol error', () => {
    const s = run([headersSent, { e: 'reply', kind: 'local_headers', problem: 'no valid :status' }], allowed());
    assert.equal(s.state.t, 'failed');
    assert.equal(failDetail(s), 'no valid :status');
  });

  it('any other reply while the local reply streams is a protocol error', () => {
    for (const kind of ['request_body', 'request_headers', 'immediate_response', 'empty', 'response_headers'] as const) {
      const s = run([headersSent, local('headers'), { e: 'reply', kind }], allowed());
      assert.equal(s.state.t, 'failed', kind);
      assert.match(failDetail(s), /only body_response and trailers_response may follow/);
    }
  });

  it('a stream that ends before the local reply did is a failure, clean close included', () => {
    for (const end of [{ kind: 'ok' }, { kind: 'reset', message: 'x' }, { kind: 'grpc_status', code: 13, message: 'y' }] as const) {
      const s = run([headersSent, local('headers'), local('body'), { e: 'end', end }], allowed());
      assert.equal(s.state.t, 'failed');
      assert.match(failDetail(s), /before its streamed_immediate_response ended/);
    }
  });

  it('the idle timer runs once the processor has the whole request (body mode none: directionDone)', () => {
    const s = run([headersSent, local('headers')], allowed());
    assert.equal(isAwaiting(s.state), false);
    assert.deepEqual(s.effects.map((e) => e.k), ['local', 'disarmTimer']);
    const d = transition(s.state, { e: 'directionDone', dir: 'request' });
    assert.deepEqual(d.effects, [{ k: 'armTimer' }]);
    const t = transition(d.state, { e: 'timeout', ms: 5 });
    assert.equal(t.state.t, 'failed');
    assert.match(failDetail(t), /did not continue its streamed_immediate_response within messageTimeout \(5ms\)/);
  });

  it('finish while the local reply streams cancels the stream', () => {
    const s = run([headersSent, local('headers'), { e: 'finish' }], allowed());
    assert.deepEqual(s.effects.map((e) => e.k), ['cancel']);
  });
});

describe('streamed local reply properties', { timeout: 30_000 }, () => {
  it('request body chunks and local body parts interleave freely; the timer runs exactly once the input ended; the last part responds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 10 }), fc.array(fc.boolean(), { maxLength: 20 }), fc.boolean(), fc.boolean(),
        (chunksBefore, parts, order, withTrailers, chunksAfterHeaders) => {
          let s: State = transition(allowed(), headersSent).state;
          let inputEnded = false;
          const total = chunksBefore + (chunksAfterHeaders ? 3 : 0);
          let sentChunks = 0;
          const sendOne = (): void => {
            sentChunks++;
            s = transition(s, chunk(sentChunks === total)).state;
            if (sentChunks === total) inputEnded = true;
          };
          for (let i = 0; i < chunksBefore && sentChunks < total; i++) sendOne();
          s = transition(s, local('headers')).state;
          assert.equal(s.t, 'localReply');
          assert.equal(isAwaiting(s), inputEnded);
          let delivered = 0;
          for (const sendNext of order) {
            if (sendNext && sentChunks < total) sendOne();
            else if (delivered < parts) {
              const step = transition(s, local('body'));
              assert.deepEqual(step.effects.find((e) => e.k === 'local'), { k: 'local', part: 'body', end: false });
              s = step.state;
              delivered++;
            }
            assert.equal(s.t, 'localReply');
            assert.equal(isAwaiting(s), inputEnded);
          }
          const last = transition(s, withTrailers ? local('trailers') : local('body', true));
          assert.equal(last.state.t, 'responded');
          assert.equal(last.effects.some((e) => e.k === 'disarmTimer'), inputEnded);
          assert.deepEqual(transition(last.state, local('body')).effects, [], 'nothing after the end changes anything');
        }),
    );
  });
});
