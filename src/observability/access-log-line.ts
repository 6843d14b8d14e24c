/**
 * The access-log line of one record, as JSON text. `accessLogLine` defines the line (fields and their order);
 * `accessLogJson` writes the same text as `JSON.stringify(accessLogLine(r))` without building the object or
 * walking it: the fields a route and its backend fix (gateway, listener, route, routeKey, backend) are kept
 * as ready JSON per route, and strings of printable ASCII are quoted as they are.
 *
 * Node 20's `JSON.stringify` cost about 1.6 µs per line here (V8 11.3, before its faster serializer), roughly
 * 6 % of a plain proxied request; this writer takes about half of that (bench/micro/access-log-line.mjs).
 */
import type { AccessLogRecord, ExtProcLog } from '../http/context.js';

/** Builds the log line object; field order is stable so lines are easy to read and diff. */
export function accessLogLine(r: AccessLogRecord, now: number = Date.now()): Record<string, unknown> {
  const line: Record<string, unknown> = {
    level: 30,
    time: now,
    msg: 'request',
    kind: 'access',
    id: r.id,
    gateway: r.gateway,
    listener: r.listener,
    route: r.route ?? null,
    routeKey: r.routeKey ?? null,
    backend: r.backend ?? null,
    method: r.method,
    path: r.path,
    authority: r.authority,
    protocol: r.protocol,
    remote: r.remote,
    status: r.status ?? null,
    durationMs: r.durationMs === undefined ? null : roundMs(r.durationMs),
  };
  if (r.bytesIn !== undefined) line.bytesIn = r.bytesIn;
  if (r.bytesOut !== undefined) line.bytesOut = r.bytesOut;
  if (r.error !== undefined) line.error = r.error;
  if (r.errorCode !== undefined) line.errorCode = r.errorCode;
  if (r.extProc !== undefined && r.extProc.length > 0) line.extProc = r.extProc;
  if (r.ai !== undefined) line.ai = r.ai;
  if (r.dynamicMetadata !== undefined) line.dynamicMetadata = r.dynamicMetadata;
  return line;
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Printable ASCII other than `"` and `\`: such a string is its own JSON body. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A JSON line and whether it is pure ASCII (then its length is its size in bytes). */
export interface JsonLine {
  readonly text: string;
  readonly ascii: boolean;
}

/** The per-route part of a line, with the strings it was made from. */
interface Fixed {
  readonly gateway: string;
  readonly listener: string;
  readonly route: string | undefined;
  readonly routeKey: string | undefined;
  readonly backend: string | undefined;
  readonly json: string;
  readonly ascii: boolean;
}

/** Past this many routes, the cache starts over (a reloaded config leaves old keys behind). */
const MAX_FIXED = 4096;

/**
 * A run of the line between two per-request fields, remembered with the values it was made from: under load most
 * lines repeat the previous line's route, method, authority, protocol and client address, and joining a few long
 * pieces costs less than joining thirty short ones and checking every value again.
 */
class Segment {
  a: unknown = undefined;
  b = '';
  c = '';
  text = '';
  ascii = true;
}

/** Writes access-log lines; holds the per-route JSON made so far. */
export class AccessLogWriter {
  readonly #fixed = new Map<string, Fixed>();
  /** `",<route fields>,"method":"<method>","path":"` */
  readonly #beforePath = new Segment();
  /** `","authority":"…","protocol":"…","remote":"…","status":` */
  readonly #afterPath = new Segment();
  #ascii = true;
  /** The batch's time, written once per batch. */
  #now = NaN;
  /** The line up to the id's opening quote, with the batch's time. */
  #head = '';

  /** The line of `r` (no newline), identical to `JSON.stringify(accessLogLine(r, now))`. */
  line(r: AccessLogRecord, now: number): JsonLine {
    this.#ascii = true;
    const f = this.#fixedFor(r);
    if (now !== this.#now) {
      this.#now = now;
      this.#head = `{"level":30,"time":${num(now)},"msg":"request","kind":"access","id":"`;
    }
    // Strings go between quotes written in the pieces: a plain one is used as it is, with no quoted copy.
    let s =
      this.#head +
      this.#inner(r.id) +
      this.#before(f, r.method) +
      this.#inner(r.path) +
      this.#after(r.authority, r.protocol, r.remote) +
      (r.status === undefined ? 'null' : statusJson(r.status)) +
      (r.durationMs === undefined ? ',"durationMs":null' : `,"durationMs":${millisJson(r.durationMs)}`);
    if (r.bytesIn !== undefined) s += r.bytesIn === 0 ? ',"bytesIn":0' : `,"bytesIn":${num(r.bytesIn)}`;
    if (r.bytesOut !== undefined) s += `,"bytesOut":${num(r.bytesOut)}`;
    if (r.error !== undefined) s += `,"error":${this.#str(r.error)}`;
    if (r.errorCode !== undefined) s += `,"errorCode":${this.#str(r.errorCode)}`;
    if (r.extProc !== undefined && r.extProc.length > 0) s += this.#extProc(r.extProc);
    if (r.ai !== undefined) s += this.#json('ai', r.ai);
    if (r.dynamicMetadata !== undefined) s += this.#json('dynamicMetadata', r.dynamicMetadata);
    return { text: s + '}', ascii: this.#ascii && f.ascii };
  }

  #before(f: Fixed, method: string): string {
    const m = this.#beforePath;
    if (m.a !== f || m.b !== method) {
      const outer = this.#open();
      this.#close(m, `",${f.json},"method":"${this.#inner(method)}","path":"`, f, method, '', outer);
    }
    return this.#use(m);
  }

  #after(authority: string, protocol: string, remote: string): string {
    const m = this.#afterPath;
    if (m.a !== authority || m.b !== protocol || m.c !== remote) {
      const outer = this.#open();
      const text = `","authority":"${this.#inner(authority)}","protocol":"${this.#inner(protocol)}","remote":"${this.#inner(remote)}","status":`;
      this.#close(m, text, authority, protocol, remote, outer);
    }
    return this.#use(m);
  }

  /** Starts a segment's text: what `#inner` finds non-ASCII from here on is the segment's. Returns the line's state. */
  #open(): boolean {
    const outer = this.#ascii;
    this.#ascii = true;
    return outer;
  }

  /** Keeps a segment's text with the values it was made from, and restores the line's ASCII state. */
  #close(m: Segment, text: string, a: unknown, b: string, c: string, outer: boolean): void {
    m.text = text;
    m.a = a;
    m.b = b;
    m.c = c;
    m.ascii = this.#ascii;
    this.#ascii = outer;
  }

  /** A segment's text, counting its non-ASCII against the line. */
  #use(m: Segment): string {
    if (!m.ascii) this.#ascii = false;
    return m.text;
  }

  #fixedFor(r: AccessLogRecord): Fixed {
    const key = r.routeKey ?? '';
    const f = this.#fixed.get(key);
    if (f !== undefined && f.gateway === r.gateway && f.listener === r.listener && f.route === r.route && f.routeKey === r.routeKey && f.backend === r.backend) {
      return f;
    }
    this.#ascii = true;
    const json = `"gateway":${this.#str(r.gateway)},"listener":${this.#str(r.listener)},"route":${this.#opt(r.route)},"routeKey":${this.#opt(r.routeKey)},"backend":${this.#opt(r.backend)}`;
    const made: Fixed = { gateway: r.gateway, listener: r.listener, route: r.route, routeKey: r.routeKey, backend: r.backend, json, ascii: this.#ascii };
    if (this.#fixed.size >= MAX_FIXED) this.#fixed.clear();
    this.#fixed.set(key, made);
    this.#ascii = true;
    return made;
  }

  /** What JSON writes between the quotes of `s`. */
  #inner(s: string): string {
    if (PLAIN.test(s)) return s;
    this.#ascii = false;
    return JSON.stringify(s).slice(1, -1);
  }

  #str(s: string): string {
    if (PLAIN.test(s)) return `"${s}"`;
    this.#ascii = false;
    return JSON.stringify(s);
  }

  /**
   * `,"extProc":[…]`. An entry with only its four fixed fields (the usual case) is written here in their order
   * (the order the session's literal gives them); one with a failure field goes through JSON.stringify.
   */
  #extProc(list: readonly ExtProcLog[]): string {
    let s = ',"extProc":[';
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      if (i > 0) s += ',';
      if (e.failureReason !== undefined || e.failOpen !== undefined || keyCount(e) !== 4) {
        this.#ascii = false;
        s += JSON.stringify(e);
        continue;
      }
      s += `{"target":${this.#str(e.target)},"phases":[`;
      for (let j = 0; j < e.phases.length; j++) s += (j > 0 ? ',' : '') + this.#str(e.phases[j]!);
      s += `],"timeMs":${num(e.timeMs)},"outcome":${this.#str(e.outcome)}}`;
    }
    return s + ']';
  }

  #opt(s: string | undefined): string {
    return s === undefined ? 'null' : this.#str(s);
  }

  /** `,"name":<JSON>`, or nothing for a value JSON leaves out (as it would leave out the key of the object form). */
  #json(name: string, v: unknown): string {
    this.#ascii = false;
    const json = JSON.stringify(v) as string | undefined;
    return json === undefined ? '' : `,"${name}":${json}`;
  }
}

/** The number of enumerable keys of `o`, without building the array `Object.keys` would. */
function keyCount(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

/** The JSON of HTTP status codes, made once each. */
const statuses: string[] = [];
function statusJson(status: number): string {
  if (!Number.isInteger(status) || status < 0 || status > 999) return num(status);
  return (statuses[status] ??= String(status));
}

/**
 * `roundMs(ms)` as JSON writes it. Converting a double to its shortest decimal is the dearest step of a line, so
 * durations under 2^31 µs are written from the integer count of µs: `n / 1000` is the double nearest to that
 * three-decimal number, so its shortest form is exactly those digits, trailing zeros dropped.
 */
function millisJson(ms: number): string {
  const n = Math.round(ms * 1000);
  if (!(n >= 0 && n < 2 ** 31)) return num(n / 1000);
  const whole = (n / 1000) | 0;
  const frac = n - whole * 1000;
  if (frac === 0) return String(whole);
  if (frac % 100 === 0) return `${whole}.${frac / 100}`;
  if (frac % 10 === 0) return `${whole}.${frac < 100 ? '0' : ''}${frac / 10}`;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** A number as JSON writes it (NaN and ±Infinity become null). */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}
