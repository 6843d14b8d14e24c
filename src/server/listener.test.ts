import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { BindServer } from './listener.js';
import { textResponse, type RequestSink } from './respond.js';

const sink: RequestSink = {
  handle(req, _abort, deliver, target) {
    deliver(target, { response: textResponse(200, `${req.httpVersion} ${req.method} ${req.path}`), done: () => undefined });
  },
};

function raw(port: number, text: string): Promise<{ data: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let data = '';
    s.on('data', (c: Buffer) => (data += c.toString()));
    s.on('close', () => resolve({ data, ms: Date.now() - t0 }));
    s.on('error', reject);
  });
}

test('a client that never finishes its request head gets 408 after headersTimeout', { timeout: 10_000 }, async (t) => {
  const server = new BindServer({ host: '127.0.0.1', port: 0, certs: [], sink, headersTimeoutMs: 300 });
  const port = await server.listen();
  t.after(() => server.destroy());
  const r = await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\n');
  assert.match(r.data, /^HTTP\/1\.1 408 /);
  assert.ok(r.ms < 5_000, `took ${r.ms} ms`);
});

test('drain closes idle keep-alive connections and stops accepting', { timeout: 10_000 }, async (t) => {
  const server = new BindServer({ host: '127.0.0.1', port: 0, certs: [], sink });
  const port = await server.listen();
  t.after(() => server.destroy());
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  let data = '';
  s.on('data', (c: Buffer) => (data += c.toString()));
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.write('GET /one HTTP/1.1\r\nHost: a\r\n\r\n');
  while (!data.includes('1.1 GET /one')) await new Promise((r) => s.once('data', r));
  assert.equal(server.connections, 1);
  server.drain();
  await closed;
  await assert.rejects(raw(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
});

test('a client that goes away aborts every exchange still running on its connection, pipelined ones included', { timeout: 10_000 }, async (t) => {
  const aborted: string[] = [];
  let started = 0;
  let allStarted!: () => void;
  const twoStarted = new Promise<void>((r) => (allStarted = r));
  let allAborted!: () => void;
  const twoAborted = new Promise<void>((r) => (allAborted = r));
  const holding: RequestSink = {
    handle(req, abort, deliver, target) {
      // Answers only when aborted, as a pipeline waiting on an upstream does.
      abort.onAbort(() => {
        aborted.push(req.path);
        deliver(target, { response: textResponse(499, 'gone'), done: () => undefined });
        if (aborted.length === 2) allAborted();
      });
      if (++started === 2) allStarted();
    },
  };
  const server = new BindServer({ host: '127.0.0.1', port: 0, certs: [], sink: holding });
  const port = await server.listen();
  t.after(() => server.destroy());
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write('GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n');
  await twoStarted;
  assert.deepEqual(aborted, []);
  s.destroy();
  await twoAborted;
  assert.deepEqual(aborted.sort(), ['/a', '/b']);
});
