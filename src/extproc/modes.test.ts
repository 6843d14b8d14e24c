import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ProcessingOptions } from '../config/model.js';
import { applyModeOverride, bodyModeNumber, effectiveModes, sendsNothing, unsupportedBodyMode, type OverrideContext } from './modes.js';

const opts = (o: Partial<ProcessingOptions> = {}): ProcessingOptions => ({
  requestHeaderMode: 'send', responseHeaderMode: 'send', requestBodyMode: 'buffered', responseBodyMode: 'none',
  requestTrailerMode: 'skip', responseTrailerMode: 'skip', allowModeOverride: true, ...o,
});
const ctx = (o: Partial<OverrideContext> = {}): OverrideContext => ({
  allowModeOverride: true, replyTo: 'request', onHeadersReply: true, duplexBodyStarted: false, responseHeadersSent: false, ...o,
});

describe('processing modes', { timeout: 10_000 }, () => {
  it('maps config to effective modes; full-duplex always sends trailers', () => {
    const m = effectiveModes(opts({ responseBodyMode: 'fullDuplexStreamed' }));
    assert.deepEqual(m.request, { headers: true, body: 'buffered', trailers: false });
    assert.deepEqual(m.response, { headers: true, body: 'fullDuplexStreamed', trailers: true });
  });
  it('proto numbers match envoy BodySendMode', () => {
    assert.deepEqual(['none', 'streamed', 'buffered', 'bufferedPartial', 'fullDuplexStreamed'].map((m) => bodyModeNumber(m as never)), [0, 1, 2, 3, 4]);
  });
  it('sendsNothing only when every phase is skip/none', () => {
    assert.equal(sendsNothing(effectiveModes(opts({ requestHeaderMode: 'skip', responseHeaderMode: 'skip', requestBodyMode: 'none' }))), true);
    assert.equal(sendsNothing(effectiveModes(opts({ requestHeaderMode: 'skip', responseHeaderMode: 'skip' }))), false);
  });
  it('every configurable body mode is implemented', () => {
    for (const m of ['none', 'buffered', 'bufferedPartial', 'streamed', 'fullDuplexStreamed'] as const) {
      assert.equal(unsupportedBodyMode(effectiveModes(opts({ requestBodyMode: m, responseBodyMode: m }))), undefined);
    }
  });
});

describe('mode_override acceptance', { timeout: 10_000 }, () => {
  const cur = effectiveModes(opts());
  it('is ignored without allowModeOverride, on non-headers replies, and after a duplex body started', () => {
    for (const c of [ctx({ allowModeOverride: false }), ctx({ onHeadersReply: false }), ctx({ duplexBodyStarted: true })]) {
      const r = applyModeOverride(cur, { requestBodyMode: 0 }, c);
      assert.equal(r.accepted, false);
      assert.equal(r.modes, cur);
    }
  });
  it('body modes are literal: unset means none (buffered → none)', () => {
    const r = applyModeOverride(cur, {}, ctx());
    assert.equal(r.modes.request.body, 'none');
  });
  it('buffered → bufferedPartial; response modes may change from the request headers reply', () => {
    const r = applyModeOverride(cur, { requestBodyMode: 3, responseBodyMode: 2, responseHeaderMode: 2 }, ctx());
    assert.equal(r.modes.request.body, 'bufferedPartial');
    assert.equal(r.modes.response.body, 'buffered');
    assert.equal(r.modes.response.headers, false);
  });
  it('a response headers reply cannot change the request body mode or response_header_mode', () => {
    const r = applyModeOverride(cur, { requestBodyMode: 0, responseHeaderMode: 2 }, ctx({ replyTo: 'response', responseHeadersSent: true }));
    assert.equal(r.modes.request.body, 'buffered');
    assert.equal(r.modes.response.headers, true);
    assert.ok(r.ignored.some((w) => w.includes('response_header_mode')));
  });
  it('request_header_mode is never overridden', () => {
    const r = applyModeOverride(cur, { requestHeaderMode: 2, requestBodyMode: 2 }, ctx());
    assert.equal(r.modes.request.headers, true);
    assert.ok(r.ignored.length > 0);
  });
  it('never changes a full-duplex body mode, and full-duplex keeps trailers on (property)', () => {
    const duplex = effectiveModes(opts({ requestBodyMode: 'fullDuplexStreamed', responseBodyMode: 'fullDuplexStreamed' }));
    fc.assert(
      fc.property(fc.record({ requestBodyMode: fc.integer({ min: 0, max: 6 }), responseBodyMode: fc.integer({ min: 0, max: 6 }), requestTrailerMode: fc.integer({ min: 0, max: 2 }), responseTrailerMode: fc.integer({ min: 0, max: 2 }) }), (o) => {
        const r = applyModeOverride(duplex, o, ctx());
        assert.equal(r.modes.request.body, 'fullDuplexStreamed');
        assert.equal(r.modes.response.body, 'fullDuplexStreamed');
        assert.equal(r.modes.request.trailers, true);
        assert.equal(r.modes.response.trailers, true);
      }),
    );
  });
});
