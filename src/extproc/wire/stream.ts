/**
 * The types a WireConnection shares with its owners: one request stream's state (WireStream), what a stream reports
 * to its call (StreamSink, StreamLoss), and what the connection reports to its link (ConnectionEvents).
 */
import type { ProcessorTarget } from '../../config/model.js';
import { STREAM_WINDOW } from './limits.js';

/** Decoded header fields; repeated names keep the last value except where it matters to us. */
export type HeaderMap = Record<string, string>;

/**
 * Why a stream stopped without a clean end from the peer:
 * - `unconnected`: the connection never got to HTTP/2 (dial, TLS or preface failed); `message` says why;
 * - `refused`: the peer did not process it (REFUSED_STREAM, above a GOAWAY's last stream id, ids spent);
 * - `reset`: the peer reset it (RST_STREAM with a code other than REFUSED_STREAM; `message` is the code's name);
 * - `lost`: the connection failed or closed while the stream was open; `message` says why;
 * - `closed`: the stream never went out because our side closed the connection (`close`);
 * - `protocol`: the peer broke the protocol on this stream only; we reset it (`message` says what the peer did).
 */
export interface StreamLoss {
  readonly kind: 'unconnected' | 'refused' | 'reset' | 'lost' | 'closed' | 'protocol';
  readonly message: string;
}

/** What a stream reports to its owner (the gRPC call). */
export interface StreamSink {
  /** The response headers (first HEADERS) or trailers (a later HEADERS, which ends the stream). */
  onHeaders(headers: HeaderMap, endStream: boolean): void;
  /** A DATA payload (padding removed); call `consumed()` once its bytes are processed. */
  onData(payload: Buffer, endStream: boolean): void;
  /** The stream is gone without a clean end: reset by the peer, refused, or the connection was lost. */
  onLost(loss: StreamLoss): void;
}

/** One request stream on the connection. Created by `WireConnection.open`. */
export class WireStream {
  id = 0;
  sink: StreamSink;
  /** Peer's window for our DATA on this stream. */
  sendWindow: number;
  /** What we allow the peer to send before our next WINDOW_UPDATE. */
  recvWindow = STREAM_WINDOW;
  /** Bytes delivered and processed but not yet given back by a WINDOW_UPDATE. */
  recvUnacked = 0;
  /** Outgoing DATA not yet allowed out by flow control. */
  queue: Buffer[] = [];
  queued = 0;
  /** END_STREAM waits behind the queue. */
  endQueued = false;
  localEnded = false;
  remoteEnded = false;
  gotHeaders = false;
  closed = false;
  drainWaiters: Array<() => void> | undefined;
  readonly block: Buffer;

  constructor(sink: StreamSink, block: Buffer, sendWindow: number) {
    this.sink = sink;
    this.block = block;
    this.sendWindow = sendWindow;
  }
}

/** Releases the writers waiting for a stream to drain (it drained, ended, or is gone). */
export function wake(s: WireStream): void {
  const waiters = s.drainWaiters;
  s.drainWaiters = undefined;
  if (waiters) for (const w of waiters) w();
}

/** Connection-level events for the owner (the link that dials and replaces connections). */
export interface ConnectionEvents {
  /** The server's SETTINGS arrived: the connection speaks HTTP/2. */
  onReady(): void;
  /** The connection will take no new streams (GOAWAY received, ids exhausted, or closing). */
  onDraining(): void;
  /** The socket is gone; `error` says why when it was not a clean close after draining. */
  onClosed(error: string | undefined, wasReady: boolean): void;
  /** Any frame arrived (the connection is alive). */
  onTraffic(): void;
}

/** What the connection needs to dial. */
export interface DialOptions {
  readonly target: ProcessorTarget;
  readonly connectTimeoutMs: number;
}
