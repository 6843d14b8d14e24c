/**
 * The input side of the streaming body modes: reads the original body and sends each chunk to the processor
 * (full duplex: at once, even before the headers reply; streamed: after it, with a bounded window of
 * unanswered chunks). It keeps a copy of what it sent while that fits in maxBufferSize, so a failure before
 * anything processed was forwarded can still continue with the original body (SPEC §2 failOpen), and it can
 * switch to passing the original straight through when the processor drops out.
 */
import { BodyChannel } from '../http/body.js';
import type { HeaderList } from '../http/headers.js';
import type { Body } from '../http/message.js';
import { ProcessorFailure, type ProcessorChannel } from './channel.js';
import { trailerMap } from './headers-out.js';
import type { HttpBody, HttpTrailers } from './messages.js';
import type { Direction } from './modes.js';
import { phaseRequest } from './phase-common.js';

/** Most chunks in flight unanswered in streamed mode (Envoy pipelines them with a watermark). */
export const STREAMED_WINDOW = 16;

/** Sends one direction's original body to the processor, chunk by chunk. */
export class InputPump {
  /** Chunks sent in streamed mode and not answered yet, oldest first (the reply replaces or keeps each). */
  readonly inFlight: Buffer[] = [];
  /** True while every byte sent is still held in `#held`. */
  holding = true;
  /** Trailers of the original body, once it ended. */
  trailers: HeaderList | undefined;
  /** True once the whole original body was read. */
  ended = false;
  /** Set when reading the original body failed (the client or upstream went away). */
  error: unknown;
  /** What the last message to the processor was, once sent: its reply ends the body (streamed mode). */
  endsWith: 'body' | 'trailers' | undefined;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #passTo: BodyChannel | undefined;
  #stopped = false;
  #decided: Promise<void>;
  #decide!: () => void;
  #windowWaiter: (() => void) | undefined;
  #onError: ((err: unknown) => void) | undefined;

  constructor(
    readonly ch: ProcessorChannel,
    readonly dir: Direction,
    readonly original: Body,
    readonly mode: 'streamed' | 'fullDuplexStreamed',
    readonly holdLimit: number,
    readonly sendTrailers: boolean,
  ) {
    this.#decided = new Promise((resolve) => {
      this.#decide = resolve;
    });
  }

  /** Starts pumping in the background; `onError` hears about a failing original body. */
  start(onError: (err: unknown) => void): void {
    this.#onError = onError;
    void this.#run();
  }

  /** Stops sending (the processor is done with this direction, or the exchange failed). */
  stop(): void {
    this.#stopped = true;
    this.#decide();
    this.#wakeWindow();
  }

  /** Lets the streamed-mode pump send more after a reply freed the window. */
  wakeWindow(): void {
    this.#wakeWindow();
  }

  /**
   * Continues without the processor: a body made of `prefix` (full duplex: everything read so far, valid
   * only while `holding`; streamed: the chunks still unanswered) followed by the rest of the original.
   */
  passThrough(prefix: readonly Buffer[]): Body {
    const out = new BodyChannel();
    for (const c of prefix) out.pushNoWait(c);
    this.#held = [];
    if (this.ended) out.end(this.trailers);
    else if (this.error !== undefined) out.fail(this.error);
    this.#passTo = out;
    this.#decide();
    this.#wakeWindow();
    return out;
  }

  #wakeWindow(): void {
    const w = this.#windowWaiter;
    this.#windowWaiter = undefined;
    w?.();
  }

  /** Everything sent so far, while `holding`. */
  get held(): readonly Buffer[] {
    return this.#held;
  }

  #hold(chunk: Buffer): void {
    if (!this.holding) return;
    this.#heldBytes += chunk.length;
    if (this.#heldBytes > this.holdLimit) {
      this.holding = false;
      this.#held = [];
      return;
    }
    this.#held.push(chunk);
  }

  /** Sends one message; on a processor failure waits for the session's decision instead. */
  async #send(kind: 'body' | 'trailers', payload: HttpBody | HttpTrailers, last: boolean): Promise<void> {
    const t = this.ch.state.t;
    // During a streamed local reply the processor may still read the request body (reference §1.10).
    if (t !== 'open' && t !== 'localReply') {
      // Failed or closed: the reader side decides (pass through, or stop). Over or answered: stop.
      if (t === 'done' || t === 'responded') this.stop();
      await this.#decided;
      return;
    }
    try {
      const ok = this.ch.send(this.dir, kind, phaseRequest(this.dir, kind, payload), this.mode, last);
      if (!ok && this.ch.state.t === 'open') await Promise.race([this.ch.drained(), this.#decided]);
    } catch (err) {
      if (!(err instanceof ProcessorFailure)) throw err;
      await this.#decided; // the reader side decides: pass through, or stop
    }
  }

  async #run(): Promise<void> {
    const it = this.original[Symbol.asyncIterator]();
    try {
      for (;;) {
        if (this.#stopped && this.#passTo === undefined) {
          // An upstream response body is released (its connection freed). A client request body is left
          // unread instead: cancelling it can take down the connection the reply still has to go out on,
          // and the server layer drains or discards what is left once the response is written.
          if (this.dir === 'response') await it.return?.();
          return;
        }
        const r = await it.next();
        if (r.done === true) break;
        const chunk = r.value;
        if (this.#passTo !== undefined) {
          await this.#passTo.push(chunk);
          continue;
        }
        if (this.#stopped) continue; // send nothing more to the processor; the loop exits above
        this.#hold(chunk);
        if (this.mode === 'streamed') {
          this.inFlight.push(chunk);
          while (this.inFlight.length > STREAMED_WINDOW && !this.#stopped && this.#passTo === undefined) {
            await new Promise<void>((resolve) => {
              this.#windowWaiter = resolve;
            });
          }
          if (this.#stopped || this.#passTo !== undefined) continue;
        }
        await this.#send('body', { body: chunk, endOfStream: false }, false);
        // Full duplex: do not feed the processor faster than the processed body is read.
        if (this.mode === 'fullDuplexStreamed') await Promise.race([this.ch.backlogBelowLimit(this.dir), this.#decided]);
      }
      this.trailers = this.original.trailers();
      this.ended = true;
      if (this.#passTo !== undefined) {
        this.#passTo.end(this.trailers);
        return;
      }
      if (this.#stopped) return;
      // Always end with a message the processor answers, so the reader knows where the body ends:
      // the trailers, or an empty end_of_stream body message (what Envoy does when the end comes late).
      if (this.trailers !== undefined && this.sendTrailers) {
        this.endsWith = 'trailers';
        await this.#send('trailers', { trailers: trailerMap(this.trailers) }, true);
      } else {
        if (this.mode === 'streamed') this.inFlight.push(Buffer.alloc(0));
        this.endsWith = 'body';
        await this.#send('body', { body: Buffer.alloc(0), endOfStream: true }, true);
      }
    } catch (err) {
      this.error = err;
      this.#passTo?.fail(err);
      this.#onError?.(err);
    }
  }
}
