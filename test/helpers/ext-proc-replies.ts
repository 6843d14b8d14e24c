/**
 * Builders for ProcessingResponse replies used by the scriptable test processor (ext-proc-server.ts) and by
 * tests that script it. Header values go in `raw_value` (bytes) like Envoy expects; `value` is available too.
 */
import type {
  CommonResponse,
  HeaderMutation,
  HeaderValueOption,
  ProcessingMode,
  ProcessingRequest,
  ProcessingResponse,
} from '../../src/extproc/messages.js';
import { AppendAction, ResponseStatus } from '../../src/extproc/messages.js';

/** One header to set: `[name, value]` or a full spec. `action` is the HeaderAppendAction enum value. */
export type HeaderSpec =
  | readonly [name: string, value: string]
  | {
      readonly name: string;
      readonly value: string;
      /** Put the value in `value` (string) instead of `raw_value` (bytes). */
      readonly asString?: boolean;
      readonly action?: number;
      /** Sets the deprecated `append` BoolValue. */
      readonly append?: boolean;
    };

/** Fields shared by headers and body replies (a CommonResponse plus response-level fields). */
export interface CommonOpts {
  readonly set?: readonly HeaderSpec[];
  readonly remove?: readonly string[];
  /** CONTINUE_AND_REPLACE instead of CONTINUE. */
  readonly replace?: boolean;
  readonly body?: string | Uint8Array;
  readonly clearBody?: boolean;
  /** A full-duplex `streamed_response` body mutation. */
  readonly streamed?: { readonly body: string | Uint8Array; readonly endOfStream: boolean };
  readonly clearRouteCache?: boolean;
  readonly modeOverride?: ProcessingMode;
  readonly dynamicMetadata?: Readonly<Record<string, unknown>>;
}

/** Which phase a headers/body/trailers reply answers. */
export type Direction = 'request' | 'response';

const bytes = (v: string | Uint8Array): Uint8Array => (typeof v === 'string' ? Buffer.from(v, 'latin1') : v);

/** Builds a HeaderValueOption (value in raw_value unless `asString`). */
export function header(spec: HeaderSpec): HeaderValueOption {
  const s = Array.isArray(spec)
    ? { name: spec[0] as string, value: spec[1] as string }
    : (spec as Exclude<HeaderSpec, readonly [string, string]>);
  const hv = 'asString' in s && s.asString ? { key: s.name, value: s.value } : { key: s.name, rawValue: bytes(s.value) };
  const opt: HeaderValueOption = { header: hv };
  if ('action' in s && s.action !== undefined) opt.appendAction = s.action;
  if ('append' in s && s.append !== undefined) opt.append = { value: s.append };
  return opt;
}

/** Builds a HeaderMutation from set/remove lists (undefined when both are empty). */
export function headerMutation(set?: readonly HeaderSpec[], remove?: readonly string[]): HeaderMutation | undefined {
  if (!set?.length && !remove?.length) return undefined;
  return { setHeaders: (set ?? []).map(header), removeHeaders: [...(remove ?? [])] };
}

/** Builds a CommonResponse from the options (fields left unset when not asked for). */
export function commonResponse(o: CommonOpts = {}): CommonResponse {
  const c: CommonResponse = {};
  if (o.replace) c.status = ResponseStatus.CONTINUE_AND_REPLACE;
  const hm = headerMutation(o.set, o.remove);
  if (hm) c.headerMutation = hm;
  if (o.body !== undefined) c.bodyMutation = { body: bytes(o.body) };
  else if (o.clearBody) c.bodyMutation = { clearBody: true };
  else if (o.streamed) c.bodyMutation = { streamedResponse: { body: bytes(o.streamed.body), endOfStream: o.streamed.endOfStream } };
  if (o.clearRouteCache) c.clearRouteCache = true;
  return c;
}

function withExtras(r: ProcessingResponse, o: CommonOpts): ProcessingResponse {
  if (o.modeOverride) r.modeOverride = o.modeOverride;
  if (o.dynamicMetadata) r.dynamicMetadata = toStruct(o.dynamicMetadata);
  return r;
}

/** A HeaderMap with every value in raw_value. */
function headerMap(h: Readonly<Record<string, string>>): { headers: Array<{ key: string; rawValue: Uint8Array }> } {
  return { headers: Object.entries(h).map(([key, v]) => ({ key, rawValue: Buffer.from(v, 'latin1') })) };
}

/** Converts a plain JSON-like object to a google.protobuf.Struct. */
export function toStruct(obj: Readonly<Record<string, unknown>>): { fields: Record<string, object> } {
  const fields: Record<string, object> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = toValue(v);
  return { fields };
}

function toValue(v: unknown): object {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}

/** Reply builders, one per phase, plus immediate responses. */
export const reply = {
  /** A HeadersResponse for request or response headers. */
  headers(dir: Direction, o: CommonOpts = {}): ProcessingResponse {
    const r: ProcessingResponse = dir === 'request'
      ? { requestHeaders: { response: commonResponse(o) } }
      : { responseHeaders: { response: commonResponse(o) } };
    return withExtras(r, o);
  },
  /** A BodyResponse for a request or response body message. */
  body(dir: Direction, o: CommonOpts = {}): ProcessingResponse {
    const r: ProcessingResponse = dir === 'request'
      ? { requestBody: { response: commonResponse(o) } }
      : { responseBody: { response: commonResponse(o) } };
    return withExtras(r, o);
  },
  /** A full-duplex streamed body chunk (`streamed_response`). */
  streamed(dir: Direction, body: string | Uint8Array, endOfStream: boolean): ProcessingResponse {
    return reply.body(dir, { streamed: { body, endOfStream } });
  },
  /** A TrailersResponse. */
  trailers(dir: Direction, o: { set?: readonly HeaderSpec[]; remove?: readonly string[] } = {}): ProcessingResponse {
    const hm = headerMutation(o.set, o.remove);
    const t = hm ? { headerMutation: hm } : {};
    return dir === 'request' ? { requestTrailers: t } : { responseTrailers: t };
  },
  /** An ImmediateResponse (status may be any integer; Envoy's enum is open). */
  immediate(o: {
    status?: number;
    set?: readonly HeaderSpec[];
    remove?: readonly string[];
    body?: string | Uint8Array;
    grpcStatus?: number;
    details?: string;
    dynamicMetadata?: Readonly<Record<string, unknown>>;
  } = {}): ProcessingResponse {
    const ir: NonNullable<ProcessingResponse['immediateResponse']> = {};
    if (o.status !== undefined) ir.status = { code: o.status };
    const hm = headerMutation(o.set, o.remove);
    if (hm) ir.headers = hm;
    if (o.body !== undefined) ir.body = bytes(o.body);
    if (o.grpcStatus !== undefined) ir.grpcStatus = { status: o.grpcStatus };
    if (o.details !== undefined) ir.details = o.details;
    const r: ProcessingResponse = { immediateResponse: ir };
    if (o.dynamicMetadata) r.dynamicMetadata = toStruct(o.dynamicMetadata);
    return r;
  },
  /** The headers of a streamed local reply (StreamedImmediateResponse headers_response; include `:status`). */
  localHeaders(headers: Readonly<Record<string, string>>, endOfStream = false): ProcessingResponse {
    return { streamedImmediateResponse: { headersResponse: { headers: headerMap(headers), endOfStream } } };
  },
  /** A body chunk of a streamed local reply. */
  localBody(body: string | Uint8Array, endOfStream = false): ProcessingResponse {
    return { streamedImmediateResponse: { bodyResponse: { body: bytes(body), endOfStream } } };
  },
  /** The trailers that end a streamed local reply. */
  localTrailers(trailers: Readonly<Record<string, string>>): ProcessingResponse {
    return { streamedImmediateResponse: { trailersResponse: headerMap(trailers) } };
  },
  /** A ProcessingResponse with no oneof set (what Google's Python examples send for unhandled phases). */
  empty(): ProcessingResponse {
    return {};
  },
};

/** The append actions, re-exported for scripting. */
export { AppendAction };

/** Which phase a ProcessingRequest carries, as a handler name suffix. */
export type Phase = 'requestHeaders' | 'requestBody' | 'requestTrailers' | 'responseHeaders' | 'responseBody' | 'responseTrailers';

/** Returns the phase of a request message (undefined when no oneof is set). */
export function phaseOf(msg: ProcessingRequest): Phase | undefined {
  if (msg.requestHeaders) return 'requestHeaders';
  if (msg.requestBody) return 'requestBody';
  if (msg.requestTrailers) return 'requestTrailers';
  if (msg.responseHeaders) return 'responseHeaders';
  if (msg.responseBody) return 'responseBody';
  if (msg.responseTrailers) return 'responseTrailers';
  return undefined;
}

/** The headers (or trailers) of a message as `[name, value]` pairs; values from raw_value (latin1) or value. */
export function headerPairs(msg: ProcessingRequest): Array<[string, string]> {
  const map = msg.requestHeaders?.headers ?? msg.responseHeaders?.headers ?? msg.requestTrailers?.trailers ?? msg.responseTrailers?.trailers;
  return (map?.headers ?? []).map((h) => [
    h.key ?? '',
    h.rawValue && h.rawValue.length > 0 ? Buffer.from(h.rawValue).toString('latin1') : (h.value ?? ''),
  ]);
}

/** The first value of a header in a headers/trailers message. */
export function headerValue(msg: ProcessingRequest, name: string): string | undefined {
  return headerPairs(msg).find(([k]) => k === name)?.[1];
}
