import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../errors.js';
import { upstreamError } from './errors.js';

function errno(code: string, message = code): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(message);
  e.code = code;
  return e;
}

test('connect failures map to 503 upstream_connect with a readable reason', () => {
  const e = upstreamError(errno('ECONNREFUSED'), '127.0.0.1:1');
  assert.equal(e.code, 'upstream_connect');
  assert.equal(e.status, 503);
  assert.equal(e.message, 'upstream connect error: connection refused to 127.0.0.1:1');
  assert.equal(upstreamError(errno('ENOTFOUND'), 'x:1').code, 'upstream_connect');
  assert.equal(upstreamError(errno('UND_ERR_CONNECT_TIMEOUT'), 'x:1').code, 'upstream_connect');
  assert.equal(upstreamError(errno('DEPTH_ZERO_SELF_SIGNED_CERT'), 'x:1').code, 'upstream_connect');
  assert.equal(upstreamError(errno('ERR_TLS_CERT_ALTNAME_INVALID'), 'x:1').code, 'upstream_connect');
});

test('resets and protocol errors map to 502, timeouts to 504', () => {
  assert.equal(upstreamError(errno('ECONNRESET'), 'x:1').status, 502);
  assert.equal(upstreamError(new Error('weird'), 'x:1').message, 'upstream reset: weird from x:1');
  // undici wraps socket errors; the cause decides.
  const wrapped = errno('UND_ERR_SOCKET', 'other side closed');
  wrapped.cause = errno('ECONNRESET');
  assert.equal(upstreamError(wrapped, 'x:1').message, 'upstream reset: connection reset from x:1');
  const t = upstreamError(errno('UND_ERR_HEADERS_TIMEOUT'), 'x:1');
  assert.equal(t.code, 'upstream_timeout');
  assert.equal(t.status, 504);
});

test('GatewayErrors (e.g. request_timeout as an abort reason) pass through unchanged', () => {
  const g = new GatewayError('request_timeout', 'request timeout');
  assert.equal(upstreamError(g, 'x:1'), g);
});
