import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { createAccessLog } from './access-log.js';
import { channels } from './diagnostics.js';
import type { AccessLogRecord } from '../http/context.js';

function record(id: string): AccessLogRecord {
  return {
    id,
    gateway: 'gw',
    listener: 'l0',
    method: 'POST',
    path: '/v1/chat/completions',
    authority: 'a',
    protocol: 'HTTP/2',
    remote: '127.0.0.1',
    route: 'ai',
    backend: 'openai',
    status: 500,
    durationMs: 1.23456,
    errorCode: 'ext_proc_failed',
    error: 'ext_proc failed: timeout',
    extProc: [{ target: 'p:9000', phases: ['request_headers'], timeMs: 10, outcome: 'failed', failureReason: 'timeout', failOpen: false }],
    ai: { provider: 'openai', requestModel: 'm', inputTokens: 3 },
  };
}

test('one JSON line per request with route, backend, status, duration, ext_proc and ai fields', async (t) => {
  const ev = new EventEmitter();
  const lines: string[] = [];
  const log = createAccessLog({ write: (c) => { lines.push(c); ev.emit('w'); } });
  t.after(() => log.dispose());
  channels.requestEnd.publish({ record: record('a') });
  channels.requestEnd.publish({ record: record('b') });
  await once(ev, 'w');
  const parsed = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(parsed.length, 2);
  const first = parsed[0]!;
  assert.equal(first.id, 'a');
  assert.equal(first.kind, 'access');
  assert.equal(first.route, 'ai');
  assert.equal(first.backend, 'openai');
  assert.equal(first.status, 500);
  assert.equal(first.durationMs, 1.235);
  assert.equal(first.errorCode, 'ext_proc_failed');
  assert.deepEqual(first.extProc, [{ target: 'p:9000', phases: ['request_headers'], timeMs: 10, outcome: 'failed', failureReason: 'timeout', failOpen: false }]);
  assert.deepEqual(first.ai, { provider: 'openai', requestModel: 'm', inputTokens: 3 });
  assert.equal(parsed[1]!.id, 'b');
});

test('disabled access log writes nothing; flush writes synchronously', () => {
  const lines: string[] = [];
  const log = createAccessLog({ write: (c) => lines.push(c), enabled: false });
  channels.requestEnd.publish({ record: record('a') });
  log.flush();
  assert.equal(lines.length, 0);
  log.setEnabled(true);
  channels.requestEnd.publish({ record: record('b') });
  log.flush();
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /"id":"b"/);
  log.dispose();
});

test('a large batch is written in chunks of whole lines no larger than a pipe write', () => {
  const chunks: string[] = [];
  const log = createAccessLog({ write: (c) => chunks.push(c) });
  for (let i = 0; i < 100; i++) channels.requestEnd.publish({ record: record(`id-${i}`) });
  log.flush();
  log.dispose();
  assert.ok(chunks.length > 1);
  for (const c of chunks) {
    assert.ok(c.length <= 4096, `chunk of ${c.length}`);
    assert.ok(c.endsWith('\n'));
  }
  const ids = chunks.join('').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
  assert.deepEqual(ids, Array.from({ length: 100 }, (_, i) => `id-${i}`));
});

test('records from several event-loop turns share one write (no write per turn)', async (t) => {
  // The flush timer runs on mocked time, so a slow machine (a CI run under load) cannot fire it between the turns.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const chunks: string[] = [];
  const log = createAccessLog({ write: (c) => chunks.push(c) });
  t.after(() => log.dispose());
  for (let turn = 0; turn < 3; turn++) {
    channels.requestEnd.publish({ record: record(`t${turn}`) });
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(chunks.length, 0, 'nothing is written per turn');
  t.mock.timers.tick(20);
  assert.equal(chunks.length, 1);
  assert.deepEqual(chunks[0]!.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id), ['t0', 't1', 't2']);
});

test('a long queue is written at the end of the loop turn, not after the timer', async (t) => {
  const chunks: string[] = [];
  const log = createAccessLog({ write: (c) => chunks.push(c) });
  t.after(() => log.dispose());
  for (let i = 0; i < 600; i++) channels.requestEnd.publish({ record: record(`q${i}`) });
  // The flush was queued (setImmediate) while publishing, so it runs before this turn's own immediate.
  await new Promise((r) => setImmediate(r));
  const ids = chunks.join('').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
  assert.equal(ids.length, 600);
  assert.equal(ids[599], 'q599');
});

/** A child process that logs `n` records through the default destination (its stdout) and exits. */
const CHILD = `
const { createAccessLog } = await import(process.env.DIST + '/observability/access-log.js');
const { channels } = await import(process.env.DIST + '/observability/diagnostics.js');
const log = createAccessLog();
const n = Number(process.env.N);
for (let i = 0; i < n; i++) {
  channels.requestEnd.publish({ record: { id: 'r' + i, gateway: 'g', listener: 'l', method: 'GET', path: i % 7 === 0 ? '/caf\\u00e9/' + i : '/p/' + i,
    authority: 'a', protocol: 'HTTP/1.1', remote: '127.0.0.1', status: 200, durationMs: i / 1000, bytesIn: 0, bytesOut: i } });
  // Several batches: a flush at the end of some turns.
  if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
}
log.dispose();
`;

function checkLines(text: string, n: number): void {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'the output ends with a newline');
  assert.equal(lines.length, n);
  lines.forEach((l, i) => {
    const r = JSON.parse(l) as { id: string; path: string; bytesOut: number };
    assert.equal(r.id, `r${i}`);
    assert.equal(r.path, i % 7 === 0 ? `/caf\u00e9/${i}` : `/p/${i}`);
    assert.equal(r.bytesOut, i);
  });
}

test('the default destination writes every line whole and in order to stdout, whether a file or a pipe', { timeout: 30_000 }, async (t) => {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, openSync, closeSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join, resolve } = await import('node:path');
  const dist = resolve(new URL('.', import.meta.url).pathname, '../../dist');
  const n = 5000;
  const env = { ...process.env, DIST: dist, N: String(n) };
  const run = (stdout: number | 'pipe'): Promise<string> =>
    new Promise((res, rej) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { env, stdio: ['ignore', stdout, 'inherit'] });
      let out = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.once('error', rej);
      child.once('close', (code) => (code === 0 ? res(out) : rej(new Error(`child exited ${code}`))));
    });
  // A regular file: batches of up to 64 KiB.
  const file = join(mkdtempSync(join(tmpdir(), 'tollgate-alog-')), 'out.log');
  const fd = openSync(file, 'w');
  t.after(() => closeSync(fd));
  await run(fd);
  checkLines(readFileSync(file, 'utf8'), n);
  // A pipe: batches of at most PIPE_BUF.
  checkLines(await run('pipe'), n);
});
