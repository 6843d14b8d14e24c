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
/** Past this many bytes in one line the parser gives up (a stream that is not SSE, or hostile). */
const DEFAULT_MAX_LINE = 1024 * 1024;

/**
 * Splits a byte stream into SSE events. `push` each chunk as it passes; `end` flushes nothing (a
 * trailing event without a blank line is not dispatched, per the spec). After a line longer than
 * `maxLine` the parser stops reporting (`overflowed`), so memory stays bounded whatever arrives.
 */
export class SseParser {
  readonly #onEvent: (ev: SseEvent) => void;
  readonly #maxLine: number;
  #partial: Buffer[] = [];
  #partialLen = 0;
  /** The previous chunk ended with CR: a leading LF in the next chunk belongs to that line break. */
  #skipLf = false;
  #data: string[] = [];
  #hasData = false;
  #event = '';
  #overflowed = false;

  constructor(onEvent: (ev: SseEvent) => void, opts: { maxLine?: number } = {}) {
    this.#onEvent = onEvent;
    this.#maxLine = opts.maxLine ?? DEFAULT_MAX_LINE;
  }

  /** True once a line exceeded the limit; no more events are reported. */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** Feeds the next chunk of the stream. */
  push(chunk: Uint8Array): void {
    if (this.#overflowed) return;
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
      if (this.#overflowed) return;
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
    this.#partialLen += bytes.length;
    if (this.#partialLen > this.#maxLine) {
      this.#overflow();
      return;
    }
    // Copy: the caller's chunk is forwarded downstream and may be reused.
    this.#partial.push(Buffer.from(bytes));
  }

  #overflow(): void {
    this.#overflowed = true;
    this.#partial = [];
    this.#partialLen = 0;
    this.#data = [];
  }

  #line(tail: Uint8Array): void {
    let bytes: Uint8Array = tail;
    if (this.#partial.length > 0) {
      if (this.#partialLen + tail.length > this.#maxLine) {
        this.#overflow();
        return;
      }
      bytes = Buffer.concat([...this.#partial, tail]);
      this.#partial = [];
      this.#partialLen = 0;
    } else if (tail.length > this.#maxLine) {
      this.#overflow();
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
