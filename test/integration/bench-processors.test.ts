// The bench's no-op ext_proc processors (bench/servers/processor-raw.mjs on raw sockets, processor-lean.mjs on
// node:http2) must be correct gRPC servers, or the bench measures errors: checked here with node:http2 as an
// independent client (it rejects malformed framing) and with the gateway itself in front of a real upstream.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameDecoder, frameMessage } from '../../src/extproc/grpc-framing.js';
import { pb, type ProcessingRequest } from '../../src/extproc/messages.js';
import { routesConfig, scopedGateway, scopedUpstream } from '../helpers/gateway-fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROCESS = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';

/** Starts `bench/servers/<script>` and resolves with the port from its "PORT n" line. */
async function startBenchServer(t: TestContext, script: string): Promise<number> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/servers', script)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { child.kill('SIGKILL'); });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c; });
  return new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /^PORT (\d+)$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before listening: ${err}`)));
  });
}

interface CallResult {
  readonly status: number | undefined;
  readonly grpcStatus: string | undefined;
  readonly grpcMessage: string | undefined;
  /** The oneof field set in each reply, in order. */
  readonly replies: string[];
}

/** One Process call on `session`: writes `messages`, half-closes, collects replies and the status. */
function call(session: http2.ClientHttp2Session, messages: ProcessingRequest[]): Promise<CallResult> {
  const s = session.request({ ':method': 'POST', ':path': PROCESS, 'content-type': 'application/grpc', te: 'trailers' });
  const chunks: Buffer[] = [];
  let head: http2.IncomingHttpHeaders = {};
  let trailers: http2.IncomingHttpHeaders = {};
  s.on('response', (h) => { head = h; });
  s.on('trailers', (h) => { trailers = h; });
  s.on('data', (c: Buffer) => chunks.push(c));
  for (const m of messages) s.write(frameMessage(pb.ProcessingRequest.encode(m).finish()));
  s.end();
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.once('close', () => {
      const decoded = new FrameDecoder().push(Buffer.concat(chunks));
      if (decoded.error !== undefined) return reject(new Error(decoded.error));
      const pick = (k: string): string | undefined => (trailers[k] ?? head[k]) as string | undefined;
      resolve({
        status: head[':status'] as number | undefined,
        grpcStatus: pick('grpc-status'),
        grpcMessage: pick('grpc-message'),
        replies: decoded.messages.map((m) => Object.keys(pb.ProcessingResponse.decode(m)).join(',')),
      });
    });
  });
}

function connect(t: TestContext, port: number, settings: http2.Settings = {}): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings });
  session.on('error', () => {});
  t.after(() => { session.destroy(); });
  return session;
}

const headers = (p: string): ProcessingRequest => ({ requestHeaders: { headers: { headers: [{ key: ':path', rawValue: Buffer.from(p) }] } } });
const exchange: ProcessingRequest[] = [headers('/a'), { responseHeaders: { headers: { headers: [{ key: ':status', rawValue: Buffer.from('200') }] } } }];

for (const script of ['processor-raw.mjs', 'processor-lean.mjs']) {
  test(`${script}: a headers-only exchange gets CONTINUE twice, then OK`, { timeout: 20_000 }, async (t) => {
    const session = connect(t, await startBenchServer(t, script));
    const r = await call(session, exchange);
    assert.deepEqual(r, { status: 200, grpcStatus: '0', grpcMessage: undefined, replies: ['requestHeaders', 'responseHeaders'] });
    const trailersToo = await call(session, [headers('/b'), { requestTrailers: {} }, { responseTrailers: {} }]);
    assert.deepEqual(trailersToo.replies, ['requestHeaders', 'requestTrailers', 'responseTrailers']);
  });

  test(`${script}: 500 concurrent calls on one connection all complete`, { timeout: 30_000 }, async (t) => {
    const session = connect(t, await startBenchServer(t, script));
    const results = await Promise.all(Array.from({ length: 500 }, () => call(session, exchange)));
    assert.equal(results.filter((r) => r.grpcStatus === '0' && r.replies.length === 2).length, 500);
  });
}

test('processor-raw.mjs: replies larger than the client window are split and resumed', { timeout: 20_000 }, async (t) => {
  // A 4-byte stream window: each 9-byte reply must go out in pieces, each after a WINDOW_UPDATE.
  const session = connect(t, await startBenchServer(t, 'processor-raw.mjs'), { initialWindowSize: 4 });
  const results = await Promise.all(Array.from({ length: 20 }, () => call(session, exchange)));
  assert.equal(results.filter((r) => r.grpcStatus === '0' && r.replies.join() === 'requestHeaders,responseHeaders').length, 20);
});

test('processor-raw.mjs: an empty call is answered trailers-only; a body message ends the call UNIMPLEMENTED', { timeout: 20_000 }, async (t) => {
  const session = connect(t, await startBenchServer(t, 'processor-raw.mjs'));
  assert.deepEqual(await call(session, []), { status: 200, grpcStatus: '0', grpcMessage: undefined, replies: [] });
  const body = await call(session, [headers('/c'), { requestBody: { body: Buffer.from('x'), endOfStream: true } }]);
  assert.equal(body.grpcStatus, '12');
  assert.match(decodeURIComponent(body.grpcMessage ?? ''), /headers and trailers only/);
  assert.deepEqual(body.replies, ['requestHeaders']);
  // The connection stays usable after a failed call.
  assert.equal((await call(session, exchange)).grpcStatus, '0');
});

test('processor-raw.mjs behind the gateway: headers-only ext_proc requests reach the upstream and return', { timeout: 30_000 }, async (t) => {
  const port = await startBenchServer(t, 'processor-raw.mjs');
  const up = await scopedUpstream(t);
  const gw = await scopedGateway(t, routesConfig(`
    - backends:
      - host: 127.0.0.1:${up.port}
      policies:
        extProc:
          host: "127.0.0.1:${port}"
          processingOptions: {requestBodyMode: none, responseBodyMode: none, requestTrailerMode: skip, responseTrailerMode: skip}
`));
  const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    const r = await fetch(gw.url() + `/n/${i}`, { signal: AbortSignal.timeout(10_000) });
    return { status: r.status, path: (JSON.parse(await r.text()) as { path: string }).path };
  }));
  assert.deepEqual(answers.filter((a, i) => a.status === 200 && a.path === `/n/${i}`).length, 100);
  assert.equal(up.requests.length, 100);
});
