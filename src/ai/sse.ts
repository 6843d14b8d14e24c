/**
 * An incremental server-sent-events parser (WHATWG HTML §9.2.6) that runs beside a forwarded stream:
 * bytes go to the client untouched, and this only reports complete events. Works on bytes so a UTF-8
 * sequence split across chunks is decoded only once its line is complete.
 */

/** One dispatched event: its `event:` name (default `message`) and the joined `data:` lines. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

const LF = 0x0a;
const CR = 0x0d;
/** Default bound on one event (a stream that is not SSE, or hostile): the frontend's default maxBufferSize. */
const DEFAULT_MAX_EVENT = 2 * 1024 * 1024;

/** Parser options. */
export interface SseParserOptions {
  /** Bytes one event may hold (its line being read plus its `data:` values); a larger one is skipped. */
  readonly maxEvent?: number;
  /** Called when the blank line ending a skipped event has been seen; parsing goes on from there. */
  readonly onSkip?: () => void;
}

/**
 * Splits a byte stream into SSE events. `push` each chunk as it passes; `end` flushes nothing (a
 * trailing event without a blank line is not dispatched, per the spec). An event larger than `maxEvent`
 * is skipped: its bytes are dropped as they pass, never kept, until the blank line that ends it; the
 * events after it are reported as usual. Memory stays bounded by about `maxEvent` whatever arrives.
 */
export class SseParser {
  readonly #onEvent: (ev: SseEvent) => void;
  readonly #onSkip: (() => void) | undefined;
  readonly #max: number;
  #partial: Buffer[] = [];
  #partialLen = 0;
  /** The previous chunk ended with CR: a leading LF in the next chunk belongs to that line break. */
  #skipLf = false;
  #data: string[] = [];
  #dataLen = 0;
  #hasData = false;
  #event = '';
  /** Inside an oversized event: lines are dropped until a blank one. */
  #skipping = false;
  /** While skipping: the line being read has bytes, so the next line break does not end the event. */
  #skipLineHasBytes = false;
  #skipped = 0;

  constructor(onEvent: (ev: SseEvent) => void, opts: SseParserOptions = {}) {
    this.#onEvent = onEvent;
    this.#onSkip = opts.onSkip;
    this.#max = opts.maxEvent ?? DEFAULT_MAX_EVENT;
  }

  /** How many oversized events were skipped so far. */
  get skipped(): number {
    return this.#skipped;
  }

  /** Feeds the next chunk of the stream. */
  push(chunk: Uint8Array): void {
    let start = 0;
    let i = 0;
    if (this.#skipLf && chunk.length > 0) {
      this.#skipLf = false;
      if (chunk[0] === LF) start = i = 1;
    }
    for (; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== LF && b !== CR) continue;
      this.#line(chunk.subarray(start, i));
      if (b === CR) {
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === LF) i++;
        } else {
          this.#skipLf = true;
        }
      }
      start = i + 1;
    }
    if (start < chunk.length) this.#keepPartial(chunk.subarray(start));
  }

  #keepPartial(bytes: Uint8Array): void {
    if (this.#skipping) {
      this.#skipLineHasBytes = true;
      return;
    }
    this.#partialLen += bytes.length;
    if (this.#partialLen + this.#dataLen > this.#max) {
      this.#skip(true);
      return;
    }
    // Copy: the caller's chunk is forwarded downstream and may be reused.
    this.#partial.push(Buffer.from(bytes));
  }

  /** Drops the event being read; `midLine`: the stream is inside one of its lines. */
  #skip(midLine: boolean): void {
    this.#skipping = true;
    this.#skipLineHasBytes = midLine;
    this.#partial = [];
    this.#partialLen = 0;
    this.#data = [];
    this.#dataLen = 0;
    this.#hasData = false;
    this.#event = '';
  }

  #line(tail: Uint8Array): void {
    if (this.#skipping) {
      const blank = tail.length === 0 && !this.#skipLineHasBytes;
      this.#skipLineHasBytes = false;
      if (!blank) return;
      // The skipped event ended here: the next line starts a new one.
      this.#skipping = false;
      this.#skipped++;
      this.#onSkip?.();
      return;
    }
    let bytes: Uint8Array = tail;
    if (this.#partial.length > 0) {
      if (this.#partialLen + tail.length + this.#dataLen > this.#max) {
        this.#skip(false);
        return;
      }
      bytes = Buffer.concat([...this.#partial, tail]);
      this.#partial = [];
      this.#partialLen = 0;
    } else if (tail.length + this.#dataLen > this.#max) {
      this.#skip(false);
      return;
    }
    this.#processLine(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  }

  #processLine(line: string): void {
    if (line === '') {
      this.#dispatch();
      return;
    }
    if (line.charCodeAt(0) === 0x3a) return; // ':' comment (keep-alives)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    if (field === 'data') {
      this.#data.push(value);
      this.#dataLen += value.length + 1;
      this.#hasData = true;
    } else if (field === 'event') {
      this.#event = value;
    }
    // id and retry do not matter to an observer.
  }

  #dispatch(): void {
    const event = this.#event === '' ? 'message' : this.#event;
    this.#event = '';
    if (!this.#hasData) return;
    const data = this.#data.join('\n');
    this.#data = [];
    this.#dataLen = 0;
    this.#hasData = false;
    this.#onEvent({ event, data });
  }
}

/** Parses a whole SSE text at once (tests and small bodies). */
export function parseSse(text: string | Uint8Array): SseEvent[] {
  const out: SseEvent[] = [];
  const p = new SseParser((ev) => out.push(ev));
  p.push(typeof text === 'string' ? Buffer.from(text) : text);
  return out;
}
