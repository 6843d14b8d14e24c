/**
 * Builders for the ProcessingResponse messages a processor sends. Header values are written as `raw_value`
 * (bytes), which is what Envoy reads (it ignores `value` by default) and what agentgateway and tollgate prefer.
 */
import {
  AppendAction,
  ResponseStatus,
  type CommonResponse,
  type HeaderMutation,
  type HeaderValueOption,
  type ProcessingResponse,
} from '../extproc/messages.js';
import { jsonToStruct } from '../extproc/struct.js';
import { modeOverride, type ModeOverride } from './modes.js';

/** Which HTTP message a reply is about: the client's request or the upstream's response. */
export type Direction = 'request' | 'response';

/** Headers as a plain object (`{'x-a': '1'}`) or as ordered pairs (for repeated names). */
export type HeaderInput = Readonly<Record<string, string>> | ReadonlyArray<readonly [name: string, value: string]>;

/**
 * Header edits. Removals are applied before sets by every gateway.
 * - `set`: replace any existing value (OVERWRITE_IF_EXISTS_OR_ADD, `append: false`).
 * - `append`: add another value (APPEND_IF_EXISTS_OR_ADD, `append: true`).
 * - `addIfAbsent`: add only when the header is missing (ADD_IF_ABSENT). Envoy ignores `append_action` and would
 *   overwrite instead; tollgate and agentgateway honour it.
 * - `remove`: header names to delete.
 */
export interface HeaderEdits {
  readonly set?: HeaderInput;
  readonly append?: HeaderInput;
  readonly addIfAbsent?: HeaderInput;
  readonly remove?: readonly string[];
}

/** Everything a headers or body reply can carry besides its direction. */
export interface ReplyOptions extends HeaderEdits {
  /** Replace the body with these bytes (a string is sent as UTF-8). */
  readonly body?: string | Uint8Array;
  /** Replace the body with nothing. */
  readonly clearBody?: boolean;
  /**
   * CONTINUE_AND_REPLACE: on a headers reply, apply the edits, replace the body with `body` (if given) and get no
   * further body or trailers messages for this direction. agentgateway ignores it.
   */
  readonly replace?: boolean;
  /** Ask the gateway to select the route again (Envoy needs this for `:path`/`:authority` rewrites to re-route). */
  readonly clearRouteCache?: boolean;
  /** Change later processing modes (see {@link modeOverride}). */
  readonly modeOverride?: ModeOverride;
  /** Dynamic metadata for the gateway (tollgate: CEL `extproc.<key>`, access log). */
  readonly dynamicMetadata?: Readonly<Record<string, unknown>>;
}

/** Encodes text as UTF-8 and passes bytes through. */
export function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

function pairs(input: HeaderInput | undefined): Array<readonly [string, string]> {
  if (input === undefined) return [];
  return Array.isArray(input) ? [...(input as ReadonlyArray<readonly [string, string]>)] : Object.entries(input);
}

// Header values are latin1 "binary strings" on the wire side of tollgate; UTF-8 text is encoded as UTF-8 bytes.
function option(name: string, value: string, action: number, append: boolean | undefined): HeaderValueOption {
  const o: HeaderValueOption = { header: { key: name.toLowerCase(), rawValue: Buffer.from(value, 'utf8') }, appendAction: action };
  if (append !== undefined) o.append = { value: append };
  return o;
}

/** Builds a HeaderMutation from header edits; undefined when there is nothing to change. */
export function headerMutation(e: HeaderEdits): HeaderMutation | undefined {
  const set: HeaderValueOption[] = [
    ...pairs(e.set).map(([k, v]) => option(k, v, AppendAction.OVERWRITE_IF_EXISTS_OR_ADD, false)),
    ...pairs(e.append).map(([k, v]) => option(k, v, AppendAction.APPEND_IF_EXISTS_OR_ADD, true)),
    ...pairs(e.addIfAbsent).map(([k, v]) => option(k, v, AppendAction.ADD_IF_ABSENT, undefined)),
  ];
  const remove = (e.remove ?? []).map((n) => n.toLowerCase());
  if (set.length === 0 && remove.length === 0) return undefined;
  const m: HeaderMutation = {};
  if (set.length > 0) m.setHeaders = set;
  if (remove.length > 0) m.removeHeaders = remove;
  return m;
}

function common(o: ReplyOptions): CommonResponse {
  const c: CommonResponse = {};
  if (o.replace) c.status = ResponseStatus.CONTINUE_AND_REPLACE;
  const hm = headerMutation(o);
  if (hm) c.headerMutation = hm;
  if (o.body !== undefined) c.bodyMutation = { body: toBytes(o.body) };
  else if (o.clearBody) c.bodyMutation = { clearBody: true };
  if (o.clearRouteCache) c.clearRouteCache = true;
  return c;
}

function extras(r: ProcessingResponse, o: Pick<ReplyOptions, 'modeOverride' | 'dynamicMetadata'>): ProcessingResponse {
  if (o.modeOverride) r.modeOverride = modeOverride(o.modeOverride);
  if (o.dynamicMetadata) r.dynamicMetadata = dynamicMetadata(o.dynamicMetadata);
  return r;
}

/** A reply to a headers message: continue, with optional edits (no options = continue unchanged). */
export function headersReply(dir: Direction, o: ReplyOptions = {}): ProcessingResponse {
  const response = common(o);
  return extras(dir === 'request' ? { requestHeaders: { response } } : { responseHeaders: { response } }, o);
}

/**
 * A reply to a buffered / bufferedPartial / streamed body message: continue, optionally replacing (`body`) or
 * clearing (`clearBody`) the body or chunk. Header edits apply only while the gateway still holds the headers
 * (buffered modes). In full-duplex mode answer with {@link streamedChunk} instead.
 */
export function bodyReply(dir: Direction, o: ReplyOptions = {}): ProcessingResponse {
  const response = common(o);
  return extras(dir === 'request' ? { requestBody: { response } } : { responseBody: { response } }, o);
}

/** A reply to a trailers message, with optional trailer edits. */
export function trailersReply(dir: Direction, e: HeaderEdits = {}): ProcessingResponse {
  const hm = headerMutation(e);
  const t = hm ? { headerMutation: hm } : {};
  return dir === 'request' ? { requestTrailers: t } : { responseTrailers: t };
}

/**
 * A full-duplex body chunk (`streamed_response`). In FULL_DUPLEX_STREAMED mode only these bytes are forwarded;
 * send any number of them and set `endOfStream` on the last (unless trailers follow: then the trailers reply
 * ends the body).
 */
export function streamedChunk(dir: Direction, data: string | Uint8Array, endOfStream: boolean): ProcessingResponse {
  const response: CommonResponse = { bodyMutation: { streamedResponse: { body: toBytes(data), endOfStream } } };
  return dir === 'request' ? { requestBody: { response } } : { responseBody: { response } };
}

/** CONTINUE_AND_REPLACE on a headers message: apply the edits, replace the whole body, skip the rest. */
export function continueAndReplace(dir: Direction, o: Omit<ReplyOptions, 'replace'> = {}): ProcessingResponse {
  return headersReply(dir, { ...o, replace: true });
}

/** What an immediate response sends to the client instead of continuing. */
export interface ImmediateOptions {
  /** HTTP status (default 200 per Envoy; give one). */
  readonly status?: number;
  /** Response headers (plain object or pairs), or full edits. */
  readonly headers?: HeaderInput | HeaderEdits;
  /** Response body (string as UTF-8). */
  readonly body?: string | Uint8Array;
  /** For gRPC clients: the grpc-status to answer with. */
  readonly grpcStatus?: number;
  /** Why, for the gateway's logs (not sent to the client). */
  readonly details?: string;
  /** Dynamic metadata to hand the gateway along with the response. */
  readonly dynamicMetadata?: Readonly<Record<string, unknown>>;
}

const isEdits = (h: HeaderInput | HeaderEdits): h is HeaderEdits =>
  !Array.isArray(h) && ['set', 'append', 'addIfAbsent', 'remove'].some((k) => typeof (h as Record<string, unknown>)[k] === 'object');

/** An ImmediateResponse: the gateway stops processing and answers the client with this. Valid in any phase. */
export function immediate(o: ImmediateOptions): ProcessingResponse {
  const ir: NonNullable<ProcessingResponse['immediateResponse']> = {};
  if (o.status !== undefined) ir.status = { code: o.status };
  if (o.headers !== undefined) {
    const hm = headerMutation(isEdits(o.headers) ? o.headers : { set: o.headers });
    if (hm) ir.headers = hm;
  }
  if (o.body !== undefined) ir.body = toBytes(o.body);
  if (o.grpcStatus !== undefined) ir.grpcStatus = { status: o.grpcStatus };
  if (o.details !== undefined) ir.details = o.details;
  return extras({ immediateResponse: ir }, o);
}

/** An immediate JSON response (`content-type: application/json`). */
export function immediateJson(status: number, body: unknown, o: Omit<ImmediateOptions, 'status' | 'body'> = {}): ProcessingResponse {
  const headers = o.headers === undefined ? {} : o.headers;
  const edits: HeaderEdits = isEdits(headers) ? headers : { set: headers };
  return immediate({ ...o, status, headers: { ...edits, set: [['content-type', 'application/json'], ...pairs(edits.set)] }, body: JSON.stringify(body) });
}

/** Converts a plain JSON-like object into the google.protobuf.Struct of `dynamic_metadata`. */
export function dynamicMetadata(obj: Readonly<Record<string, unknown>>): NonNullable<ProcessingResponse['dynamicMetadata']> {
  return jsonToStruct(obj);
}

/** Adds `mode_override` / `dynamic_metadata` to an existing reply (returns the same object). */
export function withExtras(r: ProcessingResponse, o: Pick<ReplyOptions, 'modeOverride' | 'dynamicMetadata'>): ProcessingResponse {
  return extras(r, o);
}

export { modeOverride };
