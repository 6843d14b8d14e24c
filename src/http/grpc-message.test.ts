import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeGrpcMessage } from './grpc-message.js';

test('grpc-message keeps printable ASCII and encodes %, controls and non-ASCII bytes', () => {
  assert.equal(encodeGrpcMessage('ext_proc failed: timeout (504)'), 'ext_proc failed: timeout (504)');
  assert.equal(encodeGrpcMessage('100% done\n'), '100%25 done%0A');
  assert.equal(encodeGrpcMessage('é'), '%C3%A9');
  // Decoding with the standard percent-decoder gives the original text back.
  for (const s of ['a:b/c?d', 'tab\there', 'ünïcødé ✓', '%%%']) assert.equal(decodeURIComponent(encodeGrpcMessage(s)), s);
});
