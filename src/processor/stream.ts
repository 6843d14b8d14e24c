/**
 * One Process stream on the processor side, independent of the transport: it runs handlers one message at a
 * time (so replies leave in message order), fills in the pass-through replies, tracks body modes, and ends the
 * call. The gRPC server and the in-process test harness both drive it.
 */
import type { ProcessingRequest, ProcessingResponse } from '../extproc/messages.js';
import { structToJson } from '../extproc/struct.js';
import { ProcessorError } from './errors.js';
import { readHeaders, type MessageHeaders } from './headers.js';
import { bodyModeName, type BodyMode } from './modes.js';
import { bodyReply, headersReply, streamedChunk, trailersReply, type Direction } from './replies.js';
import type { BodyChunk, Handler, HandlerResult, HandlersInput, ProcessorContext, ProcessorHandlers, ProtocolConfig, StreamEndReason } from './types.js';

/** Where a stream's output goes. */
export interface StreamSink {
  /** Writes one reply; false means "buffer full", then `drained()` resolves when it is not. */
  write(reply: ProcessingResponse): boolean;
  drained(): Promise<void>;
  /** Ends the call with gRPC OK. */
  end(): void;
  /** Ends the call with an error status. */
  fail(err: ProcessorError): void;
}

/** Stream options shared by every stream of a processor. */
export interface StreamOptions {
  /** Called for handler errors that are not ProcessorErrors (bugs), with the stream id. */
  readonly onError?: (err: unknown, streamId: number) => void;
}

type Phase = 'headers' | 'body' | 'trailers';

function classify(msg: ProcessingRequest): { dir: Direction; phase: Phase } | undefined {
  if (msg.requestHeaders) return { dir: 'request', phase: 'headers' };
  if (msg.requestBody) return { dir: 'request', phase: 'body' };
  if (msg.requestTrailers) return { dir: 'request', phase: 'trailers' };
  if (msg.responseHeaders) return { dir: 'response', phase: 'headers' };
  if (msg.responseBody) return { dir: 'response', phase: 'body' };
  if (msg.responseTrailers) return { dir: 'response', phase: 'trailers' };
  return undefined;
}

const asList = (r: ProcessingResponse | readonly ProcessingResponse[]): readonly ProcessingResponse[] =>
  Array.isArray(r) ? (r as readonly ProcessingResponse[]) : [r as ProcessingResponse];

/** The SDK's pass-through reply for one message (full-duplex chunks are echoed, the flush chunk gets nothing). */
export function passThrough(dir: Direction, phase: Phase, ctx: ProcessorContext, chunk?: BodyChunk): ProcessingResponse | null {
  if (phase === 'headers') return headersReply(dir);
  if (phase === 'trailers') return trailersReply(dir);
  if (ctx.fullDuplex(dir)) return chunk!.synthetic ? null : streamedChunk(dir, chunk!.data, chunk!.endOfStream);
  return bodyReply(dir);
}

/** Drives one stream; call `receive` per message, then `inputEnded` on half-close or `abort` on cancel. */
export class ProcessStream {
  readonly #input: HandlersInput;
  readonly #sink: StreamSink;
  readonly #opts: StreamOptions;
  readonly #abort = new AbortController();
  #handlers: ProcessorHandlers | undefined;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  #first = true;
  #modes: { request: BodyMode; response: BodyMode } = { request: 'none', response: 'none' };
  #bodyOpen = { request: false, response: false };
  #queued = 0;
  readonly ctx: ProcessorContext;
  #message: ProcessingRequest = {};
  #protocol: ProtocolConfig = { requestBodyMode: 'none', responseBodyMode: 'none', sendBodyWithoutWaitingForHeaderResponse: false };
  #attributes: Record<string, Record<string, unknown>> = {};
  #metadata: Record<string, Record<string, unknown>> = {};
  #requestHeaders: MessageHeaders | undefined;
  #responseHeaders: MessageHeaders | undefined;

  constructor(input: HandlersInput, sink: StreamSink, info: { id: number; metadata: Record<string, string> }, opts: StreamOptions = {}) {
    this.#input = input;
    this.#sink = sink;
    this.#opts = opts;
    const self = this;
    this.ctx = {
      streamId: info.id,
      grpcMetadata: info.metadata,
      get message() { return self.#message; },
      get protocolConfig() { return self.#protocol; },
      bodyMode: (dir) => self.#modes[dir],
      fullDuplex: (dir) => self.#modes[dir] === 'fullDuplexStreamed',
      get attributes() { return self.#attributes; },
      get metadataContext() { return self.#metadata; },
      get observabilityMode() { return !!self.#message.observabilityMode; },
      get requestHeaders() { return self.#requestHeaders; },
      get responseHeaders() { return self.#responseHeaders; },
      signal: this.#abort.signal,
      send: (r) => { for (const x of asList(r)) self.#write(x); },
      end: () => self.#finish('ended'),
    };
  }

  /** Messages received but not yet handled (for flow control by the transport). */
  get queued(): number {
    return this.#queued;
  }

  /** True once the call was ended (by us or by the gateway). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Queues one message; resolves when its handler ran and its replies were written. */
  receive(msg: ProcessingRequest): Promise<void> {
    this.#queued++;
    const run = this.#chain.then(() => this.#handle(msg)).finally(() => { this.#queued--; });
    this.#chain = run.catch((err: unknown) => this.#fail(err));
    return this.#chain;
  }

  /** The gateway half-closed: answer what is queued, then end with OK. Resolves when the call is over. */
  inputEnded(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#finish('ok'));
    return this.#chain;
  }

  /** The call is gone (gateway cancel, connection lost, shutdown): handlers' later replies are dropped. */
  abort(reason: StreamEndReason = 'cancelled'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ended(reason);
  }

  #ended(reason: StreamEndReason): void {
    this.#abort.abort(reason);
    try {
      this.#handlers?.onStreamEnd?.(this.ctx, reason);
    } catch (err) {
      this.#opts.onError?.(err, this.ctx.streamId);
    }
  }

  #finish(reason: 'ok' | 'ended'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sink.end();
    this.#ended(reason);
  }

  #fail(err: unknown): void {
    if (this.#closed) return;
    if (!(err instanceof ProcessorError)) this.#opts.onError?.(err, this.ctx.streamId);
    this.#closed = true;
    this.#sink.fail(ProcessorError.from(err));
    this.#ended('error');
  }

  #write(r: ProcessingResponse): boolean {
    if (this.#closed || this.#message.observabilityMode) return true;
    // Track our own overrides so pass-through stays right (gateways accept them only on headers replies).
    if (r.modeOverride && (r.requestHeaders || r.responseHeaders)) {
      if (r.modeOverride.requestBodyMode != null) this.#modes.request = bodyModeName(r.modeOverride.requestBodyMode);
      if (r.modeOverride.responseBodyMode != null) this.#modes.response = bodyModeName(r.modeOverride.responseBodyMode);
    }
    return this.#sink.write(r);
  }

  #observe(msg: ProcessingRequest): void {
    this.#message = msg;
    if (this.#first) {
      this.#first = false;
      const pc = msg.protocolConfig;
      this.#protocol = {
        requestBodyMode: bodyModeName(pc?.requestBodyMode),
        responseBodyMode: bodyModeName(pc?.responseBodyMode),
        sendBodyWithoutWaitingForHeaderResponse: !!pc?.sendBodyWithoutWaitingForHeaderResponse,
      };
      this.#modes = { request: this.#protocol.requestBodyMode, response: this.#protocol.responseBodyMode };
    }
    for (const [k, v] of Object.entries(msg.attributes ?? {})) this.#attributes = { ...this.#attributes, [k]: { ...this.#attributes[k], ...structToJson(v) } };
    const fm = msg.metadataContext?.filterMetadata;
    if (fm) this.#metadata = Object.fromEntries(Object.entries(fm).map(([k, v]) => [k, structToJson(v)]));
  }

  async #handle(msg: ProcessingRequest): Promise<void> {
    if (this.#closed) return;
    this.#observe(msg);
    this.#handlers ??= typeof this.#input === 'function' ? this.#input(this.ctx) : this.#input;
    const kind = classify(msg);
    if (kind === undefined) throw new ProcessorError(3, 'ProcessingRequest with no request phase set');
    const { dir, phase } = kind;
    const h = this.#handlers;
    const cap = dir === 'request' ? 'Request' : 'Response';
    if (phase === 'headers') {
      const headers = readHeaders((msg.requestHeaders ?? msg.responseHeaders)!.headers, !!(msg.requestHeaders ?? msg.responseHeaders)!.endOfStream);
      if (dir === 'request') this.#requestHeaders = headers;
      else this.#responseHeaders = headers;
      return this.#run(h[`on${cap}Headers`], headers, () => passThrough(dir, phase, this.ctx));
    }
    if (phase === 'trailers') {
      if (this.#bodyOpen[dir] && this.ctx.fullDuplex(dir)) await this.#body(dir, { direction: dir, data: Buffer.alloc(0), endOfStream: false, end: true, synthetic: true });
      const trailers = readHeaders((msg.requestTrailers ?? msg.responseTrailers)!.trailers);
      return this.#run(h[`on${cap}Trailers`], trailers, () => passThrough(dir, phase, this.ctx));
    }
    const b = (msg.requestBody ?? msg.responseBody)!;
    const eos = !!b.endOfStream;
    const mode = this.#modes[dir];
    const whole = mode === 'buffered' || mode === 'bufferedPartial';
    return this.#body(dir, { direction: dir, data: Buffer.from(b.body ?? []), endOfStream: eos, end: eos || whole, synthetic: false });
  }

  async #body(dir: Direction, chunk: BodyChunk): Promise<void> {
    this.#bodyOpen[dir] = !chunk.end;
    const h = dir === 'request' ? this.#handlers!.onRequestBody : this.#handlers!.onResponseBody;
    return this.#run(h, chunk, () => passThrough(dir, 'body', this.ctx, chunk));
  }

  async #run<E>(h: Handler<E> | undefined, event: E, fallback: () => ProcessingResponse | null): Promise<void> {
    const out: HandlerResult = h ? await h(event, this.ctx) : undefined;
    const replies = out === undefined ? fallback() : out;
    if (replies === null || this.#closed) return;
    let full = false;
    for (const r of asList(replies)) full = !this.#write(r) || full;
    if (full) await this.#sink.drained();
  }
}
