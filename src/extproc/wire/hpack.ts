/**
 * HPACK header compression (RFC 7541) for our HTTP/2 gRPC client: a complete decoder for the
 * peer's header blocks, plus the three uncompressed representations we use to pre-encode our
 * own constant request headers (we never index on the encoding side, so we keep no encoder table).
 *
 * Strings are latin1 throughout: one octet is one UTF-16 code unit, so `s.length` is the octet
 * count that RFC 7541 §4.1 sizes table entries by.
 */

/** A header block that cannot be decoded: the connection must be torn down with COMPRESSION_ERROR (RFC 9113 §4.3). */
export class HpackError extends Error {
  override name = 'HpackError';
}

// ---- Static table (RFC 7541 Appendix A). Position 0 is unused so that positions are indices.

const STATIC_PAIRS: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'],
  [':path', '/index.html'], [':scheme', 'http'], [':scheme', 'https'], [':status', '200'],
  [':status', '204'], [':status', '206'], [':status', '304'], [':status', '400'],
  [':status', '404'], [':status', '500'], ['accept-charset', ''], ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''], ['accept-ranges', ''], ['accept', ''], ['access-control-allow-origin', ''],
  ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''],
  ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''],
  ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''],
  ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''],
  ['retry-after', ''], ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''],
  ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC_PAIRS.length; // 61
const STATIC_NAMES = ['', ...STATIC_PAIRS.map((p) => p[0])];
const STATIC_VALUES = ['', ...STATIC_PAIRS.map((p) => p[1])];

// ---- Huffman code (RFC 7541 Appendix B). The code is canonical (codes of one length are
// consecutive, in symbol order, shorter codes first), so the 257 code lengths determine every
// code. Rows hold symbols 0x00-0x0f, 0x10-0x1f, ...; the last row is EOS (256).

const HUFFMAN_LENGTHS = `
  13 23 28 28 28 28 28 28 28 24 30 28 28 30 28 28   28 28 28 28 28 28 30 28 28 28 28 28 28 28 28 28
   6 10 10 12 13  6  8 11 10 10  8 11  8  6  6  6    5  5  5  6  6  6  6  6  6  6  7  8 15  6 12 10
  13  6  7  7  7  7  7  7  7  7  7  7  7  7  7  7    7  7  7  7  7  7  7  7  8  7  8 13 19 13 14  6
  15  5  6  5  6  5  6  6  6  5  7  7  6  6  6  5    6  7  6  5  5  6  7  7  7  7  7 15 11 14 13 28
  20 22 20 20 22 22 22 23 22 23 23 23 23 23 24 23   24 24 22 23 24 23 23 23 23 21 22 23 22 23 23 24
  22 21 20 22 22 23 23 21 23 22 22 24 21 22 23 23   21 21 22 21 23 22 23 23 20 22 22 22 23 22 22 23
  26 26 20 19 22 23 22 25 26 26 26 27 27 26 24 25   19 21 26 27 27 26 27 24 21 21 26 26 28 27 27 27
  20 24 20 21 22 21 21 23 22 22 25 25 24 24 26 23   26 27 26 26 27 27 27 27 27 28 27 27 27 27 27 26
  30`.trim().split(/\s+/).map(Number);

const EOS = 256;
const EMIT = 1 << 16;
const FAIL = 1 << 17;

/**
 * The decoder is a state machine over the 256 internal nodes of the code tree, consuming four
 * bits per step: `HUFFMAN_STEP[state * 16 + nibble]` packs the next state (bits 0-7), a symbol
 * completed on the way (bits 8-15, valid when EMIT is set) and FAIL when EOS was completed.
 * A nibble completes at most one symbol because the shortest code is 5 bits.
 * `HUFFMAN_ACCEPT[state]` marks the states that a valid string may end in: the root, or a node
 * reached by at most 7 one-bits, i.e. a proper prefix of EOS used as padding (RFC 7541 §5.2).
 */
const { HUFFMAN_STEP, HUFFMAN_ACCEPT } = buildHuffmanDecoder(HUFFMAN_LENGTHS);

function buildHuffmanDecoder(lengths: readonly number[]): { HUFFMAN_STEP: Uint32Array; HUFFMAN_ACCEPT: Uint8Array } {
  // Kraft equality: a complete prefix code, so the tree has exactly 256 internal nodes.
  let kraft = 0;
  for (const len of lengths) kraft += 2 ** (30 - len);
  if (lengths.length !== 257 || kraft !== 2 ** 30) throw new Error('HPACK Huffman lengths are not a complete code');

  // Tree: children[node * 2 + bit] is an internal node id (> 0) or ~symbol (< 0); root is node 0.
  const children = new Int32Array(512);
  let nodes = 1;
  const order = [...lengths.keys()].sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  let code = 0;
  let prevLen = lengths[order[0]!]!;
  for (const [k, sym] of order.entries()) {
    const len = lengths[sym]!;
    if (k > 0) code = (code + 1) * 2 ** (len - prevLen);
    prevLen = len;
    let node = 0;
    for (let bit = len - 1; bit > 0; bit--) {
      const slot = node * 2 + (Math.floor(code / 2 ** bit) & 1);
      if (children[slot] === 0) children[slot] = nodes++;
      node = children[slot]!;
    }
    children[node * 2 + (code & 1)] = ~sym;
  }

  const step = new Uint32Array(256 * 16);
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[node * 2 + ((nibble >> bit) & 1)]!;
        if (child >= 0) { node = child; continue; }
        entry |= ~child === EOS ? FAIL : EMIT | (~child << 8);
        node = 0;
      }
      step[state * 16 + nibble] = entry | node;
    }
  }
  const accept = new Uint8Array(256);
  for (let node = 0, depth = 0; depth <= 7; depth++, node = children[node * 2 + 1]!) accept[node] = 1;
  return { HUFFMAN_STEP: step, HUFFMAN_ACCEPT: accept };
}

/** Decodes `src[start, end)` into `out` (which must hold at least (end - start) * 8 / 5 octets); returns the octet count. */
function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const octet = src[i]!;
    const e = HUFFMAN_STEP[(state << 4) | (octet >> 4)]!;
    if (e & EMIT) out[n++] = (e >> 8) & 0xff;
    const f = HUFFMAN_STEP[((e & 0xff) << 4) | (octet & 0x0f)]!;
    if (f & EMIT) out[n++] = (f >> 8) & 0xff;
    if ((e | f) & FAIL) throw new HpackError('Huffman string contains EOS');
    state = f & 0xff;
  }
  if (HUFFMAN_ACCEPT[state] === 0) throw new HpackError('invalid Huffman padding');
  return n;
}

// ---- Decoder

const ENTRY_OVERHEAD = 32; // RFC 7541 §4.1
const MAX_INT = 0x7fffffff;
const MAX_CONTINUATION_OCTETS = 5;

/** Decodes header blocks from one HTTP/2 connection (keeps the dynamic table across blocks, in order). */
/**
 * A well-formed block whose list is over the decoder's `maxListSize`. Unlike other HpackErrors the decoder is still in
 * step with the peer (the block was decoded to its end), so only that stream needs to fail.
 */
export class HeaderListTooLarge extends HpackError {}

export class HpackDecoder {
  readonly #maxTableSize: number;
  readonly #maxListSize: number;
  /** Current dynamic table capacity, as last set by a size update (RFC 7541 §4.2). */
  #limit: number;
  /** Sum of entry sizes in the dynamic table. */
  #size = 0;
  // Dynamic table as a ring buffer, newest entry at #head; capacity is a power of two.
  #names: string[] = new Array<string>(16).fill('');
  #values: string[] = new Array<string>(16).fill('');
  #head = 0;
  #count = 0;
  /** Read cursor into the block being decoded. */
  #pos = 0;
  /** Reused output buffer for Huffman decoding. */
  #scratch = Buffer.allocUnsafe(256);

  /**
   * maxTableSize: the SETTINGS_HEADER_TABLE_SIZE we advertised (default 4096); it is also the
   * initial table capacity. maxListSize: cap on the decoded list size, RFC 9113 style (sum of
   * name+value+32), default 64 KiB; over it → HpackError.
   */
  constructor(maxTableSize = 4096, maxListSize = 65536) {
    this.#maxTableSize = maxTableSize;
    this.#maxListSize = maxListSize;
    this.#limit = maxTableSize;
  }

  /**
   * Decodes one complete header block (HEADERS + CONTINUATION payloads already joined). Returns
   * name/value pairs in order; names and values as latin1 strings. Throws HeaderListTooLarge for a list over the
   * cap (the decoder stays usable), and HpackError on any malformed input, after which the decoder's state is
   * undefined (the connection is dead anyway).
   */
  decode(block: Uint8Array): Array<[string, string]> {
    const buf = Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    const out: Array<[string, string]> = [];
    const end = buf.length;
    let listSize = 0;
    let tooLarge = false;
    this.#pos = 0;
    while (this.#pos < end) {
      const first = buf[this.#pos]!;
      let name: string;
      let value: string;
      if (first & 0x80) {
        // Indexed header field (§6.1).
        const index = this.#integer(buf, 7);
        if (index <= STATIC_COUNT) {
          if (index === 0) throw new HpackError('index 0');
          name = STATIC_NAMES[index]!;
          value = STATIC_VALUES[index]!;
        } else {
          const slot = this.#slot(index);
          name = this.#names[slot]!;
          value = this.#values[slot]!;
        }
      } else if (first & 0x40) {
        // Literal with incremental indexing (§6.2.1).
        name = this.#literalName(buf, 6);
        value = this.#string(buf);
        this.#insert(name, value);
      } else if (first & 0x20) {
        // Dynamic table size update (§6.3): only before the first field (§4.2).
        if (out.length > 0) throw new HpackError('table size update after a header field');
        const size = this.#integer(buf, 5);
        if (size > this.#maxTableSize) throw new HpackError(`table size update ${size} above ${this.#maxTableSize}`);
        this.#limit = size;
        this.#evictTo(size);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3).
        name = this.#literalName(buf, 4);
        value = this.#string(buf);
      }
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      // Over the cap the block is still decoded to its end, so the dynamic table stays in step with the peer's.
      if (listSize > this.#maxListSize) tooLarge = true;
      else out.push([name, value]);
    }
    if (tooLarge) throw new HeaderListTooLarge(`header list larger than ${this.#maxListSize}`);
    return out;
  }

  /** Reads an integer with an N-bit prefix at the cursor (§5.1). */
  #integer(buf: Buffer, prefixBits: number): number {
    let pos = this.#pos;
    if (pos >= buf.length) throw new HpackError('truncated header block');
    const max = (1 << prefixBits) - 1;
    let value = buf[pos++]! & max;
    if (value === max) {
      let octet: number;
      let scale = 1;
      let count = 0;
      do {
        if (pos >= buf.length) throw new HpackError('truncated integer');
        if (++count > MAX_CONTINUATION_OCTETS) throw new HpackError('integer too long');
        octet = buf[pos++]!;
        value += (octet & 0x7f) * scale;
        scale *= 128;
      } while (octet & 0x80);
      if (value > MAX_INT) throw new HpackError('integer overflow');
    }
    this.#pos = pos;
    return value;
  }

  /** Reads a name that is either a table index (non-zero N-bit prefix) or a string literal. */
  #literalName(buf: Buffer, prefixBits: number): string {
    const index = this.#integer(buf, prefixBits);
    if (index === 0) return this.#string(buf);
    if (index <= STATIC_COUNT) return STATIC_NAMES[index]!;
    return this.#names[this.#slot(index)]!;
  }

  /** Reads a string literal (§5.2), Huffman-coded or raw, as latin1. */
  #string(buf: Buffer): string {
    if (this.#pos >= buf.length) throw new HpackError('truncated header block');
    const huffman = buf[this.#pos]! & 0x80;
    const length = this.#integer(buf, 7);
    const start = this.#pos;
    const end = start + length;
    if (end > buf.length) throw new HpackError('truncated string literal');
    this.#pos = end;
    if (huffman === 0) return buf.toString('latin1', start, end);
    const bound = Math.ceil((length * 8) / 5);
    if (this.#scratch.length < bound) this.#scratch = Buffer.allocUnsafe(Math.max(bound, this.#scratch.length * 2));
    const n = huffmanDecode(buf, start, end, this.#scratch);
    return this.#scratch.toString('latin1', 0, n);
  }

  /** Maps a dynamic-table index (> 61) to its ring slot. */
  #slot(index: number): number {
    const offset = index - STATIC_COUNT - 1;
    if (offset >= this.#count) throw new HpackError(`index ${index} beyond the tables`);
    return (this.#head + offset) & (this.#names.length - 1);
  }

  /** Adds an entry at the front, evicting from the back first (§4.4). */
  #insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    this.#evictTo(this.#limit - size);
    if (size > this.#limit) return; // too large for the table: it stays empty (§4.4)
    if (this.#count === this.#names.length) this.#grow();
    const mask = this.#names.length - 1;
    this.#head = (this.#head - 1) & mask;
    this.#names[this.#head] = name;
    this.#values[this.#head] = value;
    this.#count++;
    this.#size += size;
  }

  /** Evicts oldest entries until the table size is at most `target` (which may be negative: evict all). */
  #evictTo(target: number): void {
    const mask = this.#names.length - 1;
    while (this.#size > target && this.#count > 0) {
      const slot = (this.#head + this.#count - 1) & mask;
      this.#size -= this.#names[slot]!.length + this.#values[slot]!.length + ENTRY_OVERHEAD;
      this.#names[slot] = '';
      this.#values[slot] = '';
      this.#count--;
    }
  }

  /** Doubles the ring, moving entries to slots 0..count-1 in age order. */
  #grow(): void {
    const mask = this.#names.length - 1;
    const names = new Array<string>(this.#names.length * 2).fill('');
    const values = new Array<string>(this.#names.length * 2).fill('');
    for (let i = 0; i < this.#count; i++) {
      names[i] = this.#names[(this.#head + i) & mask]!;
      values[i] = this.#values[(this.#head + i) & mask]!;
    }
    this.#names = names;
    this.#values = values;
    this.#head = 0;
  }
}

// ---- Encoding (uncompressed representations only, for headers we pre-encode once)

/** Encodes one header as "literal header field without indexing — new name", no Huffman (RFC 7541 §6.2.2). Used to pre-encode our constant request headers once; names must be lowercase. */
export function encodeLiteral(name: string, value: string): Buffer {
  checkName(name);
  return Buffer.from([0x00, ...stringLiteral(name), ...stringLiteral(value)]);
}

/** Same but with an indexed name from the static table when `name` is in it (e.g. ':path' → index 4, 'content-type' → 31, 'user-agent' → 58, ':authority' → 1). */
export function encodeLiteralIndexedName(name: string, value: string): Buffer {
  checkName(name);
  const index = STATIC_NAMES.indexOf(name, 1);
  if (index < 0) return encodeLiteral(name, value);
  return Buffer.from([...integer(index, 4, 0x00), ...stringLiteral(value)]);
}

/** The one-byte "indexed header field" representation for a static-table entry that matches name AND value exactly (e.g. ':method: POST' → 0x83, ':scheme: http' → 0x86, ':scheme: https' → 0x87), or undefined. */
export function encodeIndexedStatic(name: string, value: string): Buffer | undefined {
  for (let index = 1; index <= STATIC_COUNT; index++) {
    if (STATIC_NAMES[index] === name && STATIC_VALUES[index] === value) return Buffer.from([0x80 | index]);
  }
  return undefined;
}

/** An integer with an N-bit prefix (§5.1); `flags` fills the bits above the prefix. */
function integer(value: number, prefixBits: number, flags: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [flags | value];
  const octets = [flags | max];
  for (value -= max; value >= 128; value = Math.floor(value / 128)) octets.push((value % 128) | 0x80);
  octets.push(value);
  return octets;
}

/** A raw (non-Huffman) string literal (§5.2); throws for characters outside latin1. */
function stringLiteral(s: string): number[] {
  const octets = integer(s.length, 7, 0x00);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new RangeError(`HPACK strings are latin1; got U+${c.toString(16)} in ${JSON.stringify(s)}`);
    octets.push(c);
  }
  return octets;
}

/** HTTP/2 field names must be lowercase (RFC 9113 §8.2.1); an uppercase name would make the request malformed. */
function checkName(name: string): void {
  if (/[A-Z]/.test(name)) throw new TypeError(`HTTP/2 header names must be lowercase: ${JSON.stringify(name)}`);
}
