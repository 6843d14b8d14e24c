/**
 * Structured access log: one JSON line per request, built from the `AccessLogRecord` published on
 * `channels.requestEnd`. The record never holds headers, so no secret can reach the log.
 */
import { fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import { channels, type RequestEndEvent } from './diagnostics.js';
import type { AccessLogRecord } from '../http/context.js';
import { AccessLogWriter } from './access-log-line.js';
import { StdoutWriter } from './stdout-writer.js';

/**
 * How long a record waits in the queue before the batch is written. A timer, not `setImmediate`: a pending
 * immediate makes the event loop poll without blocking, so under load every turn handled fewer socket events
 * and paid the loop's own costs more often. Same-run A/Bs on the plain-proxy cell (bench/cell.mjs, 10-16
 * alternating runs, median of the paired ratios of CPU per request): 0.83, 0.97 and 0.95.
 */
const FLUSH_AFTER_MS = 20;
/** A queue this long is written at the end of the loop turn instead, so one batch never blocks the loop for long. */
const FLUSH_AT = 512;

/** POSIX PIPE_BUF on Linux. */
const ATOMIC_WRITE = 4096;

/**
 * How many bytes of lines one write to stdout carries. On a pipe or a socket (and a terminal) only writes of at most
 * PIPE_BUF bytes are atomic, and never cut short, so lines from several worker processes, or from the operational
 * log, never land inside one another. A regular file or /dev/null takes any write whole: there 64 KiB at a time
 * saves a system call per ~12 lines.
 */
function stdoutWriteBytes(): number {
  try {
    const st = fstatSync(1);
    return st.isFile() || (st.isCharacterDevice() && !isatty(1)) ? 64 * 1024 : ATOMIC_WRITE;
  } catch {
    return ATOMIC_WRITE;
  }
}

/** The default destination: stdout's fd (see StdoutWriter). */
function stdoutWrite(): (text: string, bytes: number, ascii: boolean) => void {
  const w = new StdoutWriter();
  return (text, bytes, ascii) => w.write(text, bytes, ascii);
}

/** The access log of one process. */
export interface AccessLog {
  /** Turns logging on or off (from `frontendPolicies.accessLog`, re-applied on reload). */
  setEnabled(enabled: boolean): void;
  /** Writes every queued line now (called before exit). */
  flush(): void;
  /** Flushes and unsubscribes. */
  dispose(): void;
}

/** Options for tests; the default writes to stdout. */
export interface AccessLogOptions {
  readonly write?: (chunk: string) => void;
  readonly enabled?: boolean;
}

/**
 * Subscribes the access log. Records are queued and serialized in a batch at most FLUSH_AFTER_MS later, so the
 * request that publishes pays only for an array push; one write per 4 KiB keeps syscalls low under load. The
 * process flushes on exit (`dispose`), so a graceful stop loses no line.
 */
export function createAccessLog(options: AccessLogOptions = {}): AccessLog {
  const write: (text: string, bytes: number, ascii: boolean) => void = options.write ?? stdoutWrite();
  let enabled = options.enabled ?? true;
  let queue: AccessLogRecord[] = [];
  let timer: NodeJS.Timeout | undefined;
  const writer = new AccessLogWriter();
  // Bytes of whole lines per write: stdout's own bound (stdoutWriteBytes), PIPE_BUF for any other destination.
  const maxWrite = options.write === undefined ? stdoutWriteBytes() : ATOMIC_WRITE;

  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    const now = Date.now();
    let out = '';
    let outBytes = 0;
    let outAscii = true;
    for (const r of batch) {
      let line: string;
      let bytes: number;
      let ascii: boolean;
      try {
        const l = writer.line(r, now);
        line = l.text + '\n';
        ascii = l.ascii;
        bytes = ascii ? line.length : Buffer.byteLength(line);
      } catch {
        // A record that cannot be serialized (e.g. cyclic dynamic metadata) must not lose the others.
        line = JSON.stringify({ level: 40, time: now, msg: 'access log record not serializable', id: r.id }) + '\n';
        ascii = false;
        bytes = Buffer.byteLength(line);
      }
      // Writes of at most PIPE_BUF bytes are atomic on a pipe, so lines from several worker processes
      // sharing one stdout never interleave mid-line (stdoutWriteBytes).
      if (outBytes > 0 && outBytes + bytes > maxWrite) {
        write(out, outBytes, outAscii);
        out = '';
        outBytes = 0;
        outAscii = true;
      }
      out += line;
      outBytes += bytes;
      outAscii &&= ascii;
    }
    if (out.length > 0) write(out, outBytes, outAscii);
  };
  const onEnd = (message: unknown): void => {
    if (!enabled) return;
    queue.push((message as RequestEndEvent).record);
    if (timer === undefined) {
      // Ref'd: a process that is about to exit on its own still writes its last lines first.
      timer = setTimeout(flush, FLUSH_AFTER_MS);
    } else if (queue.length === FLUSH_AT) {
      setImmediate(flush);
    }
  };
  channels.requestEnd.subscribe(onEnd);
  return {
    setEnabled(e) {
      enabled = e;
    },
    flush,
    dispose() {
      flush();
      channels.requestEnd.unsubscribe(onEnd);
    },
  };
}
