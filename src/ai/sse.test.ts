import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSse, SseParser, type SseEvent } from './sse.js';

function feed(chunks: readonly Uint8Array[], maxEvent?: number): { events: SseEvent[]; parser: SseParser } {
  const events: SseEvent[] = [];
  const parser = new SseParser((ev) => events.push(ev), maxEvent === undefined ? {} : { maxEvent });
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

test('an event longer than maxEvent is skipped, and the events after it are reported', () => {
  const { events, parser } = feed([Buffer.from('data: ok\n\ndata: '), Buffer.alloc(100, 0x61), Buffer.from('\n\ndata: after\n\n')], 50);
  assert.equal(parser.skipped, 1);
  assert.deepEqual(events, [
    { event: 'message', data: 'ok' },
    { event: 'message', data: 'after' },
  ]);
});

test('an oversized event made of many short data lines is skipped whole, its event name too', () => {
  const big = 'event: image\n' + 'data: 0123456789\n'.repeat(20) + '\n';
  const { events, parser } = feed([Buffer.from(big + 'data: {"usage":1}\n\n')], 64);
  assert.equal(parser.skipped, 1);
  assert.deepEqual(events, [{ event: 'message', data: '{"usage":1}' }]);
});

test('skipping an oversized event keeps none of it, however many bytes pass', () => {
  const parser = new SseParser(() => {}, { maxEvent: 1024 });
  const piece = Buffer.alloc(64 * 1024, 0x62);
  const before = process.memoryUsage().arrayBuffers;
  parser.push(Buffer.from('data: '));
  for (let i = 0; i < 256; i++) parser.push(piece); // 16 MiB of one line
  const grew = process.memoryUsage().arrayBuffers - before;
  assert.ok(grew < 1024 * 1024, `parser kept ${grew} bytes`);
  assert.equal(parser.skipped, 0, 'still inside the oversized event');
  parser.push(Buffer.from('\r\n\r\ndata: x\r\n\r\n'));
  assert.equal(parser.skipped, 1);
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

test('property: oversized events are skipped and the rest parse as if they were not there, for any chunking', () => {
  const max = 40;
  const small = fc.array(fc.tuple(sseLine, eol), { maxLength: 6 }).map((ls) => ls.map(([l, e]) => l + e).join(''));
  // An event over the limit: one long data line, or many short ones; always ended by a blank line.
  const big = fc.tuple(fc.constantFrom('data: ', 'event: x\ndata: ', ': c\ndata: '), fc.integer({ min: max + 1, max: 3 * max }), fc.boolean(), eol).map(
    ([head, n, split, e]) => (split ? head + 'y'.repeat(Math.ceil(n / 4)) + e + ('data: ' + 'y'.repeat(Math.ceil(n / 4)) + e).repeat(4) : head + 'x'.repeat(n) + e) + e,
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(small, fc.option(big, { nil: undefined })), { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (parts, offsets) => {
        // Each small part is closed with a blank line, so every oversized event starts an event of its own.
        const closed = parts.map(([s, b]) => [s + '\n\n', b] as const);
        const withBig = Buffer.from(closed.map(([s, b]) => s + (b ?? '')).join(''));
        const without = Buffer.from(closed.map(([s]) => s).join(''));
        const plain = feed([without], max);
        const expected = plain.events;
        const bigCount = closed.filter(([, b]) => b !== undefined).length;
        const whole = feed([withBig], max);
        assert.deepEqual(whole.events, expected);
        assert.equal(whole.parser.skipped, plain.parser.skipped + bigCount);
        assert.deepEqual(feed(cut(withBig, offsets), max).events, expected);
        assert.deepEqual(feed([...withBig].map((b) => Buffer.from([b])), max).events, expected);
      },
    ),
    { numRuns: 300 },
  );
});
