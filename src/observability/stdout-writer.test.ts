import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StdoutWriter, type QueueingStream } from './stdout-writer.js';

/** A stream that keeps what it is given and reports it as still queued until `drain()`. */
class FakeStream implements QueueingStream {
  chunks: Buffer[] = [];
  writableLength = 0;
  write(chunk: string | Buffer): boolean {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.chunks.push(b);
    this.writableLength += b.length;
    return false;
  }
  drain(): void {
    this.writableLength = 0;
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

test('writes ASCII and UTF-8 batches to the fd itself, byte for byte', (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'tollgate-stdout-')), 'out');
  const fd = openSync(file, 'w');
  t.after(() => closeSync(fd));
  const stream = new FakeStream();
  const w = new StdoutWriter(fd, stream);
  const ascii = '{"id":"a","path":"/x"}\n';
  const utf8 = '{"id":"b","path":"/caf\u00e9/\u{1F600}"}\n';
  w.write(ascii, ascii.length, true);
  w.write(utf8, Buffer.byteLength(utf8), false);
  assert.equal(readFileSync(file, 'utf8'), ascii + utf8);
  assert.equal(stream.chunks.length, 0);
});

test('an fd that fails hands every batch to the stream, in order', () => {
  const stream = new FakeStream();
  // An fd number nothing has open: writeSync fails with EBADF.
  const w = new StdoutWriter(987654, stream);
  w.write('one\n', 4, true);
  w.write('two\n', 4, true);
  assert.equal(stream.text, 'one\ntwo\n');
});

test('a full non-blocking pipe (EAGAIN) queues the rest on the stream, and later batches follow it until it drained', async (t) => {
  // The child reads nothing until told to, so the pipe fills up.
  const child = spawn(process.execPath, ['-e', "process.once('message', () => { process.stdin.pipe(process.stdout); process.disconnect(); })"], {
    stdio: ['pipe', 'pipe', 'inherit', 'ipc'],
  });
  t.after(() => child.kill());
  const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  assert.ok(fd > 2);
  const stream = new FakeStream();
  const w = new StdoutWriter(fd, stream);
  const batch = (i: number): string => `${String(i).padStart(6, '0')}${'x'.repeat(4089)}\n`;
  const sent: string[] = [];
  let i = 0;
  // A pipe holds 64 KiB by default (at most 1 MiB): 512 batches of 4 KiB overflow it.
  for (; i < 512; i++) {
    sent.push(batch(i));
    w.write(sent[i]!, 4096, true);
  }
  assert.ok(stream.chunks.length > 0, 'the pipe never filled');
  const queuedBefore = stream.chunks.length;
  // Still queued on the stream: the next batch must go after it, not jump ahead on the fd.
  sent.push(batch(i));
  w.write(sent[i]!, 4096, true);
  assert.equal(stream.chunks.length, queuedBefore + 1);
  // Once the stream drained, batches go to the fd again.
  stream.drain();
  // The child now reads: once it echoed all the fd took, the fd has room and takes the next batch itself.
  const viaFdBytes = sent.join('').length - stream.text.length;
  const echoed: Buffer[] = [];
  let echoedBytes = 0;
  const caughtUp = new Promise<void>((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      echoed.push(d);
      echoedBytes += d.length;
      if (echoedBytes === viaFdBytes) resolve();
    });
  });
  const closed = new Promise((resolve) => child.stdout!.once('end', resolve));
  child.send('read');
  await caughtUp;
  const last = 'last\n';
  const queued = stream.chunks.length;
  w.write(last, last.length, true);
  assert.equal(stream.chunks.length, queued, 'a batch after the drain went to the stream');
  child.stdin!.end();
  await closed;
  const viaFd = Buffer.concat(echoed).toString();
  // What the fd took, then what the stream queued, is every batch in order; `last` came through the fd after them.
  assert.ok(viaFd.endsWith(last));
  assert.equal(viaFd.slice(0, -last.length) + stream.text, sent.join(''));
});

test('after a refused batch, later ones queue behind it on the stream, then go to the fd once the stream drained', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-stdout-'));
  const fd = openSync(join(dir, 'closed'), 'w');
  closeSync(fd);
  const stream = new FakeStream();
  const w = new StdoutWriter(fd, stream);
  w.write('one\n', 4, true);
  // The fd number comes back with the next open (POSIX: lowest free), now writable.
  const file = join(dir, 'out');
  const again = openSync(file, 'w');
  t.after(() => closeSync(again));
  if (again !== fd) {
    t.skip('the fd number was not reused');
    return;
  }
  w.write('two\n', 4, true);
  assert.equal(stream.text, 'one\ntwo\n');
  assert.equal(readFileSync(file, 'utf8'), '');
  stream.drain();
  w.write('three\n', 6, true);
  assert.equal(readFileSync(file, 'utf8'), 'three\n');
  assert.equal(stream.text, 'one\ntwo\n');
});
