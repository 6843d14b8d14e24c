/**
 * Compatibility check: a real session between tollgate and an SDK processor is captured byte for byte (the
 * gateway's ProcessingRequests and the SDK's ProcessingResponses, via the processor's wire tap) and decoded with
 * two proto sets: ours (proto/) and the older Envoy API shipped in @grpc/grpc-js-xds. Every field the old set
 * knows must decode to the same value; the only things the old set cannot see are the fields added since
 * (protocol_config, streamed_response: full duplex), which an Envoy of that age would never send or expect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as loader from '@grpc/proto-loader';
import { bufferBody, createProcessor, headersReply, immediate } from '../../src/processor/index.js';
import { routesConfig, scopedGateway, scopedUpstream } from '../helpers/gateway-fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPS = `${ROOT}/node_modules/@grpc/grpc-js-xds/deps`;
const FILE = 'envoy/service/ext_proc/v3/external_processor.proto';
const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true } as const;

type Method = { requestDeserialize(b: Buffer): unknown; responseDeserialize(b: Buffer): unknown };
function processMethod(includeDirs: string[]): Method {
  const def = loader.loadSync(FILE, { ...OPTIONS, includeDirs });
  return (def['envoy.service.ext_proc.v3.ExternalProcessor'] as unknown as Record<string, Method>)['Process']!;
}

const isEmpty = (v: unknown): boolean =>
  v === null || v === undefined || v === false || v === 0 || v === '' || v === '0' || (Array.isArray(v) && v.length === 0) ||
  (Buffer.isBuffer(v) && v.length === 0) || (typeof v === 'object' && !Buffer.isBuffer(v) && !Array.isArray(v) && Object.keys(v as object).length === 0);

/**
 * Walks the old decoding: every value must equal ours at the same path. Returns the paths of fields ours decoded
 * with a non-default value that the old set does not have.
 */
function compare(old: unknown, ours: unknown, path: string, lost: string[]): void {
  if (Buffer.isBuffer(old)) {
    assert.ok(Buffer.isBuffer(ours) && old.equals(ours), `${path}: bytes differ`);
    return;
  }
  if (Array.isArray(old)) {
    assert.ok(Array.isArray(ours) && ours.length === old.length, `${path}: list length differs`);
    old.forEach((v, i) => compare(v, (ours as unknown[])[i], `${path}[${i}]`, lost));
    return;
  }
  if (typeof old === 'object' && old !== null) {
    assert.ok(typeof ours === 'object' && ours !== null, `${path}: ours is ${String(ours)}`);
    const o = ours as Record<string, unknown>;
    // A oneof's virtual field (e.g. `mutation: 'streamed_response'`) names the member that is set; the member
    // itself is reported when the old set lacks it.
    const virtualFor = (k: string, v: unknown) => typeof v === 'string' && v in o && !(v in old) && k !== v;
    for (const [k, v] of Object.entries(o)) if (!(k in old) && !isEmpty(v) && !virtualFor(k, v)) lost.push(`${path}.${k}`);
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined && virtualFor(k, o[k])) continue;
      compare(v, o[k], `${path}.${k}`, lost);
    }
    return;
  }
  assert.equal(old, ours, `${path}: value differs`);
}

test('a captured tollgate ⇄ SDK session decodes the same with our protos and the old Envoy protos', { timeout: 60_000 }, async (t) => {
  const oldProto = processMethod([`${DEPS}/envoy-api`, `${DEPS}/xds`, `${DEPS}/protoc-gen-validate`, `${DEPS}/googleapis`]);
  const ourProto = processMethod([`${ROOT}/proto`]);
  const wire: Array<{ dir: 'in' | 'out'; bytes: Buffer }> = [];
  const processor = createProcessor({
    onRequestHeaders: (h) => {
      if (h.get(':path') === '/deny') {
        return immediate({ status: 403, headers: { 'x-denied': 'yes' }, body: 'denied', grpcStatus: 7, details: 'compat test', dynamicMetadata: { why: 'path' } });
      }
      return headersReply('request', {
        set: { 'x-set': 'one' }, append: [['x-append', 'two']], addIfAbsent: { 'x-absent': 'three' }, remove: ['x-remove-me'],
        dynamicMetadata: { team: { name: 'compat', n: 2, ok: true, list: ['a', 1] } },
        modeOverride: { responseHeader: 'send' },
      });
    },
    onRequestBody: bufferBody((b) => b.toString().toUpperCase()),
    onResponseHeaders: () => headersReply('response', { set: { 'x-resp': 'r' }, clearRouteCache: false }),
  }, { tap: (dir, bytes) => wire.push({ dir, bytes: Buffer.from(bytes) }) });
  const { target } = await processor.listen();
  t.after(() => processor.close({ graceMs: 0 }));
  const up = await scopedUpstream(t);
  const ext = (modes: string) => `
        extProc:
          host: "${target}"
          requestAttributes: {path: "request.path"}
          metadataContext: {team: {route: "request.path"}}
          processingOptions: {${modes}}`;
  const gw = await scopedGateway(t, routesConfig(`
    - matches: [{path: {exact: /buffered}}]
      backends: [{host: "127.0.0.1:${up.port}"}]
      policies:${ext('requestBodyMode: buffered, responseBodyMode: buffered')}
    - matches: [{path: {exact: /duplex}}]
      backends: [{host: "127.0.0.1:${up.port}"}]
      policies:${ext('requestBodyMode: fullDuplexStreamed, responseBodyMode: fullDuplexStreamed')}
    - backends: [{host: "127.0.0.1:${up.port}"}]
      policies:${ext('requestBodyMode: none, responseBodyMode: none')}
`));

  const runs: Array<{ name: string; from: number; to: number }> = [];
  for (const [name, init] of [
    ['buffered', { method: 'POST', body: 'hello', headers: { 'x-remove-me': '1' } }],
    ['deny', {}],
    ['duplex', { method: 'POST', body: 'streamed body' }],
  ] as const) {
    const from = wire.length;
    const res = await fetch(`${gw.url()}/${name}`, init);
    await res.arrayBuffer();
    if (name === 'deny') assert.equal(res.status, 403);
    else assert.equal(res.headers.get('x-resp'), 'r');
    // The exchange is complete once the processor has no stream left.
    while (processor.activeStreams > 0) await new Promise((r) => setTimeout(r, 10));
    runs.push({ name, from, to: wire.length });
  }
  assert.equal(up.requests[0]?.body.toString(), 'HELLO');

  const lostBy: Record<string, Set<string>> = {};
  for (const run of runs) {
    const lost = new Set<string>();
    for (const { dir, bytes } of wire.slice(run.from, run.to)) {
      const old = dir === 'in' ? oldProto.requestDeserialize(bytes) : oldProto.responseDeserialize(bytes);
      const ours = dir === 'in' ? ourProto.requestDeserialize(bytes) : ourProto.responseDeserialize(bytes);
      const paths: string[] = [];
      compare(old, ours, dir, paths);
      for (const p of paths) lost.add(p);
    }
    lostBy[run.name] = lost;
  }
  // Headers, bodies, attributes, metadata, mutations, immediate responses: all visible to the old protos.
  // Only the stream's protocol_config (added with full duplex) is new; full duplex adds streamed_response.
  assert.deepEqual([...lostBy['buffered']!], ['in.protocol_config']);
  assert.deepEqual([...lostBy['deny']!], ['in.protocol_config']);
  assert.deepEqual([...lostBy['duplex']!].sort(), ['in.protocol_config', 'out.request_body.response.body_mutation.streamed_response', 'out.response_body.response.body_mutation.streamed_response']);
  const kinds = wire.map((w) => (w.dir === 'in' ? `>${(ourProto.requestDeserialize(w.bytes) as { request: string }).request}` : `<${(ourProto.responseDeserialize(w.bytes) as { response: string }).response}`));
  for (const k of ['>request_headers', '>request_body', '>response_headers', '>response_body', '<request_headers', '<request_body', '<immediate_response', '<response_headers', '<response_body']) {
    assert.ok(kinds.includes(k), `captured ${k}`);
  }
});
