// The lean bench ext_proc processor: the same replies as processor.mjs (the SDK pass-through, plus an uppercased
// buffered request body), served straight on node:http2 (h2c, prior knowledge) with tollgate's own gRPC framing
// and protobuf codecs instead of @grpc/grpc-js, so the processor costs little CPU on the core it shares with wrk
// and the upstream, and the ext_proc cells measure the gateway. Prints "PORT n" when listening.
// Replies, per ProcessingRequest (exactly one, as the SDK's pass-through):
//   request/response headers, request/response trailers → CONTINUE without mutation (constant, encoded once);
//   a body chunk in a FULL_DUPLEX_STREAMED direction (from the stream's first protocol_config) → echoed as a
//   streamed_response chunk with its end_of_stream; otherwise a request body → replaced by its uppercased bytes,
//   a response body → CONTINUE. observability_mode messages get no reply (as in the SDK).
import http2 from 'node:http2';
import { FrameDecoder, frameMessage } from '../../dist/extproc/grpc-framing.js';
import { pb } from '../../dist/extproc/messages.js';
import { decodeHealthRequest, encodeHealthResponse } from '../../dist/processor/services.js';
import { upper } from './upper.mjs';

const PROCESS_PATH = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
const HEALTH_PATH = '/grpc.health.v1.Health/Check';
const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';
const FULL_DUPLEX_STREAMED = 4; // ProcessingMode.BodySendMode
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024; // the SDK's default maxMessageBytes

const frame = (reply) => frameMessage(pb.ProcessingResponse.encode(reply).finish());
// The constant replies, framed once and reused (a Buffer may be written to any number of streams). Byte for byte
// what the SDK's headersReply/bodyReply/trailersReply send (an empty CommonResponse on headers and body replies),
// so the gateway decodes the same messages whichever processor the bench runs.
const REQUEST_HEADERS = frame({ requestHeaders: { response: {} } });
const RESPONSE_HEADERS = frame({ responseHeaders: { response: {} } });
const REQUEST_TRAILERS = frame({ requestTrailers: {} });
const RESPONSE_TRAILERS = frame({ responseTrailers: {} });
const RESPONSE_BODY = frame({ responseBody: { response: {} } });

const RESPONSE_HEAD = { ':status': 200, 'content-type': 'application/grpc' };
const WAIT_FOR_TRAILERS = { waitForTrailers: true };
const OK_TRAILERS = { 'grpc-status': '0' };

// grpc-message is percent-encoded (PROTOCOL-HTTP2.md): everything outside printable ASCII, and '%'.
const grpcMessage = (s) => s.replace(/[^\x20-\x24\x26-\x7e]/g, (c) => encodeURIComponent(c));

/** Trailers-only answer (no messages): for calls we do not serve. */
function refuse(stream, status, grpcStatus, message) {
  stream.on('error', noop);
  try {
    stream.respond({ ':status': status, 'content-type': 'application/grpc', 'grpc-status': String(grpcStatus), 'grpc-message': grpcMessage(message) }, { endStream: true });
  } catch {}
}

/** One Process call. Handlers are bound once per stream; the per-message path allocates only the decode and body replies. */
class Call {
  constructor(stream) {
    this.stream = stream;
    this.decoder = new FrameDecoder(MAX_MESSAGE_BYTES);
    this.first = true;
    this.requestDuplex = false;
    this.responseDuplex = false;
    this.status = 0;
    this.message = '';
    this.done = false; // our side ended (OK or error): ignore further input
    this.onData = this.onData.bind(this);
    this.onEnd = this.onEnd.bind(this);
    this.onWantTrailers = this.onWantTrailers.bind(this);
    this.onDrain = this.onDrain.bind(this);
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('wantTrailers', this.onWantTrailers);
    stream.on('error', noop); // a reset or lost connection; 'close' follows and the call is simply dropped
    try {
      stream.respond(RESPONSE_HEAD, WAIT_FOR_TRAILERS);
    } catch {
      this.done = true; // reset before we could answer
    }
  }

  onData(chunk) {
    if (this.done) return;
    const { messages, error } = this.decoder.push(chunk);
    for (let i = 0; i < messages.length && !this.done; i++) this.handle(messages[i]);
    if (error !== undefined) this.fail(13, error);
  }

  handle(bytes) {
    let msg;
    try {
      msg = pb.ProcessingRequest.decode(bytes);
    } catch (err) {
      return this.fail(13, `cannot decode a ProcessingRequest: ${err.message}`);
    }
    if (this.first) {
      this.first = false;
      const pc = msg.protocolConfig;
      if (pc) {
        this.requestDuplex = pc.requestBodyMode === FULL_DUPLEX_STREAMED;
        this.responseDuplex = pc.responseBodyMode === FULL_DUPLEX_STREAMED;
      }
    }
    let out;
    if (msg.requestHeaders) out = REQUEST_HEADERS;
    else if (msg.responseHeaders) out = RESPONSE_HEADERS;
    else if (msg.requestBody) {
      const b = msg.requestBody;
      out = this.requestDuplex
        ? frame({ requestBody: { response: { bodyMutation: { streamedResponse: { body: b.body, endOfStream: !!b.endOfStream } } } } })
        : frame({ requestBody: { response: { bodyMutation: { body: upper(b.body) } } } });
    } else if (msg.responseBody) {
      const b = msg.responseBody;
      out = this.responseDuplex
        ? frame({ responseBody: { response: { bodyMutation: { streamedResponse: { body: b.body, endOfStream: !!b.endOfStream } } } } })
        : RESPONSE_BODY;
    } else if (msg.requestTrailers) out = REQUEST_TRAILERS;
    else if (msg.responseTrailers) out = RESPONSE_TRAILERS;
    else return this.fail(3, 'ProcessingRequest with no request phase set'); // the SDK's INVALID_ARGUMENT
    if (msg.observabilityMode) return; // the SDK never answers in observability mode
    // The gateway is not reading our replies: stop reading its messages until it does (HTTP/2 flow control).
    if (!this.stream.write(out) && !this.stream.isPaused()) {
      this.stream.pause();
      this.stream.once('drain', this.onDrain);
    }
  }

  onDrain() {
    this.stream.resume();
  }

  /** The gateway half-closed: everything was answered synchronously, so end with the status. */
  onEnd() {
    if (this.done) return;
    if (this.decoder.pendingBytes > 0) return this.fail(13, 'the request stream ended inside a gRPC message');
    this.done = true;
    if (!this.stream.destroyed) this.stream.end();
  }

  fail(code, message) {
    if (this.done) return;
    this.done = true;
    this.status = code;
    this.message = message;
    if (!this.stream.destroyed) this.stream.end();
  }

  onWantTrailers() {
    try {
      this.stream.sendTrailers(this.status === 0 ? OK_TRAILERS : { 'grpc-status': String(this.status), 'grpc-message': grpcMessage(this.message) });
    } catch {} // the stream was reset meanwhile
  }
}

function noop() {}

/** grpc.health.v1.Health/Check, as the SDK answers it (SERVING for "" and the ext_proc service). */
function healthCheck(stream) {
  const parts = [];
  stream.on('error', noop);
  stream.on('data', (c) => parts.push(c));
  stream.on('end', () => {
    const { messages, error } = new FrameDecoder(1024).push(Buffer.concat(parts));
    let service;
    try {
      service = error === undefined && messages.length === 1 ? decodeHealthRequest(messages[0]).service : undefined;
    } catch {}
    if (service === undefined) return refuse(stream, 200, 13, 'malformed HealthCheckRequest');
    if (service !== '' && service !== EXT_PROC_SERVICE) return refuse(stream, 200, 5, `unknown service ${service}`);
    try {
      stream.respond(RESPONSE_HEAD, WAIT_FOR_TRAILERS);
      stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
      stream.end(frameMessage(encodeHealthResponse({ status: 1 })));
    } catch {}
  });
}

const server = http2.createServer({ maxSessionMemory: Number.MAX_SAFE_INTEGER }); // as grpc-js: no session memory cap
server.on('connection', (socket) => socket.setNoDelay(true));
server.on('sessionError', noop);
server.on('stream', (stream, headers) => {
  const path = headers[':path'];
  if (headers[':method'] !== 'POST') return refuse(stream, 405, 12, 'only POST is supported');
  if (!/^application\/grpc(?:$|[+;])/i.test(headers['content-type'] ?? '')) return refuse(stream, 415, 12, 'content-type is not application/grpc');
  if (path === PROCESS_PATH) return void new Call(stream);
  if (path === HEALTH_PATH) return healthCheck(stream);
  refuse(stream, 200, 12, `unknown method ${path}`);
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
const stop = () => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
