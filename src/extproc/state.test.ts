import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initialState, isAwaiting, replyKind, transition, type Event, type ReplyKind, type State } from './state.js';
import { run } from './state.test-helper.js';

const sent = (dir: 'request' | 'response', phase: 'headers' | 'body' | 'trailers', mode?: 'buffered' | 'bufferedPartial' | 'streamed' | 'fullDuplexStreamed'): Event =>
  mode === undefined ? { e: 'sent', dir, phase } : { e: 'sent', dir, phase, mode };
const reply = (kind: ReplyKind): Event => ({ e: 'reply', kind });

describe('ext_proc state machine', { timeout: 10_000 }, () => {
  it('the first send opens the stream and arms the timer; the reply delivers and disarms', () => {
    const a = transition(initialState(), sent('request', 'headers'));
    assert.deepEqual(a.effects.map((e) => e.k), ['open', 'armTimer']);
    const b = transition(a.state, reply('request_headers'));
    assert.deepEqual(b.effects, [{ k: 'deliver', dir: 'request', phase: 'headers' }, { k: 'disarmTimer' }]);
    assert.equal(isAwaiting(b.state), false);
  });

  it('a full buffered exchange both ways ends in done after closeSend and a clean end', () => {
    const r = run([
      sent('request', 'headers'), reply('request_headers'),
      sent('request', 'body', 'buffered'), reply('request_body'),
      sent('request', 'trailers'), reply('request_trailers'),
      { e: 'directionDone', dir: 'request' },
      sent('response', 'headers'), reply('response_headers'),
      sent('response', 'body', 'buffered'), reply('response_body'),
      { e: 'directionDone', dir: 'response' }, { e: 'closeSend' },
      { e: 'end', end: { kind: 'ok' } },
    ]);
    assert.equal(r.state.t, 'done');
    assert.ok(r.all.every((s) => !s.effects.some((e) => e.k === 'fail')));
  });

  it('an empty reply is a protocol error naming the phase, the mode and the fix', () => {
    const r = run([sent('request', 'body', 'bufferedPartial'), reply('empty')]);
    assert.equal(r.state.t, 'failed');
    const fail = r.effects.find((e) => e.k === 'fail');
    assert.ok(fail && fail.k === 'fail');
    assert.equal(fail.cause.kind, 'protocol');
    assert.match(fail.cause.detail, /answered request_body with an empty response/);
    assert.match(fail.cause.detail, /in bufferedPartial mode it must send a BodyResponse/);
  });

  it('a reply to the wrong phase is a protocol error', () => {
    const r = run([sent('request', 'headers'), reply('request_body')]);
    assert.equal(r.state.t, 'failed');
    assert.match((r.state as { cause: { detail: string } }).cause.detail, /sent request_body while request_headers was awaited/);
  });

  it('an unsolicited reply is a protocol error', () => {
    const r = run([sent('request', 'headers'), reply('request_headers'), reply('request_headers')]);
    assert.equal(r.state.t, 'failed');
  });

  it('immediate_response is accepted while a reply is awaited and half-closes the stream', () => {
    const r = run([sent('request', 'headers'), reply('immediate_response')]);
    assert.equal(r.state.t, 'responded');
    assert.deepEqual(r.effects.map((e) => e.k), ['immediate', 'disarmTimer', 'closeSend']);
    assert.deepEqual(transition(r.state, { e: 'finish' }).effects.map((e) => e.k), ['cancelLater']);
  });

  it('finish after a half-close with nothing awaited leaves the processor a grace period to close', () => {
    const r = run([sent('request', 'headers'), reply('request_headers'), { e: 'closeSend' }, { e: 'finish' }]);
    assert.deepEqual(r.effects.map((e) => e.k), ['cancelLater']);
  });

  it('immediate_response after response headers went out is a failure', () => {
    const r = run([
      { e: 'responseHeadersOut' },
      sent('response', 'body', 'fullDuplexStreamed'),
      reply('immediate_response'),
    ]);
    assert.equal(r.state.t, 'failed');
  });

  it('a clean close with work left passes through; with nothing left it is done', () => {
    assert.equal(run([sent('request', 'headers'), { e: 'end', end: { kind: 'ok' } }]).state.t, 'passThrough');
    assert.equal(
      run([sent('request', 'headers'), reply('request_headers'), { e: 'end', end: { kind: 'ok' } }]).state.t,
      'passThrough',
    );
    assert.equal(
      run([sent('request', 'headers'), reply('request_headers'), { e: 'closeSend' }, { e: 'end', end: { kind: 'ok' } }]).state.t,
      'done',
    );
  });

  it('stream errors and timeouts fail; a failure can turn into fail-open pass-through', () => {
    const r = run([sent('request', 'headers'), { e: 'end', end: { kind: 'grpc_status', code: 13, message: 'boom' } }]);
    assert.equal(r.state.t, 'failed');
    assert.match((r.state as { cause: { detail: string } }).cause.detail, /gRPC status 13 while request_headers was awaited: boom/);
    const t = run([sent('request', 'headers'), { e: 'timeout', ms: 50 }]);
    assert.equal(t.state.t, 'failed');
    assert.equal((t.state as { cause: { kind: string } }).cause.kind, 'timeout');
    const open = transition(t.state, { e: 'failOpen' });
    assert.equal(open.state.t, 'passThrough');
    assert.equal(transition(open.state, reply('request_headers')).effects.length, 0, 'late replies are ignored');
  });

  it('a stale timeout with nothing awaited changes nothing', () => {
    const r = run([sent('request', 'headers'), reply('request_headers'), { e: 'timeout', ms: 1 }]);
    assert.equal(r.state.t, 'open');
  });

  it('finish cancels an opened stream exactly once', () => {
    const a = run([sent('request', 'headers'), { e: 'finish' }]);
    assert.deepEqual(a.effects.map((e) => e.k), ['disarmTimer', 'cancel']);
    assert.deepEqual(transition(a.state, { e: 'finish' }).effects, []);
    assert.deepEqual(transition(initialState(), { e: 'finish' }).effects, []);
  });

  it('sending out of turn is a bug and throws', () => {
    assert.throws(() => run([sent('request', 'headers'), sent('request', 'body', 'buffered')]));
  });

  it('streamed mode: one reply per chunk, in order, after the headers reply', () => {
    const r = run([
      sent('request', 'headers'), reply('request_headers'),
      sent('request', 'body', 'streamed'), sent('request', 'body', 'streamed'),
      reply('request_body'), reply('request_body'),
    ]);
    assert.equal(r.state.t, 'open');
    assert.equal(isAwaiting(r.state), false);
    assert.equal(transition(r.state, reply('request_body')).state.t, 'failed');
  });

  it('full-duplex: chunks may go before the headers reply, but a body reply before it is out of order', () => {
    const r = run([sent('request', 'headers'), sent('request', 'body', 'fullDuplexStreamed')]);
    assert.equal(transition(r.state, reply('request_body')).state.t, 'failed');
    const ok = run([reply('request_headers'), reply('request_body'), reply('request_body')], r.state);
    assert.equal(ok.state.t, 'open');
  });

  it('replyKind classifies by oneof and treats null as unset', () => {
    assert.equal(replyKind({}), 'empty');
    assert.equal(replyKind({ requestHeaders: null, requestBody: {} }), 'request_body');
    assert.equal(replyKind({ immediateResponse: {} }), 'immediate_response');
  });
});

/** Property tests for the ordering rules. */
describe('ext_proc ordering properties', { timeout: 30_000 }, () => {
  const kinds: ReplyKind[] = [
    'request_headers', 'request_body', 'request_trailers', 'response_headers', 'response_body', 'response_trailers', 'empty', 'streamed_immediate_response',
    'local_headers', 'local_body', 'local_trailers',
  ];
  type Msg = { dir: 'request' | 'response'; phase: 'headers' | 'body' | 'trailers' };
  // A lock-step exchange: a subsequence of the six messages, in protocol order.
  const exchange = fc.subarray<Msg>([
    { dir: 'request', phase: 'headers' }, { dir: 'request', phase: 'body' }, { dir: 'request', phase: 'trailers' },
    { dir: 'response', phase: 'headers' }, { dir: 'response', phase: 'body' }, { dir: 'response', phase: 'trailers' },
  ]);

  it('answering every message with its matching reply never fails and never leaves a timer armed', () => {
    fc.assert(
      fc.property(exchange, (msgs) => {
        let s: State = initialState();
        for (const m of msgs) {
          s = transition(s, sent(m.dir, m.phase, m.phase === 'body' ? 'buffered' : undefined)).state;
          assert.equal(isAwaiting(s), true);
          const step = transition(s, reply(`${m.dir}_${m.phase}`));
          assert.deepEqual(step.effects[0], { k: 'deliver', dir: m.dir, phase: m.phase });
          s = step.state;
          assert.equal(isAwaiting(s), false);
        }
        assert.equal(s.t, 'open');
      }),
    );
  });

  it('any reply other than the awaited one (or immediate_response) is a protocol error', () => {
    fc.assert(
      fc.property(exchange.filter((m) => m.length > 0), fc.nat(), fc.constantFrom(...kinds), (msgs, cut, wrong) => {
        const at = cut % msgs.length;
        let s: State = initialState();
        for (let i = 0; i < at; i++) {
          const m = msgs[i]!;
          s = transition(s, sent(m.dir, m.phase, m.phase === 'body' ? 'buffered' : undefined)).state;
          s = transition(s, reply(`${m.dir}_${m.phase}`)).state;
        }
        const m = msgs[at]!;
        s = transition(s, sent(m.dir, m.phase, m.phase === 'body' ? 'buffered' : undefined)).state;
        fc.pre(wrong !== `${m.dir}_${m.phase}`);
        const step = transition(s, reply(wrong));
        assert.equal(step.state.t, 'failed');
        const f = step.effects.find((e) => e.k === 'fail');
        assert.ok(f && f.k === 'fail' && f.cause.kind === 'protocol');
        assert.ok(step.effects.some((e) => e.k === 'disarmTimer'), 'the timer stops on failure');
      }),
    );
  });

  it('after leaving the open state, no event except finish produces effects', () => {
    const anyEvent = fc.oneof(
      fc.constantFrom(...kinds, 'immediate_response' as const).map((k): Event => reply(k)),
      fc.constant<Event>({ e: 'end', end: { kind: 'ok' } }),
      fc.constant<Event>({ e: 'end', end: { kind: 'reset', message: 'x' } }),
      fc.constant<Event>({ e: 'timeout', ms: 1 }),
    );
    fc.assert(
      fc.property(fc.constantFrom<Event>({ e: 'end', end: { kind: 'ok' } }, reply('immediate_response'), reply('empty')), fc.array(anyEvent), (exit, later) => {
        let s = transition(transition(initialState(), sent('request', 'headers')).state, exit).state;
        assert.notEqual(s.t, 'open');
        for (const ev of later) {
          const step = transition(s, ev);
          assert.deepEqual(step.effects, []);
          s = step.state;
        }
      }),
    );
  });

  it('streamed replies are accepted exactly as many times as chunks were sent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 25 }), (chunks, replies) => {
        let s: State = run([sent('request', 'headers'), reply('request_headers')]).state;
        for (let i = 0; i < chunks; i++) s = transition(s, sent('request', 'body', 'streamed')).state;
        for (let i = 0; i < replies; i++) s = transition(s, reply('request_body')).state;
        assert.equal(s.t === 'failed', replies > chunks);
      }),
    );
  });
});

describe('ext_proc full-duplex ordering properties', { timeout: 30_000 }, () => {
  it('chunks and replies interleave freely once the headers reply came; the idle timer runs only after the input ended', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.nat(), fc.array(fc.nat(), { maxLength: 12 }), (chunks, headersAt, bodyReplies) => {
        // A timeline of gateway sends and processor replies, in one order the network could produce.
        type Step = { kind: 'send'; last: boolean } | { kind: 'headersReply' } | { kind: 'bodyReply' };
        const timeline: Step[] = Array.from({ length: chunks }, (_, i) => ({ kind: 'send', last: i === chunks - 1 }) as Step);
        const hAt = headersAt % (chunks + 1);
        timeline.splice(hAt, 0, { kind: 'headersReply' });
        // Body replies come after the headers reply and after at least one chunk went out.
        const firstSend = timeline.findIndex((x) => x.kind === 'send');
        const min = Math.max(hAt, firstSend) + 1;
        for (const r of bodyReplies) timeline.splice(min + (r % (timeline.length - min + 1)), 0, { kind: 'bodyReply' });
        let s: State = transition(initialState(), sent('request', 'headers')).state;
        let inputEnded = false;
        for (const step of timeline) {
          const ev: Event =
            step.kind === 'send' ? { e: 'sent', dir: 'request', phase: 'body', mode: 'fullDuplexStreamed', last: step.last }
            : step.kind === 'headersReply' ? reply('request_headers') : reply('request_body');
          s = transition(s, ev).state;
          if (step.kind === 'send' && step.last) inputEnded = true;
          assert.equal(s.t, 'open');
          assert.equal(isAwaiting(s), inputEnded, 'the idle timer runs exactly once the processor has the whole input');
        }
        const ended = transition(s, { e: 'outputEnded', dir: 'request' });
        assert.equal(isAwaiting(ended.state), false);
        assert.equal(transition(ended.state, reply('request_body')).state.t, 'failed', 'nothing is accepted after the body ended');
      }),
    );
  });

  it('a body reply before the headers reply is always a protocol error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), (chunks) => {
        let s: State = transition(initialState(), sent('request', 'headers')).state;
        for (let i = 0; i < chunks; i++) s = transition(s, sent('request', 'body', 'fullDuplexStreamed')).state;
        assert.equal(transition(s, reply('request_body')).state.t, 'failed');
        assert.equal(transition(s, reply('request_trailers')).state.t, 'failed');
      }),
    );
  });
});
