/**
 * The sending half of a connection's flow control: HEADERS (split into CONTINUATION frames past the peer's frame
 * size), and each stream's queued DATA, sent as far as both the stream's and the connection's send windows allow.
 * Streams held back by a window wait in the order they blocked, until a WINDOW_UPDATE or SETTINGS lets them go on.
 */
import { DEFAULT_MAX_FRAME, DEFAULT_WINDOW, Flag, FrameType, MAX_WINDOW, frame, writeFrameHeader } from './frames.js';
import { wake, type WireStream } from './stream.js';

/** What the sender needs from its connection. */
export interface SendTarget {
  /** Queues bytes on the socket (all writes of one tick go out together). */
  write(buf: Buffer): void;
  /** END_STREAM went out for `s`. */
  localEnded(s: WireStream): void;
  /** True while `s`'s writer should keep waiting. */
  needsDrain(s: WireStream): boolean;
}

export class SendFlow {
  readonly #target: SendTarget;
  /** The peer's connection-level window for our DATA. */
  #window = DEFAULT_WINDOW;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  maxFrame = DEFAULT_MAX_FRAME;
  /** Streams with DATA held back by flow control, in the order they blocked. */
  readonly #blocked = new Set<WireStream>();

  constructor(target: SendTarget) {
    this.#target = target;
  }

  /** Adds a connection WINDOW_UPDATE's increment and sends what it lets out; false when the window overflows. */
  grow(increment: number): boolean {
    this.#window += increment;
    if (this.#window > MAX_WINDOW) return false;
    this.flushBlocked();
    return true;
  }

  /** Sends the HEADERS of a stream that just got its id. */
  headers(s: WireStream): void {
    const block = s.block;
    const max = this.maxFrame;
    if (block.length <= max) {
      const out = Buffer.allocUnsafe(9 + block.length);
      writeFrameHeader(out, 0, block.length, FrameType.Headers, Flag.EndHeaders, s.id);
      block.copy(out, 9);
      this.#target.write(out);
      return;
    }
    for (let at = 0; at < block.length; at += max) {
      const part = block.subarray(at, Math.min(block.length, at + max));
      const last = at + max >= block.length;
      this.#target.write(frame(at === 0 ? FrameType.Headers : FrameType.Continuation, last ? Flag.EndHeaders : 0, s.id, part));
    }
  }

  /** Sends as much of a stream's queue as both windows allow, then END_STREAM if it is due. */
  flush(s: WireStream): void {
    const out = this.#target;
    while (s.queued > 0) {
      const allowed = Math.min(s.sendWindow, this.#window, this.maxFrame);
      if (allowed <= 0) {
        this.#blocked.add(s);
        return;
      }
      const head = s.queue[0]!;
      let chunk: Buffer;
      if (head.length <= allowed) {
        chunk = head;
        s.queue.shift();
      } else {
        chunk = head.subarray(0, allowed);
        s.queue[0] = head.subarray(allowed);
      }
      s.queued -= chunk.length;
      s.sendWindow -= chunk.length;
      this.#window -= chunk.length;
      const last = s.queued === 0 && s.endQueued;
      const hdr = Buffer.allocUnsafe(9);
      writeFrameHeader(hdr, 0, chunk.length, FrameType.Data, last ? Flag.EndStream : 0, s.id);
      if (chunk.length < 512) out.write(Buffer.concat([hdr, chunk], 9 + chunk.length));
      else {
        out.write(hdr);
        out.write(chunk);
      }
      if (last) {
        out.localEnded(s);
        return;
      }
    }
    this.#blocked.delete(s);
    if (s.endQueued && !s.localEnded) {
      out.write(frame(FrameType.Data, Flag.EndStream, s.id));
      out.localEnded(s);
    }
    if (s.drainWaiters && !out.needsDrain(s)) wake(s);
  }

  /** Lets blocked streams go on, in the order they blocked, while the connection window allows. */
  flushBlocked(): void {
    for (const s of [...this.#blocked]) {
      if (this.#window <= 0) return;
      this.flush(s);
    }
  }

  /** `s` sends nothing more (ended, dropped or gone). */
  forget(s: WireStream): void {
    this.#blocked.delete(s);
  }

  /** The connection is gone. */
  clear(): void {
    this.#blocked.clear();
  }
}
