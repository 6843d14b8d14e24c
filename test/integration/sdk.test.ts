/**
 * The processor SDK against the real gateway: the README's processor (run as written, importing the built
 * `tollgate/processor`), chunk transforms in full duplex both ways, buffering a body that ends with trailers
 * (HTTP/2, both directions), out-of-band `ctx.send`, CONTINUE_AND_REPLACE, and ProcessorError under failClosed /
 * failOpen.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  bufferBody, continueAndReplace, GrpcCode, mapChunks, ProcessorError, streamedChunk, type HandlersInput,
} from '../../src/processor/index.js';
import { routesConfig, scopedGateway, scopedProcessor, scopedUpstream } from '../helpers/gateway-fixtures.js';
import { h2RequestOnce } from '../helpers/http-clients.js';
import { runListeningScript } from '../helpers/listening-script.js';
import type { StartedGateway } from '../helpers/start-gateway.js';
import { tempDir } from '../helpers/temp-files.js';
import type { Upstream } from '../helpers/upstream.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** An upstream and a gateway whose one route sends it through the processor at `target` (`extProc` adds settings). */
async function throughProcessor(t: TestContext, target: string, extProc = ''): Promise<{ gw: StartedGateway; up: Upstream }> {
  const up = await scopedUpstream(t);
  const gw = await scopedGateway(t, routesConfig(`
    - backends: [{host: "127.0.0.1:${up.port}"}]
      policies:
        extProc:
          host: "${target}"
${extProc}`));
  return { gw, up };
}

async function setup(t: TestContext, handlers: HandlersInput, extProc = ''): Promise<{ gw: StartedGateway; up: Upstream }> {
  return throughProcessor(t, await scopedProcessor(t, handlers, { onError: () => {} }), extProc);
}

describe('processor SDK through the gateway', { timeout: 60_000 }, () => {
  test("the README's processor runs as written and does what it says", async (t) => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Write a processor in TypeScript'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(code, 'the section has a ts code block');
    assert.ok(code.split('\n').length <= 25, 'about 20 lines');
    const dir = tempDir(t, 'tg-readme-');
    const file = join(dir, 'my-processor.ts');
    // A user's project is ESM (top-level await in the example).
    writeFileSync(join(dir, 'package.json'), '{"type": "module"}');
    // The built package entry point, as `tollgate/processor` resolves for users.
    const entry = pathToFileURL(join(ROOT, 'dist/processor/index.js')).href;
    writeFileSync(file, code.replace("'tollgate/processor'", `'${entry}'`).replace('port: 9000', 'port: 0'));
    const readmeProcessor = await runListeningScript(t, ROOT, file);
    const { gw, up } = await throughProcessor(t, readmeProcessor.target);
    const denied = await fetch(`${gw.url()}/x`);
    assert.equal(denied.status, 401);
    assert.deepEqual(await denied.json(), { error: 'missing x-api-key' });
    const ok = await fetch(`${gw.url()}/x`, { method: 'POST', headers: { 'x-api-key': 'blue-123' }, body: 'mail ann@example.com now' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-processed-by'), 'my-processor');
    await ok.arrayBuffer();
    const seen = up.requests[0]!;
    assert.equal(seen.headers['x-team'], 'blue');
    assert.equal(seen.headers['x-api-key'], undefined);
    assert.equal(seen.body.toString(), 'mail [email] now');
    assert.equal(await readmeProcessor.stop(), 0);
  });

  test('mapChunks in full duplex (the gateway default) rewrites a 1 MiB body both ways, byte for byte', async (t) => {
    const swap = mapChunks((d) => Buffer.from(d.map((b) => (b === 0x61 ? 0x62 : b))));
    const { gw, up } = await setup(t, { onRequestBody: swap, onResponseBody: swap });
    up.setHandler((req) => ({ status: 200, body: req.body }));
    const body = 'a'.repeat(1024 * 1024);
    const res = await fetch(`${gw.url()}/big`, { method: 'POST', body });
    const text = await res.text();
    assert.equal(up.requests[0]!.body.toString(), 'b'.repeat(1024 * 1024));
    assert.equal(text, 'b'.repeat(1024 * 1024));
  });

  test('bufferBody flushes before trailers in full duplex: whole bodies rewritten, trailers kept (HTTP/2)', async (t) => {
    const upper = bufferBody((b) => b.toString().toUpperCase());
    const { gw, up } = await setup(t, { onRequestBody: upper, onResponseBody: upper });
    up.setHandler((req) => ({ status: 200, body: ['resp-', 'onse'], trailers: { 'x-resp-trailer': 'done', 'x-saw': req.body.toString() } }));
    const r = await h2RequestOnce(gw.url(), { ':method': 'POST', ':path': '/t' }, { body: 'request body', trailers: { 'x-req-trailer': 'sent' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'RESP-ONSE');
    assert.equal(r.trailers['x-resp-trailer'], 'done');
    assert.equal(r.trailers['x-saw'], 'REQUEST BODY');
    assert.equal(up.requests[0]!.trailers['x-req-trailer'], 'sent');
  });

  test('ctx.send answers out of band (a delayed full-duplex chunk); CONTINUE_AND_REPLACE replaces the response', async (t) => {
    const { gw, up } = await setup(t, {
      onRequestBody: (chunk, ctx) => {
        if (!chunk.endOfStream) return streamedChunk('request', chunk.data, false);
        setTimeout(() => ctx.send(streamedChunk('request', Buffer.concat([chunk.data, Buffer.from('+late')]), true)), 20);
        return null;
      },
      onResponseHeaders: () => continueAndReplace('response', { body: 'replaced', set: { 'content-type': 'text/plain' } }),
    });
    const res = await fetch(`${gw.url()}/r`, { method: 'POST', body: 'early' });
    assert.equal(await res.text(), 'replaced');
    assert.equal(res.headers.get('content-type'), 'text/plain');
    assert.equal(up.requests[0]!.body.toString(), 'early+late');
  });

  test('a ProcessorError fails the exchange closed (statusOnError), or lets it continue unmodified when failOpen', async (t) => {
    const refuse = { onRequestHeaders: () => { throw new ProcessorError(GrpcCode.PERMISSION_DENIED, 'refused'); } };
    const closed = await setup(t, refuse, '          failureMode: failClosed\n          statusOnError: 503');
    assert.equal((await fetch(`${closed.gw.url()}/c`)).status, 503);
    assert.equal(closed.up.requests.length, 0);
    const open = await setup(t, refuse, '          failureMode: failOpen\n          processingOptions: {requestBodyMode: none, responseBodyMode: none}');
    const res = await fetch(`${open.gw.url()}/o`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(open.up.requests.length, 1);
  });
});
