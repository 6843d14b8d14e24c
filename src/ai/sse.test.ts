import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSse, SseParser, type SseEvent } from './sse.js';

function feed(chunks: readonly Uint8Array[], maxLine?: number): { events: SseEvent[]; parser: SseParser } {
  const events: SseEvent[] = [];
  const parser = new SseParser((ev) => events.push(ev), maxLine === undefined ? {} : { maxLine });
  for (const c of chunks) parser.push(c);
  return { events, parser };
}

/** Cuts `bytes` at the given (sorted, deduplicated) offsets. */
function cut(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const cuts = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

test('dispatches data events at blank lines and joins multi-line data with LF', () => {
  const events = parseSse('data: {"a":1}\n\ndata: one\ndata:two\n\nevent: done\ndata: [DONE]\n\n');
  assert.deepEqual(events, [
    { event: 'message', data: '{"a":1}' },
    { event: 'message', data: 'one\ntwo' },
    { event: 'done', data: '[DONE]' },
  ]);
});

test('accepts CRLF and bare CR line endings, ignores comments and data-less events', () => {
  const events = parseSse(': keep-alive\r\n\r\nid: 1\r\n\r\ndata: x\r\rdata:  y\n\n');
  assert.deepEqual(events, [
    { event: 'message', data: 'x' },
    { event: 'message', data: ' y' },
  ]);
});

test('an event without its closing blank line is not dispatched', () => {
  assert.deepEqual(parseSse('data: a\n\ndata: b\n'), [{ event: 'message', data: 'a' }]);
});

test('a CR at the end of one chunk and LF at the start of the next are one line break', () => {
  const { events } = feed([Buffer.from('data: a\r'), Buffer.from('\n\r'), Buffer.from('\ndata: b\n\n')]);
  assert.deepEqual(events, [
    { event: 'message', data: 'a' },
    { event: 'message', data: 'b' },
  ]);
});

test('a UTF-8 character split across chunks is decoded whole', () => {
  const bytes = Buffer.from('data: héllo 👋\n\n');
  const { events } = feed([bytes.subarray(0, 9), bytes.subarray(9, 17), bytes.subarray(17)]);
  assert.deepEqual(events, [{ event: 'message', data: 'héllo 👋' }]);
});

test('a line longer than maxLine stops the parser and keeps memory bounded', () => {
  const { events, parser } = feed([Buffer.from('data: ok\n\ndata: '), Buffer.alloc(100, 0x61), Buffer.from('\n\n')], 50);
  assert.equal(parser.overflowed, true);
  assert.deepEqual(events, [{ event: 'message', data: 'ok' }]);
});

const sseLine = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => `data: ${s.replace(/[\r\n]/g, '')}`),
  fc.constantFrom('data: [DONE]', ': ping', 'event: delta', 'id: 7', 'data', ''),
);
const eol = fc.constantFrom('\n', '\r\n', '\r');

test('property: any chunking of an SSE stream yields the same events', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(sseLine, eol), { maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (lines, offsets) => {
        const text = lines.map(([l, e]) => l + e).join('');
        const bytes = Buffer.from(text);
        const whole = feed([bytes]).events;
        const pieces = feed(cut(bytes, offsets)).events;
        const byByte = feed([...bytes].map((b) => Buffer.from([b]))).events;
        assert.deepEqual(pieces, whole);
        assert.deepEqual(byByte, whole);
      },
    ),
    { numRuns: 300 },
  );
});
