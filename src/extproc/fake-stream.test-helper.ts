/**
 * An in-memory ProcessorClient for unit tests: every message round-trips through the real codecs (so the
 * session sees exactly what protobufjs decodes, unset oneofs as null), and a script decides the replies.
 */
import { pb, type ProcessingRequest, type ProcessingResponse } from './messages.js';
import type { OpenOptions, ProcessorClient, ProcessorStream, StreamEnd, StreamHandlers } from './transport.js';

/** The script's view of one stream. */
export interface FakeStreamControl {
  readonly sent: ProcessingRequest[];
  readonly options: OpenOptions | undefined;
  reply(msg: ProcessingResponse): void;
  end(end: StreamEnd): void;
  readonly closedSend: boolean;
  readonly cancelled: boolean;
}

/** Decides what to do with each message (reply, end, nothing). */
export type FakeScript = (msg: ProcessingRequest, s: FakeStreamControl) => void;

class FakeStream implements ProcessorStream, FakeStreamControl {
  readonly sent: ProcessingRequest[] = [];
  closedSend = false;
  cancelled = false;
  #ended = false;
  constructor(
    readonly handlers: StreamHandlers,
    readonly options: OpenOptions | undefined,
    readonly script: FakeScript,
    readonly endOkOnCloseSend: boolean,
  ) {}
  send(msg: ProcessingRequest): boolean {
    const decoded = pb.ProcessingRequest.decode(pb.ProcessingRequest.encode(msg).finish());
    this.sent.push(decoded);
    setImmediate(() => {
      if (!this.#ended) this.script(decoded, this);
    });
    return true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  closeSend(): void {
    this.closedSend = true;
    if (this.endOkOnCloseSend) setImmediate(() => this.end({ kind: 'ok' }));
  }
  cancel(): void {
    this.cancelled = true;
    this.end({ kind: 'cancelled' });
  }
  reply(msg: ProcessingResponse): void {
    const decoded = pb.ProcessingResponse.decode(pb.ProcessingResponse.encode(msg).finish());
    setImmediate(() => {
      if (!this.#ended) this.handlers.onMessage(decoded);
    });
  }
  end(end: StreamEnd): void {
    setImmediate(() => {
      if (this.#ended) return;
      this.#ended = true;
      this.handlers.onEnd(end);
    });
  }
}

/** A fake client; `streams` records every opened stream. */
export class FakeClient implements ProcessorClient {
  readonly streams: FakeStreamControl[] = [];
  constructor(
    readonly script: FakeScript,
    readonly opts: { endOkOnCloseSend?: boolean } = {},
  ) {}
  open(handlers: StreamHandlers, options?: OpenOptions): ProcessorStream {
    const s = new FakeStream(handlers, options, this.script, this.opts.endOkOnCloseSend ?? true);
    this.streams.push(s);
    return s;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The pass-through reply for a message (CONTINUE, no mutation). */
export function passThrough(msg: ProcessingRequest): ProcessingResponse {
  if (msg.requestHeaders != null) return { requestHeaders: {} };
  if (msg.responseHeaders != null) return { responseHeaders: {} };
  if (msg.requestBody != null) return { requestBody: {} };
  if (msg.responseBody != null) return { responseBody: {} };
  if (msg.requestTrailers != null) return { requestTrailers: {} };
  return { responseTrailers: {} };
}

/** Which phase a request message is, e.g. `request_headers`. */
export function phaseName(msg: ProcessingRequest): string {
  for (const k of ['requestHeaders', 'responseHeaders', 'requestBody', 'responseBody', 'requestTrailers', 'responseTrailers'] as const) {
    if (msg[k] != null) return k.replace(/[A-Z]/, (c) => `_${c.toLowerCase()}`);
  }
  return 'none';
}
