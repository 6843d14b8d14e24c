/**
 * An ordered header multimap with lower-case names. Values are "binary strings" (latin1), the same
 * representation node:http and node:http2 use, so bytes that are not UTF-8 round-trip untouched
 * (`Buffer.from(value, 'latin1')` gives the raw bytes for ext_proc `raw_value`).
 */
export class HeaderList {
  /** Flat [name, value] pairs in arrival order; names are lower-case. */
  #entries: Array<[string, string]>;
  /** Bumped by every mutation, so a caller can tell cheaply whether a list changed since it looked. */
  #version = 0;

  constructor(entries: Iterable<readonly [string, string]> = []) {
    this.#entries = [];
    for (const [n, v] of entries) this.#entries.push([n.toLowerCase(), v]);
  }

  /** From node's `rawHeaders` ([name, value, name, value, …]). */
  static fromRaw(raw: readonly string[]): HeaderList {
    const h = new HeaderList();
    for (let i = 0; i + 1 < raw.length; i += 2) h.#entries.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
    return h;
  }

  /** From a node-style header object (values may be arrays; undefined is skipped). */
  static fromObject(obj: Readonly<Record<string, string | number | readonly string[] | undefined>>): HeaderList {
    const h = new HeaderList();
    for (const name of Object.keys(obj)) {
      const v = obj[name];
      if (v === undefined) continue;
      const lname = name.toLowerCase();
      if (Array.isArray(v)) for (const x of v) h.#entries.push([lname, String(x)]);
      else h.#entries.push([lname, String(v)]);
    }
    return h;
  }

  /** A counter that changes whenever `set`, `append` or `delete` changed the list. */
  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** First value of `name`, or undefined. */
  get(name: string): string | undefined {
    const n = name.toLowerCase();
    for (const e of this.#entries) if (e[0] === n) return e[1];
    return undefined;
  }

  /** All values of `name`, in order. */
  getAll(name: string): string[] {
    const n = name.toLowerCase();
    const out: string[] = [];
    for (const e of this.#entries) if (e[0] === n) out.push(e[1]);
    return out;
  }

  has(name: string): boolean {
    const n = name.toLowerCase();
    return this.#entries.some((e) => e[0] === n);
  }

  /** Replaces every value of `name` with one value (keeps the position of the first occurrence). */
  set(name: string, value: string): void {
    this.#version++;
    const n = name.toLowerCase();
    const i = this.#entries.findIndex((e) => e[0] === n);
    if (i < 0) {
      this.#entries.push([n, value]);
      return;
    }
    this.#entries[i] = [n, value];
    this.#entries = this.#entries.filter((e, j) => j <= i || e[0] !== n);
  }

  /** Adds another value for `name`. */
  append(name: string, value: string): void {
    this.#version++;
    this.#entries.push([name.toLowerCase(), value]);
  }

  /** Removes every value of `name`; returns whether anything was removed. */
  delete(name: string): boolean {
    const n = name.toLowerCase();
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((e) => e[0] !== n);
    if (this.#entries.length === before) return false;
    this.#version++;
    return true;
  }

  /** The pairs in order (a copy). */
  entries(): Array<[string, string]> {
    return this.#entries.map((e) => [e[0], e[1]]);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries()[Symbol.iterator]();
  }

  /** A copy with the same version, so restoring a snapshot does not look like a change. */
  clone(): HeaderList {
    const h = new HeaderList(this.#entries);
    h.#version = this.#version;
    return h;
  }

  /** Node-style object; repeated names become arrays (set-cookie and friends stay separate). */
  toObject(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const [n, v] of this.#entries) {
      const prev = out[n];
      if (prev === undefined) out[n] = v;
      else if (Array.isArray(prev)) prev.push(v);
      else out[n] = [prev, v];
    }
    return out;
  }

  /** Appends the pairs to `out` as [name, value, …], leaving out `skip`; returns `out` (one pass, no copies). */
  flatInto(out: string[], skip?: string): string[] {
    for (const e of this.#entries) if (e[0] !== skip) out.push(e[0], e[1]);
    return out;
  }

  /** Flat [name, value, …] array as undici and node's rawHeaders use. */
  toFlat(): string[] {
    const out: string[] = [];
    for (const [n, v] of this.#entries) out.push(n, v);
    return out;
  }
}
