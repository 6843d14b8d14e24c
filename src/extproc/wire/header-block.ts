/**
 * Response header blocks of one connection: HEADERS, the CONTINUATION frames that extend one, and HPACK decoding.
 * One instance per connection, since the HPACK dynamic table follows every block the peer sends, in order.
 */
import { ErrorCode, Flag, unpad, type Frame } from './frames.js';
import { HeaderListTooLarge, HpackDecoder, HpackError } from './hpack.js';
import { MAX_CONTINUATIONS, MAX_HEADER_LIST } from './limits.js';

/** What a HEADERS or CONTINUATION frame completed. */
export type BlockResult =
  /** The block continues in CONTINUATION frames. */
  | { readonly kind: 'partial' }
  | { readonly kind: 'block'; readonly streamId: number; readonly fields: Array<[string, string]>; readonly endStream: boolean }
  /** Over our MAX_HEADER_LIST_SIZE: only that stream fails. */
  | { readonly kind: 'too-large'; readonly streamId: number }
  /** A connection error. */
  | { readonly kind: 'error'; readonly code: number; readonly message: string };

const PARTIAL: BlockResult = { kind: 'partial' };
const error = (code: number, message: string): BlockResult => ({ kind: 'error', code, message });

export class HeaderBlocks {
  readonly #decoder = new HpackDecoder(4096, MAX_HEADER_LIST);
  #partial: { streamId: number; endStream: boolean; parts: Buffer[]; size: number } | undefined;

  /** True while a block waits for its CONTINUATION frames (no other frame may come between). */
  get pending(): boolean {
    return this.#partial !== undefined;
  }

  headers(f: Frame): BlockResult {
    const block = unpad(f, true);
    if (!block) return error(ErrorCode.ProtocolError, 'a HEADERS frame with invalid padding');
    const endStream = (f.flags & Flag.EndStream) !== 0;
    if (f.flags & Flag.EndHeaders) return this.#decode(f.streamId, block, endStream);
    this.#partial = { streamId: f.streamId, endStream, parts: [Buffer.from(block)], size: block.length };
    return PARTIAL;
  }

  continuation(f: Frame): BlockResult {
    const p = this.#partial;
    if (!p || p.streamId !== f.streamId) return error(ErrorCode.ProtocolError, 'an unexpected CONTINUATION frame');
    p.parts.push(Buffer.from(f.payload)); // a copy: the payload is a view of a whole socket read
    p.size += f.payload.length;
    if (p.size > 4 * MAX_HEADER_LIST) return error(ErrorCode.ProtocolError, 'a header block over 256 KiB');
    // Empty or tiny CONTINUATION frames would grow the list without growing `size` (a flood node:http2 also stops).
    if (p.parts.length > MAX_CONTINUATIONS) return error(ErrorCode.EnhanceYourCalm, `a header block in more than ${MAX_CONTINUATIONS} CONTINUATION frames`);
    if (!(f.flags & Flag.EndHeaders)) return PARTIAL;
    this.#partial = undefined;
    return this.#decode(p.streamId, Buffer.concat(p.parts, p.size), p.endStream);
  }

  /** Decodes every block, even one for a stream the connection forgot: the dynamic table must follow them all. */
  #decode(streamId: number, block: Buffer, endStream: boolean): BlockResult {
    try {
      return { kind: 'block', streamId, fields: this.#decoder.decode(block), endStream };
    } catch (err) {
      if (err instanceof HeaderListTooLarge) return { kind: 'too-large', streamId };
      const why = err instanceof HpackError ? err.message : String(err);
      return error(ErrorCode.CompressionError, `the processor sent a header block we cannot decode: ${why}`);
    }
  }
}
