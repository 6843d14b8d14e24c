/**
 * 100 MiB up and 100 MiB down through a full-duplex ext_proc route (default options, pass-through processor):
 * byte for byte, with the gateway's peak RSS bounded well below the body size (it never buffers a body); and a
 * client that stops reading stalls the processor and the upstream instead of filling the gateway's memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { digest, generated, generatedSha256, memoryOf } from '../helpers/streams.js';
import { setupExtProc } from '../helpers/ext-proc-harness.js';
import { routesConfig } from '../helpers/gateway-fixtures.js';
import { reply } from '../helpers/ext-proc-server.js';

const MiB = 1024 * 1024;

test('100 MiB each way through full duplex with bounded gateway memory', { timeout: 300_000 }, async (t) => {
  const downSize = (path: string): number | undefined => ({ '/down': 100 * MiB, '/warm-down': 16 * MiB })[path];
  const s = await setupExtProc(t, {
    upstream: (req) => {
      const size = downSize(req.path);
      return size !== undefined ? { status: 200, body: { size } } : { status: 200, body: JSON.stringify({ bytes: req.bodyBytes, sha: req.bodySha256 }) };
    },
  });
  const pid = s.gw.child.pid!;
  // Warm up with 16 MiB each way first: the heap's young generation grows to its working size under streaming
  // load (up to 64 MiB with the launcher's --max-semi-space-size=32), which is capacity, not bodies held. A
  // gateway that buffered bodies would still grow by about the body size in the measured 100 MiB transfers.
  const warm = 16 * MiB;
  await (await request(s.url + '/warm', { method: 'POST', body: Readable.from(generated(warm)) })).body.json();
  assert.equal((await digest((await request(s.url + '/warm-down')).body)).bytes, warm);
  const before = memoryOf(pid);
  const size = 100 * MiB;

  const up = await request(s.url + '/up', { method: 'POST', body: Readable.from(generated(size)) });
  const seen = (await up.body.json()) as { bytes: number; sha: string };
  assert.equal(up.statusCode, 200);
  assert.equal(seen.bytes, size);
  assert.equal(seen.sha, generatedSha256(size));

  const down = await request(s.url + '/down');
  const got = await digest(down.body);
  assert.equal(got.bytes, size);
  assert.equal(got.sha256, generatedSha256(size));

  const grew = memoryOf(pid).peak - before.peak;
  t.diagnostic(`gateway peak RSS ${(before.peak / MiB).toFixed(0)} MiB after warm-up, +${(grew / MiB).toFixed(1)} MiB over 2 × 100 MiB`);
  assert.ok(grew < 48 * MiB, `gateway peak RSS grew by ${(grew / MiB).toFixed(1)} MiB while streaming 2 × 100 MiB through ext_proc`);
});

/**
 * Resolves once `progress` has not been called for `quietMs` (whatever was moving has stalled), or at once
 * when `done()` is true at a progress call. An observation window for "stays bounded while stalled", not
 * a synchronisation sleep: it restarts on every sign of progress, so a slow machine only makes it longer.
 */
function untilQuiet(quietMs: number, done: () => boolean): { progress: () => void; quiet: Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let resolve!: () => void;
  const quiet = new Promise<void>((r) => { resolve = r; });
  const progress = (): void => {
    clearTimeout(timer);
    if (done()) resolve();
    else timer = setTimeout(resolve, quietMs);
  };
  return { progress, quiet };
}

/**
 * Observes until the processor stalls (no progress for a second) or `done()`: points the test's progress
 * hook at the observer through `hook` for the window, and unhooks it afterwards.
 */
async function untilStalled(done: () => boolean, hook: (progress: () => void) => void): Promise<void> {
  const watch = untilQuiet(1000, done);
  hook(watch.progress);
  watch.progress();
  await watch.quiet;
  hook(() => undefined);
}

test('a slow client holds back the processor and the upstream: the gateway does not buffer the body', { timeout: 300_000 }, async (t) => {
  const size = 96 * MiB;
  let seen = 0; // response body bytes the processor received
  let progress: () => void = () => undefined;
  const s = await setupExtProc(t, {
    upstream: () => ({ status: 200, body: { size } }),
    handlers: {
      onResponseBody: (msg) => {
        seen += msg.responseBody!.body?.length ?? 0;
        progress();
        return undefined; // the default echo
      },
    },
  });
  const pid = s.gw.child.pid!;
  await (await request(s.url + '/warm', { method: 'POST', body: 'x' })).body.text();
  seen = 0;
  const before = memoryOf(pid);
  const res = await request(s.url + '/slow-reader');
  const it = res.body[Symbol.asyncIterator]();
  let got = (await it.next()).value.length as number;
  // Stop reading until the processor sees no more body: with end-to-end flow control everything upstream of
  // us stalls too. (Without it the whole body would flow and `seen` would reach `size`.)
  await untilStalled(() => seen >= size, (p) => (progress = p));
  const stalledSeen = seen;
  const stalled = memoryOf(pid).rss - before.rss;
  for (let r = await it.next(); r.done !== true; r = await it.next()) got += (r.value as Buffer).length;
  assert.equal(got, size);
  assert.ok(stalledSeen < size / 2, `the processor received ${(stalledSeen / MiB).toFixed(1)} MiB of ${size / MiB} while the client was not reading`);
  assert.ok(stalled < 32 * MiB, `gateway RSS grew by ${(stalled / MiB).toFixed(1)} MiB while the client was not reading`);
});

test('a processor that sends far more than it receives is held back by HTTP/2 flow control while the client is slow', { timeout: 120_000 }, async (t) => {
  // MiB out per KiB in: one input chunk, so holding back the input alone cannot bound it. Large enough that
  // the RSS bound below discriminates despite garbage from what legitimately flowed before the stall.
  const perKiB = 128;
  const block = Buffer.alloc(MiB, 'y');
  let produced = 0; // MiB the processor managed to hand to its stream
  let finished = false;
  let bytesIn = 0;
  let onProgress: () => void = () => undefined;
  const s = await setupExtProc(t, {
    upstream: (req) => (req.path === '/warm' ? { status: 200, body: '' } : { status: 200, body: { size: 1024 } }),
    handlers: {
      // perKiB MiB out per KiB in; waits for its stream to drain before each next MiB, as a real server would.
      onResponseBody: async (msg, ctx) => {
        const b = msg.responseBody!;
        bytesIn += b.body?.length ?? 0;
        while (produced < Math.floor(bytesIn / 1024) * perKiB) {
          await ctx.send(reply.streamed('response', block, false));
          produced++;
          onProgress();
          await ctx.writable();
        }
        if (b.endOfStream === true) {
          finished = true;
          onProgress();
          return reply.streamed('response', new Uint8Array(), true);
        }
        return null;
      },
    },
  });
  const pid = s.gw.child.pid!;
  await (await request(s.url + '/warm')).body.text();
  finished = false; // the warm-up's empty body ended its own stream
  const before = memoryOf(pid);
  const res = await request(s.url + '/amplified');
  assert.equal(res.statusCode, 200);
  const it = res.body[Symbol.asyncIterator]();
  let got = ((await it.next()).value as Buffer).length;
  // The client stops reading. Observe until the processor made no progress for a second (it is held back)
  // or it finished (nothing held it back: the gateway buffered everything).
  await untilStalled(() => finished, (p) => (onProgress = p));
  const stalledProduced = produced;
  const stalledRss = memoryOf(pid).rss - before.rss;
  t.diagnostic(`stalled: processor produced ${stalledProduced} MiB, gateway RSS +${(stalledRss / MiB).toFixed(1)} MiB`);
  for (let r = await it.next(); r.done !== true; r = await it.next()) got += (r.value as Buffer).length;
  assert.equal(got, perKiB * MiB, 'every processed byte reaches the client once it reads');
  assert.ok(stalledProduced < perKiB / 2, `the processor produced ${stalledProduced} of ${perKiB} MiB while the client was not reading`);
  // Without pause() the gateway held all 128 MiB (RSS +130 MiB and more); with it ~16 MiB flowed, and RSS
  // also carries the not yet collected garbage of what did flow.
  assert.ok(stalledRss < 80 * MiB, `gateway RSS grew by ${(stalledRss / MiB).toFixed(1)} MiB while the client was not reading`);
});

test('a streaming-echo upstream (full-duplex request, response headers only) never deadlocks on flow control', { timeout: 60_000 }, async (t) => {
  // The upstream answers at once and echoes the request body as it reads it, with backpressure: while the
  // gateway waits for the processor's response_headers reply it does not read the upstream's response (body
  // mode none), so the upstream stops reading the request. Replies share one processor stream: the gateway must keep
  // reading it (the response_headers reply sits behind unread request-body answers) instead of pausing.
  const echoServer = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    req.pipe(res);
  });
  await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { echoServer.closeAllConnections(); echoServer.close(() => resolve()); }));
  const echoPort = (echoServer.address() as AddressInfo).port;
  const s = await setupExtProc(t, {
    handlers: {
      // A slow answer to the response headers, sent out of band so request-body echoes keep flowing meanwhile
      // (as a concurrent processor would): by the time it comes, unread request answers have piled up.
      onResponseHeaders: (_msg, ctx) => {
        setTimeout(() => void ctx.send(reply.headers('response')), 1000).unref();
        return null;
      },
    },
    config: (procHost) => routesConfig(`
    - backends:
      - host: 127.0.0.1:${echoPort}
      policies:
        extProc:
          host: "${procHost}"
          processingOptions:
            requestBodyMode: fullDuplexStreamed
            responseBodyMode: none
`),
  });
  const size = 48 * MiB;
  const res = await request(s.url + '/bidi', { method: 'POST', body: Readable.from(generated(size)) });
  assert.equal(res.statusCode, 200);
  const got = await digest(res.body);
  assert.equal(got.bytes, size);
  assert.equal(got.sha256, generatedSha256(size));
});
