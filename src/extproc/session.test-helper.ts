/**
 * What the session's unit tests share: an ExtProcConfig with given processing options, a RequestContext, a request
 * and a response with buffered bodies, a scripted fake processor, and the session over them.
 */
import assert from 'node:assert/strict';
import type { ExtProcConfig, ProcessingOptions } from '../config/model.js';
import { GatewayError } from '../errors.js';
import { signalSource } from '../http/abort.js';
import { bufferBody, readAll } from '../http/body.js';
import type { RequestContext } from '../http/context.js';
import { HeaderList } from '../http/headers.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { passThrough, phaseName, type FakeClient, type FakeScript } from './fake-stream.test-helper.js';
import type { ProcessingResponse } from './messages.js';
import { ExtProcSession } from './session.js';

export const opts = (o: Partial<ProcessingOptions> = {}): ProcessingOptions => ({
  requestHeaderMode: 'send', responseHeaderMode: 'send', requestBodyMode: 'none', responseBodyMode: 'none',
  requestTrailerMode: 'skip', responseTrailerMode: 'skip', allowModeOverride: false, ...o,
});
export const config = (o: Partial<ProcessingOptions> = {}, c: Partial<ExtProcConfig> = {}): ExtProcConfig => ({
  target: { scheme: 'http', host: '127.0.0.1', port: 1, display: 'proc:1', tls: undefined },
  failureMode: 'failClosed', processingOptions: opts(o), messageTimeoutMs: 2000, statusOnError: 500,
  metadataContext: undefined, requestAttributes: undefined, responseAttributes: undefined, ...c,
});
export function context(o: { maxBufferSize?: number; signal?: AbortSignal } = {}): RequestContext {
  const signal = o.signal ?? new AbortController().signal;
  return {
    id: 'r1', start: 0, listener: {} as never, route: undefined, backend: undefined,
    signal, abort: signalSource(signal), maxBufferSize: o.maxBufferSize ?? 1024,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', extprocMetadata: {},
    log: { id: 'r1', gateway: 'g', listener: 'l', method: 'GET', path: '/', authority: 'a', protocol: 'HTTP/1.1', remote: '' },
  };
}
export const request = (body: string | null = null, headers: Array<[string, string]> = []): GatewayRequest => ({
  method: body === null ? 'GET' : 'POST', scheme: 'http', authority: 'a.test', path: '/p',
  headers: new HeaderList(headers), body: body === null ? null : bufferBody(body), httpVersion: '1.1', remoteAddress: '127.0.0.1', remotePort: 1,
});
export const response = (body: string | null = 'upstream', headers: Array<[string, string]> = []): GatewayResponse => ({
  status: 200, headers: new HeaderList(headers), body: body === null ? null : bufferBody(body),
});
export const setH = (key: string, value: string) => ({ header: { key, rawValue: Buffer.from(value) } });

/** A script with per-phase overrides; everything else passes through. */
export function script(over: Record<string, (s: Parameters<FakeScript>[1]) => ProcessingResponse | 'none' | void> = {}): FakeScript {
  return (msg, s) => {
    const f = over[phaseName(msg)];
    const r = f ? f(s) : undefined;
    if (r === 'none') return;
    s.reply(r ?? passThrough(msg));
  };
}
export function session(client: FakeClient, cfg = config(), ctx = context(), req = request()) {
  return { s: new ExtProcSession({ config: cfg, ctx, req, client }), ctx, req };
}
export async function text(b: GatewayRequest['body']): Promise<string> {
  return b === null ? '<null>' : (await readAll(b, 1 << 20, () => new Error('big'))).toString();
}
export async function rejects(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof GatewayError, String(e));
    return e;
  }
  assert.fail('expected a GatewayError');
}
