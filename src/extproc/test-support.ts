/**
 * Test support for the transport (used by client tests and by the session's tests): a target builder and a call
 * recorder that checks the StreamHandlers contract (onEnd exactly once, never a message after it).
 */
import type { ProcessorTarget } from '../config/model.js';
import type { ProcessingRequest, ProcessingResponse } from './messages.js';
import type { ProcessorClient, ProcessorStream, StreamEnd, OpenOptions } from './transport.js';

/** A plaintext (h2c) target on loopback. */
export function loopbackTarget(port: number, scheme: 'http' | 'https' = 'http', tls?: ProcessorTarget['tls']): ProcessorTarget {
  return { scheme, host: '127.0.0.1', port, display: `${scheme === 'https' ? 'https://' : ''}127.0.0.1:${port}`, tls };
}

/** A recorded call: replies, the end, and contract violations. */
export interface RecordedCall {
  readonly stream: ProcessorStream;
  readonly replies: ProcessingResponse[];
  readonly ended: Promise<StreamEnd>;
  readonly violations: string[];
}

/** Opens a call, records everything, and optionally sends messages (and half-closes). */
export function record(client: ProcessorClient, send: ProcessingRequest[] = [], opts: OpenOptions & { closeSend?: boolean } = {}): RecordedCall {
  const replies: ProcessingResponse[] = [];
  const violations: string[] = [];
  let done = false;
  let resolve!: (e: StreamEnd) => void;
  const ended = new Promise<StreamEnd>((r) => { resolve = r; });
  const stream = client.open({
    onMessage: (m) => {
      if (done) violations.push('onMessage after onEnd');
      replies.push(m);
    },
    onEnd: (e) => {
      if (done) violations.push('onEnd twice');
      done = true;
      resolve(e);
    },
  }, opts.metadata ? { metadata: opts.metadata } : {});
  for (const m of send) stream.send(m);
  if (opts.closeSend) stream.closeSend();
  return { stream, replies, ended, violations };
}
