// Shared pieces of the gRPC spike: the measured message shapes and the grpc-js service definition on our codecs.
import { extProcServiceDef } from '../../dist/processor/services.js';
import type * as grpc from '@grpc/grpc-js';
import type { ProcessingRequest, ProcessingResponse } from '../../dist/extproc/messages.js';

/** 15 request headers (~880 B encoded, a JWT and a cookie included), like reference/node-performance.md B3/B5. */
export const HEADER_LIST: Array<[string, string]> = [
  [':method', 'POST'], [':scheme', 'https'], [':authority', 'api.example.com'], [':path', '/v1/chat/completions?stream=true'],
  ['content-type', 'application/json'], ['accept', 'application/json, text/event-stream'], ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) bench/1.0'],
  ['authorization', `Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.${'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9'.repeat(3)}.c2lnbmF0dXJl`],
  ['cookie', `session=${'a1b2c3d4'.repeat(12)}; theme=dark; lang=en-US; tracking=${'z'.repeat(60)}`],
  ['x-request-id', '7d7a6f3e-4b7c-4e0a-9e55-3c1f0f9b2d11'], ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
  ['accept-encoding', 'gzip, deflate, br'], ['accept-language', 'en-US,en;q=0.9'], ['x-forwarded-for', '203.0.113.7, 198.51.100.2'],
  ['content-length', '1834'],
];

/** Builds the ProcessingRequest from the header list (as a gateway would per request). */
export function buildRequest(): ProcessingRequest {
  return {
    requestHeaders: { headers: { headers: HEADER_LIST.map(([key, v]) => ({ key, rawValue: Buffer.from(v, 'latin1') })) }, endOfStream: false },
  };
}

/** The server's reply: set 2 headers, remove 1. */
export const REPLY: ProcessingResponse = {
  requestHeaders: {
    response: {
      headerMutation: {
        setHeaders: [{ header: { key: 'x-a', rawValue: Buffer.from('1') } }, { header: { key: 'x-b', rawValue: Buffer.from('two') } }],
        removeHeaders: ['cookie'],
      },
    },
  },
};

/** The Process method on our generated protobufjs codecs (custom serialize/deserialize). */
export const PROCESS: grpc.ServiceDefinition = extProcServiceDef();
