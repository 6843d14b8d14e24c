import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../errors.js';
import { BodyChannel, bufferBody } from '../http/body.js';
import { HeaderList } from '../http/headers.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { FakeClient } from './fake-stream.test-helper.js';
import type { ProcessingResponse } from './messages.js';
import { config, context, rejects, request, response, script, session, setH, text } from './session.test-helper.js';

describe('ext_proc session: content-length the processor leaves, and trailers of buffered bodies', { timeout: 10_000 }, () => {
  const setCl = (dir: 'request' | 'response', phase: 'Headers' | 'Body', v: string) => (): ProcessingResponse =>
    ({ [`${dir}${phase}`]: { response: { headerMutation: { setHeaders: [setH('content-length', v)] } } } }) as ProcessingResponse;
  const chunked = (text: string, trailers?: HeaderList): BodyChannel => {
    const ch = new BodyChannel();
    ch.pushNoWait(Buffer.from(text));
    ch.end(trailers);
    return ch;
  };

  it('buffered: an unchanged body is checked against the final content-length, from either reply', async () => {
    for (const phase of ['Headers', 'Body'] as const) {
      const client = new FakeClient(script({ [`request_${phase.toLowerCase()}`]: setCl('request', phase, '3') }));
      const { s, req } = session(client, config({ requestBodyMode: 'buffered' }, { failureMode: 'failOpen' }), context(), request('0123456789', [['content-length', '10']]));
      const e = await rejects(s.onRequest(req));
      assert.equal(e.status, 500);
      assert.match(e.message, /^ext_proc failed: invalid header mutation: .*the request content-length says 3 but the request body is 10 bytes \(unchanged\); the processor must set content-length to 10 or remove it$/, phase);
      s.finish();
    }
  });

  it('none: a changed content-length must match the declared length, 0 without a body; unknown length fails', async () => {
    const cases: Array<[GatewayRequest, RegExp | undefined]> = [
      [request('0123456789', [['content-length', '10']]), /request content-length to 3 but the request body is 10 bytes and goes on unchanged/],
      [request(null), /request content-length to 3 but the request has no body; the processor must set content-length to 0/],
      [{ ...request(null), method: 'POST', body: chunked('abc') }, /the request body has no declared length \(chunked\)/],
      [{ ...request(null), method: 'POST', body: Object.assign(bufferBody('abc'), { length: 3 }) }, undefined],
    ];
    for (const [req, expected] of cases) {
      const client = new FakeClient(script({ request_headers: setCl('request', 'Headers', '3') }));
      const { s } = session(client, config({}, { failureMode: 'failOpen' }), context(), req);
      if (expected === undefined) {
        await s.onRequest(req);
        assert.equal(req.headers.get('content-length'), '3');
      } else {
        const e = await rejects(s.onRequest(req));
        assert.equal(e.status, 500);
        assert.match(e.message, expected);
      }
      s.finish();
    }
  });

  it('none: HEAD, 204 and 304 responses are exempt (no body on the wire); a 200 is checked', async () => {
    const run = async (method: string, status: number): Promise<GatewayError | undefined> => {
      const client = new FakeClient(script({ response_headers: setCl('response', 'Headers', '5') }));
      const req = { ...request(null), method };
      const { s } = session(client, config(), context(), req);
      await s.onRequest(req);
      const res: GatewayResponse = { status, headers: new HeaderList(), body: null };
      try {
        await s.onResponse(res);
        // A 204 must not carry content-length at all (RFC 9110 §8.6): the processor's is dropped.
        assert.equal(res.headers.get('content-length'), status === 204 ? undefined : '5');
        return undefined;
      } catch (e) {
        assert.ok(e instanceof GatewayError);
        return e;
      } finally {
        s.finish();
      }
    };
    assert.equal(await run('HEAD', 200), undefined);
    assert.equal(await run('GET', 204), undefined);
    assert.equal(await run('GET', 304), undefined);
    assert.match((await run('GET', 200))!.message, /response content-length to 5 but the response has no body/);
  });

  it('buffered request with trailers: mutated trailers, a body of unknown length and no content-length', async () => {
    for (const mode of ['buffered', 'bufferedPartial'] as const) {
      const client = new FakeClient(script({ request_trailers: () => ({ requestTrailers: { headerMutation: { setHeaders: [setH('x-t', 'mutated')] } } }) }));
      const req: GatewayRequest = { ...request(null), method: 'POST', headers: new HeaderList([['content-length', '4']]), body: chunked('data', new HeaderList([['x-t', 'orig']])) };
      const { s } = session(client, config({ requestBodyMode: mode, requestTrailerMode: 'send', responseHeaderMode: 'skip' }), context(), req);
      await s.onRequest(req);
      assert.equal(req.body!.length, undefined, mode);
      assert.equal(req.headers.has('content-length'), false, mode);
      assert.equal(await text(req.body), 'data');
      assert.deepEqual(req.body!.trailers()!.entries(), [['x-t', 'mutated']], mode);
      s.finish();
    }
  });
});
