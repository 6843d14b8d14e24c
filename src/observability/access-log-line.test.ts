import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessLogWriter, accessLogLine } from './access-log-line.js';
import type { AccessLogRecord } from '../http/context.js';

const STRINGS = ['', 'plain', '/v1/chat?x=1&y=2', 'quote"inside', 'back\\slash', 'tab\there', 'nl\n', '\u0000\u001f\u007f', 'café', '日本', '😀', 'lone \ud800 surrogate', '</script>'];

function base(over: Partial<AccessLogRecord>): AccessLogRecord {
  return {
    id: '3f2a9c1e-77b0-4d19-a2c4-000000000001',
    gateway: 'default',
    listener: 'l0',
    method: 'GET',
    path: '/',
    authority: '127.0.0.1:8080',
    protocol: 'HTTP/1.1',
    remote: '127.0.0.1',
    route: 'default/r0',
    routeKey: 'bind/8080/l0/default/r0',
    backend: '127.0.0.1:9000',
    status: 200,
    durationMs: 1.23456,
    bytesIn: 0,
    bytesOut: 1024,
    ...over,
  };
}

function check(w: AccessLogWriter, r: AccessLogRecord, now = 1_764_000_000_123): void {
  const expected = JSON.stringify(accessLogLine(r, now));
  const got = w.line(r, now);
  assert.equal(got.text, expected);
  if (got.ascii) assert.equal(Buffer.byteLength(got.text), got.text.length, `ascii claimed for ${got.text}`);
}

test('the writer produces exactly JSON.stringify of the line object, for every string field and awkward value', () => {
  const w = new AccessLogWriter();
  const fields = ['id', 'gateway', 'listener', 'route', 'routeKey', 'backend', 'method', 'path', 'authority', 'protocol', 'remote', 'error', 'errorCode'] as const;
  for (const field of fields) {
    for (const s of STRINGS) check(w, base({ [field]: s }));
  }
  for (const field of ['route', 'routeKey', 'backend', 'status', 'durationMs', 'bytesIn', 'bytesOut'] as const) check(w, base({ [field]: undefined }));
  for (const d of [0, -0, -0.0001, 0.0004, 0.0005, 0.005, 0.05, 0.25, 0.2, 1.03, 12.3456789, 2147483.647, 2147483.648, 1e21, -1, NaN, Infinity]) check(w, base({ durationMs: d }));
  for (const status of [100, 200, 404, 999, 1000, 200.5, -1, NaN]) check(w, base({ status }));
  check(w, base({ status: undefined, durationMs: undefined, bytesIn: undefined, bytesOut: undefined, route: undefined, routeKey: undefined, backend: undefined }));
});

test('a value repeated from the previous line (remembered per field) is written, and counted as ASCII or not, as the first time', () => {
  const w = new AccessLogWriter();
  for (const field of ['method', 'authority', 'protocol', 'remote'] as const) {
    for (const s of STRINGS) {
      check(w, base({ [field]: s }));
      check(w, base({ [field]: s }));
      // The same value in another field and a plain line between: neither may take the remembered verdict.
      check(w, base({ path: s }));
      check(w, base({}));
    }
  }
  const r = base({ authority: 'caf\u00e9' });
  assert.equal(w.line(r, 1).ascii, false);
  assert.equal(w.line(r, 1).ascii, false);
  assert.equal(w.line(base({}), 1).ascii, true);
});

test('durations of every magnitude are written as JSON writes the rounded number', () => {
  const w = new AccessLogWriter();
  let seed = 42;
  const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 20_000; i++) {
    const magnitude = 10 ** Math.floor(random() * 10 - 4);
    check(w, base({ durationMs: random() * magnitude }));
  }
});

test('the time is written once per batch and follows a new batch time', () => {
  const w = new AccessLogWriter();
  check(w, base({}), 1);
  check(w, base({}), 1);
  check(w, base({}), 2);
  check(w, base({}), 1_764_000_000_999);
});

test('ext_proc, ai and dynamic metadata are written as JSON, empty ext_proc lists left out', () => {
  const w = new AccessLogWriter();
  check(w, base({ extProc: [] }));
  check(w, base({
    error: 'ext_proc failed: timeout',
    errorCode: 'ext_proc_failed',
    extProc: [{ target: 'p:9000', phases: ['request_headers', 'response_headers'], timeMs: 10.5, outcome: 'failed', failureReason: 'timeout "x"', failOpen: false }],
    ai: { provider: 'openai', requestModel: 'gpt-4o-mini', inputTokens: 3, outputTokens: 5 },
    dynamicMetadata: { waf: { score: 7, tags: ['a', 'é'] }, skipped: undefined },
  }));
});

test('ext_proc entries without a failure are written field by field, exactly as JSON.stringify would', () => {
  const w = new AccessLogWriter();
  const entry = (over: Record<string, unknown> = {}) => ({ target: '127.0.0.1:9000', phases: ['request_headers', 'response_headers'], timeMs: 0.8123456789, outcome: 'ok', ...over });
  check(w, base({ extProc: [entry()] }));
  check(w, base({ extProc: [entry({ phases: [] }), entry({ timeMs: 0 }), entry({ timeMs: 1e21 }), entry({ timeMs: NaN })] }));
  for (const s of STRINGS) {
    check(w, base({ extProc: [entry({ target: s })] }));
    check(w, base({ extProc: [entry({ outcome: s, phases: [s, 'x'] })] }));
  }
  // A failure field, or any field beyond the four, goes through JSON.stringify (explicit undefined included).
  check(w, base({ extProc: [entry({ failureReason: 'timeout' }), entry({ failOpen: true }), entry({ failureReason: undefined }), entry({ extra: 1 })] }));
});

test('the per-route part is rebuilt when a route sends to another backend or changes name', () => {
  const w = new AccessLogWriter();
  check(w, base({ backend: 'a:1' }));
  check(w, base({ backend: 'b:2' }));
  check(w, base({ backend: 'a:1', route: 'default/renamed' }));
  check(w, base({ backend: 'a:1', listener: 'other' }));
  check(w, base({ backend: 'a:1', gateway: 'gw2' }));
  check(w, base({ backend: undefined }));
  check(w, base({ backend: 'é:1' }));
  check(w, base({ backend: 'a:1' }));
});

test('a cyclic value throws, so the caller can replace that one line', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => new AccessLogWriter().line(base({ dynamicMetadata: cyclic }), 0), TypeError);
});
