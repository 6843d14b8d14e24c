/**
 * Answers sent before the client finished its upload (HTTP/1.1): an upstream's early 401 or 200, the gateway's own
 * 413. A client that sends its whole body before it reads a byte (Python's `requests`, many SDKs) must still get
 * the answer: the gateway reads and drops the rest of the upload instead of closing on it (a close with unread
 * bytes is a reset, and the reset discards the answer on the client's side). An early answer that keeps the
 * connection leaves it usable for the next request once the upload is over, and the upstream connection that
 * stopped reading is let go.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { routesConfig, scopedGateway } from '../helpers/gateway-fixtures.js';

/** 16 MiB: more than loopback's socket buffers hold, so a writer that nobody reads blocks. */
const UPLOAD = 16 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/**
 * An upstream that answers `/early…` at once (its status from the path, `/early-401`) and then reads nothing more,
 * and any other request once its head arrived. `earlyClosed(n)` resolves once n of the early ones closed.
 */
async function earlyUpstream(t: { after(fn: () => void): void }): Promise<{ port: number; earlyClosed: (n: number) => Promise<void> }> {
  let closed = 0;
  const events = new EventEmitter();
  const sockets = new Set<net.Socket>();
  const early = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      if (early.has(socket)) closed++;
      events.emit('closed');
    });
    socket.on('error', () => {});
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString('latin1');
      const m = / \/early-(\d+)/.exec(seen);
      if (m !== null) {
        socket.removeListener('data', onData);
        socket.write(`HTTP/1.1 ${m[1]} Early\r\ncontent-length: 5\r\n\r\nearly`);
        socket.pause();
        early.add(socket);
        return;
      }
      if (seen.includes('\r\n\r\n')) {
        seen = '';
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext');
      }
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  // A paused socket sees no FIN or reset: reading again (and dropping) lets each one find out whether the gateway
  // let it go. One it still held would stay open (or take the rest of an upload nobody waits for).
  const earlyClosed = async (n: number): Promise<void> => {
    for (const s of early) s.resume();
    while (closed < n) await once(events, 'closed');
  };
  return { port: (server.address() as net.AddressInfo).port, earlyClosed };
}

interface Outcome {
  /** Everything the client read, once it had sent its whole upload. */
  text: string;
  /** The socket, still open unless the gateway closed it. */
  socket: net.Socket;
}

/**
 * Sends `head`, then the whole upload (content-length or chunked), reading nothing until it was all written;
 * resolves once the response (`until` in the bytes read) arrived. Rejects if the connection failed first.
 */
function sendAllThenRead(port: number, head: string, chunked: boolean, until: RegExp): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.pause();
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (until.test(text)) resolve({ text, socket });
    });
    socket.on('close', () => reject(new Error(`connection closed after ${JSON.stringify(text.slice(0, 80))}`)));
    socket.once('connect', async () => {
      try {
        socket.write(`${head}${chunked ? 'transfer-encoding: chunked' : `content-length: ${UPLOAD}`}\r\n\r\n`);
        for (let sent = 0; sent < UPLOAD; sent += CHUNK.length) {
          const data = chunked ? Buffer.concat([Buffer.from(`${CHUNK.length.toString(16)}\r\n`), CHUNK, Buffer.from('\r\n')]) : CHUNK;
          if (!socket.write(data)) await once(socket, 'drain');
        }
        if (chunked) socket.write('0\r\n\r\n');
        socket.resume();
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

test('a client that sends its whole upload before reading gets an early answer (upstream 401 and 200, gateway 413)', { timeout: 60_000 }, async (t) => {
  const up = await earlyUpstream(t);
  const gw = await scopedGateway(t, routesConfig(`
    - name: ai
      matches: [{path: {pathPrefix: /v1/}}]
      backends:
      - ai:
          name: local
          provider: {openAI: {model: m}}
          hostOverride: "127.0.0.1:{{UP}}"
    - backends: [{host: "127.0.0.1:{{UP}}"}]
`), { vars: { UP: up.port } });
  const port = gw.ports.PORT!;
  const access = async (path: string): Promise<Record<string, unknown>> =>
    JSON.parse(await gw.waitForLine((l) => l.includes('"kind":"access"') && l.includes(`"path":"${path}"`))) as Record<string, unknown>;

  for (const chunked of [false, true]) {
    const kind = chunked ? 'chunked' : 'length';
    // The upstream's early 401: the connection closes after it (Connection: close), but only once the upload is read.
    const denied = await sendAllThenRead(port, `POST /early-401/${kind} HTTP/1.1\r\nhost: a\r\n`, chunked, /\r\n\r\nearly$/);
    assert.match(denied.text, /^HTTP\/1\.1 401 /);
    assert.match(denied.text, /\r\nconnection: close\r\n/i);
    denied.socket.destroy();
    assert.equal((await access(`/early-401/${kind}`)).status, 401);

    // The upstream's early 200 keeps the connection: once the upload is over, the next request on it is served.
    const early = await sendAllThenRead(port, `POST /early-200/${kind} HTTP/1.1\r\nhost: a\r\n`, chunked, /\r\n\r\nearly$/);
    assert.match(early.text, /^HTTP\/1\.1 200 /);
    const next = new Promise<string>((resolve, reject) => {
      let text = '';
      early.socket.removeAllListeners('data').removeAllListeners('close').removeAllListeners('error');
      early.socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.endsWith('\r\n\r\nnext')) resolve(text);
      });
      early.socket.on('error', reject);
      early.socket.on('close', () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
    });
    early.socket.write(`GET /next/${kind} HTTP/1.1\r\nhost: a\r\n\r\n`);
    assert.match(await next, /^HTTP\/1\.1 200 /);
    early.socket.destroy();
  }

  // The gateway's own 413 (an AI request body over maxBufferSize, 2 MiB by default) reaches the client too.
  const tooLarge = await sendAllThenRead(port, 'POST /v1/chat/completions HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\n', false, /\r\n\r\n\{.*\}$/s);
  assert.match(tooLarge.text, /^HTTP\/1\.1 413 /);
  assert.match(tooLarge.text, /maxBufferSize/);
  tooLarge.socket.destroy();

  // Every upstream connection that answered early and stopped reading was let go (none waits on its upload): the
  // test's own timeout bounds the wait.
  await up.earlyClosed(4);
});

/**
 * Debian's python3-requests (.ci/run installs it): it writes the whole body before it reads the response, and a
 * reset while it writes is a ConnectionError in the user's code.
 */
const PYTHON_CLIENT = `
import sys, requests
r = requests.post(sys.argv[1], data=b"a" * int(sys.argv[2]), timeout=20)
print(r.status_code, r.text)
`;

test("Python's requests gets an upstream's early 401 and early 200 to a 16 MiB upload, not a ConnectionError", { timeout: 60_000 }, async (t) => {
  const up = await earlyUpstream(t);
  const gw = await scopedGateway(t, routesConfig(`
    - backends: [{host: "127.0.0.1:{{UP}}"}]
`), { vars: { UP: up.port } });
  const post = (path: string): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      execFile('/usr/bin/python3', ['-c', PYTHON_CLIENT, `${gw.url()}${path}`, String(UPLOAD)], { timeout: 40_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr.split('\n').slice(-3).join('\n')}`)) : resolve(stdout.trim()),
      );
    });
  const started = Date.now();
  assert.equal(await post('/early-401/python'), '401 early');
  assert.equal(await post('/early-200/python'), '200 early');
  // Not after a keep-alive timeout's reset: the gateway read the rest of each upload at once.
  assert.ok(Date.now() - started < 4_000, `${Date.now() - started} ms`);
});
