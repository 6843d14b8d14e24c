/**
 * An ordered header multimap with lower-case names. Values are "binary strings" (latin1), the same
 * representation node:http and node:http2 use, so bytes that are not UTF-8 round-trip untouched
 * (`Buffer.from(value, 'latin1')` gives the raw bytes for ext_proc `raw_value`).
 */
export class HeaderList {
  /**
   * Names and values in arrival order, flat: [name, value, name, value, …], names lower-case. Flat rather than an
   * array of pairs: a message's headers are one array, not one more per header (node and undici use this shape).
   */
  #flat: string[];
  /** Bumped by every mutation, so a caller can tell cheaply whether a list changed since it looked. */
  #version = 0;

  constructor(entries: Iterable<readonly [string, string]> = []) {
    const flat: string[] = [];
    for (const [n, v] of entries) flat.push(n.toLowerCase(), v);
    this.#flat = flat;
  }

  /** From node's `rawHeaders` ([name, value, name, value, …]). */
  static fromRaw(raw: readonly string[]): HeaderList {
    const flat: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) flat.push(raw[i]!.toLowerCase(), raw[i + 1]!);
    return HeaderList.adopt(flat);
  }

  /**
   * Takes `flat` ([name, value, …], names already lower-case, even length) as the list's own storage, without a
   * copy: the caller must not use the array afterwards.
   */
  static adopt(flat: string[]): HeaderList {
    const h = new HeaderList();
    h.#flat = flat;
    return h;
  }

  /** From a node-style header object (values may be arrays; undefined is skipped). */
  static fromObject(obj: Readonly<Record<string, string | number | readonly string[] | undefined>>): HeaderList {
    const flat: string[] = [];
    for (const name of Object.keys(obj)) {
      const v = obj[name];
      if (v === undefined) continue;
      const lname = name.toLowerCase();
      if (Array.isArray(v)) for (const x of v) flat.push(lname, String(x));
      else flat.push(lname, String(v));
    }
    return HeaderList.adopt(flat);
  }

  /** A counter that changes whenever `set`, `append` or `delete` changed the list. */
  get version(): number {
    return this.#version;
  }

  /** The number of (name, value) entries. */
  get size(): number {
    return this.#flat.length >> 1;
  }

  /** First value of `name`, or undefined. */
  get(name: string): string | undefined {
    const n = name.toLowerCase();
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === n) return f[i + 1];
    return undefined;
  }

  /** All values of `name`, in order. */
  getAll(name: string): string[] {
    const n = name.toLowerCase();
    const f = this.#flat;
    const out: string[] = [];
    for (let i = 0; i < f.length; i += 2) if (f[i] === n) out.push(f[i + 1]!);
    return out;
  }

  has(name: string): boolean {
    const n = name.toLowerCase();
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === n) return true;
    return false;
  }

  /** Replaces every value of `name` with one value (keeps the position of the first occurrence). */
  set(name: string, value: string): void {
    this.#version++;
    const n = name.toLowerCase();
    const f = this.#flat;
    let i = 0;
    while (i < f.length && f[i] !== n) i += 2;
    if (i >= f.length) {
      f.push(n, value);
      return;
    }
    f[i + 1] = value;
    this.#removeFrom(n, i + 2);
  }

  /** Adds another value for `name`. */
  append(name: string, value: string): void {
    this.#version++;
    this.#flat.push(name.toLowerCase(), value);
  }

  /** Removes every value of `name`; returns whether anything was removed. */
  delete(name: string): boolean {
    const removed = this.#removeFrom(name.toLowerCase(), 0);
    if (removed) this.#version++;
    return removed;
  }

  /** Removes the entries named `n` at or after index `from` (in place); returns whether any was. */
  #removeFrom(n: string, from: number): boolean {
    const f = this.#flat;
    let w = from;
    for (let r = from; r < f.length; r += 2) {
      if (f[r] === n) continue;
      if (w !== r) {
        f[w] = f[r]!;
        f[w + 1] = f[r + 1]!;
      }
      w += 2;
    }
    if (w === f.length) return false;
    f.length = w;
    return true;
  }

  /** The pairs in order (a copy). */
  entries(): Array<[string, string]> {
    const f = this.#flat;
    const out: Array<[string, string]> = [];
    for (let i = 0; i < f.length; i += 2) out.push([f[i]!, f[i + 1]!]);
    return out;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries()[Symbol.iterator]();
  }

  /** A copy with the same version, so restoring a snapshot does not look like a change. */
  clone(): HeaderList {
    const h = HeaderList.adopt(this.#flat.slice());
    h.#version = this.#version;
    return h;
  }

  /** Node-style object; repeated names become arrays (set-cookie and friends stay separate). */
  toObject(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) {
      const n = f[i]!;
      const v = f[i + 1]!;
      const prev = out[n];
      if (prev === undefined) out[n] = v;
      else if (Array.isArray(prev)) prev.push(v);
      else out[n] = [prev, v];
    }
    return out;
  }

  /** Appends the pairs to `out` as [name, value, …], leaving out `skip`; returns `out` (one pass, no copies). */
  flatInto(out: string[], skip?: string): string[] {
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] !== skip) out.push(f[i]!, f[i + 1]!);
    return out;
  }

  /**
   * The list's own flat array, for a consumer that reads it at once (node's `writeHead` copies what it is given).
   * Not to be modified or kept: the next mutation changes it.
   */
  flatView(): readonly string[] {
    return this.#flat;
  }

  /** Flat [name, value, …] array as undici and node's rawHeaders use (a copy). */
  toFlat(): string[] {
    return this.#flat.slice();
  }
}
