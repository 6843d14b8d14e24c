/**
 * Applying a processor's replies under SPEC §2's mutation rules: header mutations (agentgateway's
 * append_action rules, raw_value before value, pseudo-headers, `host` → `:authority`, `:status` checks),
 * body mutations and ImmediateResponse. Pure; no I/O. A name or value with CR, LF or NUL (or any control
 * character node would refuse to write) is never applied: it is reported back as rejected.
 */
import { encodeGrpcMessage } from '../http/grpc-message.js';
import { HeaderList } from '../http/headers.js';
import { isHopByHop } from '../http/hop-by-hop.js';
import { grpcStatusFor } from '../errors.js';
import type { GatewayResponse } from '../http/message.js';
import type { BodyMutation, HeaderMutation, HeaderValueOption, ImmediateResponse } from './messages.js';

/** A mutation that was not applied, and why (logged and counted). */
export interface RejectedMutation {
  readonly header: string;
  readonly why: string;
}

/** The request fields a processor may change. */
export interface RequestHead {
  method: string;
  scheme: 'http' | 'https';
  authority: string;
  path: string;
  headers: HeaderList;
}

/** The response fields a processor may change. */
export interface ResponseHead {
  status: number;
  headers: HeaderList;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// Field values: visible ASCII, obs-text, SP and HTAB. Everything else (CR, LF, NUL, other CTLs, DEL) is
// refused: CR/LF/NUL would inject header lines, and node throws on the other control characters.
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Append actions (envoy.config.core.v3.HeaderValueOption.HeaderAppendAction). */
type Action = 'append' | 'addIfAbsent' | 'overwriteOrAdd' | 'overwriteIfExists';

/**
 * agentgateway's rule: a non-zero `append_action` is used as is (unknown numbers append); 0 (which is also
 * APPEND_IF_EXISTS_OR_ADD) defers to the deprecated `append`: true appends, unset or false overwrites.
 */
export function appendActionOf(opt: HeaderValueOption): Action {
  const n = opt.appendAction ?? 0;
  if (n === 1) return 'addIfAbsent';
  if (n === 2) return 'overwriteOrAdd';
  if (n === 3) return 'overwriteIfExists';
  if (n !== 0) return 'append';
  return opt.append?.value === true ? 'append' : 'overwriteOrAdd';
}

/** The value to apply: `raw_value` bytes when non-empty, else `value`, as a latin1 "binary string". */
export function valueOf(opt: HeaderValueOption): string | undefined {
  const raw = opt.header?.rawValue;
  if (raw != null && raw.length > 0) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  const v = opt.header?.value;
  if (v != null && v.length > 0) return Buffer.from(v, 'utf8').toString('latin1');
  return undefined;
}

/** Validates a header name (lower-cased); returns why it is refused, or undefined. */
function badName(name: string): string | undefined {
  if (name.length === 0) return 'empty header name';
  if (/[\r\n\0]/.test(name)) return 'header name contains CR, LF or NUL';
  if (name.startsWith(':')) return undefined;
  return TOKEN.test(name) ? undefined : 'invalid header name';
}

function badValue(value: string): string | undefined {
  if (/[\r\n\0]/.test(value)) return 'header value contains CR, LF or NUL';
  return BAD_VALUE.test(value) ? 'header value contains a control character' : undefined;
}

/** Applies one set operation to a plain header list. */
function setInList(list: HeaderList, name: string, value: string, action: Action): void {
  switch (action) {
    case 'append':
      list.append(name, value);
      return;
    case 'addIfAbsent':
      if (!list.has(name)) list.append(name, value);
      return;
    case 'overwriteOrAdd':
      list.set(name, value);
      return;
    case 'overwriteIfExists':
      if (list.has(name)) list.set(name, value);
      return;
  }
}

/** A per-target hook for pseudo-headers and special names; returns undefined when handled, or a rejection. */
type Special = (name: string, value: string) => string | undefined | 'regular';

function applyMutation(
  headers: HeaderList,
  mutation: HeaderMutation | null | undefined,
  special: Special,
): RejectedMutation[] {
  const rejected: RejectedMutation[] = [];
  if (mutation == null) return rejected;
  for (const raw of mutation.removeHeaders ?? []) {
    const name = raw.toLowerCase();
    const why = badName(name);
    if (why !== undefined) rejected.push({ header: printable(name), why });
    else if (name.startsWith(':')) rejected.push({ header: name, why: 'pseudo-headers cannot be removed' });
    else headers.delete(name);
  }
  for (const opt of mutation.setHeaders ?? []) {
    const name = (opt.header?.key ?? '').toLowerCase();
    const why = badName(name);
    if (why !== undefined) {
      rejected.push({ header: printable(name), why });
      continue;
    }
    const value = valueOf(opt);
    if (value === undefined) {
      rejected.push({ header: name, why: 'both raw_value and value are empty' });
      continue;
    }
    const vwhy = badValue(value);
    if (vwhy !== undefined) {
      rejected.push({ header: name, why: vwhy });
      continue;
    }
    const handled = special(name, value);
    if (handled === 'regular') {
      if (isHopByHop(name)) rejected.push({ header: name, why: 'hop-by-hop headers cannot be set' });
      else setInList(headers, name, value, appendActionOf(opt));
    } else if (handled !== undefined) {
      rejected.push({ header: name, why: handled });
    }
  }
  return rejected;
}

/** Shows a refused name without its control characters (it goes into logs). */
function printable(name: string): string {
  return JSON.stringify(name).slice(1, -1);
}

/**
 * Applies a header mutation to a request head. Pseudo-headers always overwrite; `host` sets `:authority`
 * (whatever the append action); `:status` is ignored on requests.
 */
export function mutateRequestHead(head: RequestHead, mutation: HeaderMutation | null | undefined): RejectedMutation[] {
  return applyMutation(head.headers, mutation, (name, value) => {
    switch (name) {
      case ':method':
        if (!TOKEN.test(value.toLowerCase())) return 'invalid :method';
        head.method = value;
        return undefined;
      case ':scheme':
        if (value !== 'http' && value !== 'https') return ':scheme must be http or https';
        head.scheme = value;
        return undefined;
      case ':authority':
      case 'host':
        if (/[\s/?#@]/.test(value) || value.length === 0) return `invalid ${name}`;
        head.authority = value;
        head.headers.delete('host');
        return undefined;
      case ':path':
        if (!value.startsWith('/') || /\s/.test(value)) return ':path must start with / and contain no spaces';
        head.path = value;
        return undefined;
      case ':status':
        return ':status cannot be set on a request';
      default:
        return name.startsWith(':') ? 'unknown pseudo-header' : 'regular';
    }
  });
}

/** Parses a `:status` value: numeric, 200..999; anything else is refused (SPEC: ignored). */
function parseStatus(value: string): number | undefined {
  if (!/^\d{3}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 200 ? n : undefined;
}

/** Applies a header mutation to a response head. Only `:status` (numeric, ≥ 200) applies among pseudo-headers. */
export function mutateResponseHead(head: ResponseHead, mutation: HeaderMutation | null | undefined): RejectedMutation[] {
  return applyMutation(head.headers, mutation, (name, value) => {
    if (name === ':status') {
      const n = parseStatus(value);
      if (n === undefined) return ':status must be a number from 200 to 999';
      head.status = n;
      return undefined;
    }
    return name.startsWith(':') ? 'request pseudo-headers do not apply to a response' : 'regular';
  });
}

/** Applies a header mutation to trailers (no pseudo-headers there). */
export function mutateTrailers(trailers: HeaderList, mutation: HeaderMutation | null | undefined): RejectedMutation[] {
  return applyMutation(trailers, mutation, (name) => (name.startsWith(':') ? 'pseudo-headers are not trailers' : 'regular'));
}

/** The effect of a body mutation on a buffered body. */
export type BodyChange =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'replace'; readonly body: Buffer }
  | { readonly kind: 'streamed'; readonly body: Buffer; readonly endOfStream: boolean };

function toBuffer(b: Uint8Array | null | undefined): Buffer {
  if (b == null) return Buffer.alloc(0);
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Reads a BodyMutation: `body` replaces, `clear_body` empties, `streamed_response` carries a chunk. */
export function bodyChange(m: BodyMutation | null | undefined): BodyChange {
  if (m == null) return { kind: 'unchanged' };
  if (m.body != null) return { kind: 'replace', body: toBuffer(m.body) };
  if (m.clearBody === true) return { kind: 'replace', body: Buffer.alloc(0) };
  if (m.streamedResponse != null) {
    return { kind: 'streamed', body: toBuffer(m.streamedResponse.body), endOfStream: m.streamedResponse.endOfStream === true };
  }
  return { kind: 'unchanged' };
}


/** The response built from an ImmediateResponse, plus the header mutations that were refused. */
export interface ImmediateResult {
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: Buffer;
  readonly rejected: readonly RejectedMutation[];
}

/**
 * Builds the local reply for an ImmediateResponse: status `status.code` (200 when unset or below 200, as
 * Envoy), headers applied under the response rules, body as given with `content-type: text/plain` unless
 * set. A gRPC request gets a trailers-only gRPC reply instead: HTTP 200, `grpc-status` from `grpc_status`
 * (or mapped from the HTTP status, as Envoy's local replies do) and the body in `grpc-message`.
 */
export function immediateResponse(ir: ImmediateResponse, grpc: boolean): ImmediateResult {
  const code = Number(ir.status?.code ?? 0);
  let status = code < 200 ? 200 : code > 999 ? 500 : code;
  const head: ResponseHead = { status, headers: new HeaderList() };
  const rejected = mutateResponseHead(head, ir.headers);
  status = head.status;
  const body = toBuffer(ir.body);
  if (grpc) {
    const grpcStatus = ir.grpcStatus != null ? Number(ir.grpcStatus.status ?? 0) : grpcStatusFor(status);
    const headers = head.headers;
    headers.set('content-type', 'application/grpc');
    headers.set('grpc-status', String(grpcStatus));
    if (body.length > 0) headers.set('grpc-message', encodeGrpcMessage(body.toString('utf8')));
    return { status: 200, headers, body: Buffer.alloc(0), rejected };
  }
  if (!head.headers.has('content-type')) head.headers.set('content-type', 'text/plain');
  head.headers.delete('content-length');
  return { status, headers: head.headers, body, rejected };
}

/** Turns an ImmediateResult into a GatewayResponse with the given body factory. */
export function toGatewayResponse(r: ImmediateResult, makeBody: (b: Buffer) => GatewayResponse['body']): GatewayResponse {
  return { status: r.status, headers: r.headers, body: makeBody(r.body) };
}

export { encodeGrpcMessage };
