/**
 * Readers for ProcessingResponses, for assertions in tests: which phase a reply answers, which header edits it
 * carries, and which body bytes it sets.
 */
import { AppendAction, type HeaderMutation, type ProcessingResponse } from '../extproc/messages.js';

/** The `response` oneof member a reply sets. */
export type ReplyPhase =
  | 'requestHeaders' | 'responseHeaders' | 'requestBody' | 'responseBody' | 'requestTrailers' | 'responseTrailers'
  | 'immediateResponse' | 'streamedImmediateResponse';

const PHASES: readonly ReplyPhase[] = [
  'requestHeaders', 'responseHeaders', 'requestBody', 'responseBody', 'requestTrailers', 'responseTrailers',
  'immediateResponse', 'streamedImmediateResponse',
];

/** Which phase a reply answers (undefined for an empty ProcessingResponse). */
export function replyPhase(r: ProcessingResponse | undefined): ReplyPhase | undefined {
  return r === undefined ? undefined : PHASES.find((p) => r[p] != null);
}

/** Header edits of a reply, grouped by how they apply. Values decoded as UTF-8 from `raw_value` (or `value`). */
export interface HeaderEditsSeen {
  readonly set: Readonly<Record<string, string>>;
  readonly append: ReadonlyArray<readonly [string, string]>;
  readonly addIfAbsent: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

function mutationOf(r: ProcessingResponse | undefined): HeaderMutation | null | undefined {
  if (r === undefined) return undefined;
  const common = (r.requestHeaders ?? r.responseHeaders ?? r.requestBody ?? r.responseBody)?.response;
  return common?.headerMutation ?? (r.requestTrailers ?? r.responseTrailers)?.headerMutation ?? r.immediateResponse?.headers;
}

/** The header edits a reply carries (empty groups when none). */
export function headerEditsOf(r: ProcessingResponse | undefined): HeaderEditsSeen {
  const m = mutationOf(r);
  const set: Record<string, string> = {};
  const append: Array<readonly [string, string]> = [];
  const addIfAbsent: Record<string, string> = {};
  for (const o of m?.setHeaders ?? []) {
    const k = o.header?.key ?? '';
    const v = o.header?.rawValue && o.header.rawValue.length > 0 ? Buffer.from(o.header.rawValue).toString('utf8') : (o.header?.value ?? '');
    const action = o.appendAction ?? AppendAction.APPEND_IF_EXISTS_OR_ADD;
    if (action === AppendAction.ADD_IF_ABSENT) addIfAbsent[k] = v;
    else if (action === AppendAction.APPEND_IF_EXISTS_OR_ADD && o.append?.value !== false) append.push([k, v]);
    else set[k] = v;
  }
  return { set, append, addIfAbsent, remove: [...(m?.removeHeaders ?? [])] };
}

/** The body bytes a reply sets: a replacement, a streamed chunk, or an immediate body (undefined when none). */
export function bodyOf(r: ProcessingResponse | undefined): Buffer | undefined {
  if (r === undefined) return undefined;
  if (r.immediateResponse?.body != null) return Buffer.from(r.immediateResponse.body);
  const bm = (r.requestHeaders ?? r.responseHeaders ?? r.requestBody ?? r.responseBody)?.response?.bodyMutation;
  if (bm?.body != null) return Buffer.from(bm.body);
  if (bm?.clearBody) return Buffer.alloc(0);
  if (bm?.streamedResponse != null) return Buffer.from(bm.streamedResponse.body ?? []);
  return undefined;
}

/** The concatenated `streamed_response` bytes of some replies, and whether one of them ended the body. */
export function streamedBody(replies: readonly ProcessingResponse[]): { data: Buffer; endOfStream: boolean } {
  const parts: Buffer[] = [];
  let endOfStream = false;
  for (const r of replies) {
    const s = (r.requestBody ?? r.responseBody)?.response?.bodyMutation?.streamedResponse;
    if (s == null) continue;
    parts.push(Buffer.from(s.body ?? []));
    endOfStream ||= !!s.endOfStream;
  }
  return { data: Buffer.concat(parts), endOfStream };
}
