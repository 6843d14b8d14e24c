/**
 * A read-only view of a HeaderMap from a ProcessingRequest. Values come from `raw_value` when it is non-empty and
 * from `value` otherwise: Envoy sends everything in `raw_value`, agentgateway sends pseudo-headers in `value`.
 */
import type { envoy } from '../extproc/gen/ext_proc.js';

type IHeaderMap = envoy.config.core.v3.IHeaderMap;

/** Headers (or trailers) of one HTTP message as the gateway sent them. Names are lower-case. */
export interface MessageHeaders {
  /** First value per name, e.g. `map[':path']`, `map['content-type']`. */
  readonly map: Readonly<Record<string, string>>;
  /** Every entry in order, repeated names included. */
  readonly list: ReadonlyArray<readonly [name: string, value: string]>;
  /** The first value of `name` (case-insensitive), or undefined. */
  get(name: string): string | undefined;
  /** Every value of `name`, in order. */
  getAll(name: string): string[];
  /** True when the header is present. */
  has(name: string): boolean;
  /** The first value's exact bytes (for values that are not UTF-8 text). */
  raw(name: string): Buffer | undefined;
  /** True when the message has no body (headers message with `end_of_stream`). Always false for trailers. */
  readonly endOfStream: boolean;
}

/** Builds the view; values are decoded as UTF-8 text. */
export function readHeaders(map: IHeaderMap | null | undefined, endOfStream = false): MessageHeaders {
  const entries: Array<readonly [string, Buffer]> = (map?.headers ?? []).map((h) => [
    (h.key ?? '').toLowerCase(),
    h.rawValue && h.rawValue.length > 0 ? Buffer.from(h.rawValue) : Buffer.from(h.value ?? '', 'utf8'),
  ]);
  const list = entries.map(([k, v]) => [k, v.toString('utf8')] as const);
  // A Map, not an object, so names like `__proto__` or `constructor` cannot collide with Object.prototype.
  const first = new Map<string, string>();
  for (const [k, v] of list) if (!first.has(k)) first.set(k, v);
  return {
    map: Object.fromEntries(first),
    list,
    get: (name) => first.get(name.toLowerCase()),
    getAll: (name) => list.filter(([k]) => k === name.toLowerCase()).map(([, v]) => v),
    has: (name) => first.has(name.toLowerCase()),
    raw: (name) => entries.find(([k]) => k === name.toLowerCase())?.[1],
    endOfStream,
  };
}
