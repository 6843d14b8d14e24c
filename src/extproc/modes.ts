/**
 * Negotiated processing modes, kept apart from the session's position (state.ts): what each direction sends
 * to the processor, the proto numbers for `protocol_config`, and the `mode_override` acceptance rules.
 * Pure; no I/O.
 */
import type { BodySendMode, ProcessingOptions } from '../config/model.js';
import type { ProcessingMode } from './messages.js';

/** Which way a message travels: the client's request, or the upstream's response. */
export type Direction = 'request' | 'response';

/** The modes in effect for one direction. */
export interface DirectionModes {
  readonly headers: boolean;
  readonly body: BodySendMode;
  readonly trailers: boolean;
}

/** The modes in effect for one exchange; replaced (never mutated) when an override is accepted. */
export interface EffectiveModes {
  readonly request: DirectionModes;
  readonly response: DirectionModes;
}

/** Proto numbers of `ProcessingMode.BodySendMode`. */
const BODY_NUMBER: Readonly<Record<BodySendMode, number>> = {
  none: 0,
  streamed: 1,
  buffered: 2,
  bufferedPartial: 3,
  fullDuplexStreamed: 4,
};

const BODY_BY_NUMBER: ReadonlyMap<number, BodySendMode> = new Map(
  Object.entries(BODY_NUMBER).map(([k, v]) => [v, k as BodySendMode]),
);

/** The proto enum number for a body mode (for `protocol_config`). */
export function bodyModeNumber(mode: BodySendMode): number {
  return BODY_NUMBER[mode];
}

/** Body modes the session implements today; the others fail clearly at exchange start. */
export const SUPPORTED_BODY_MODES: ReadonlySet<BodySendMode> = new Set<BodySendMode>(['none', 'buffered', 'bufferedPartial', 'streamed', 'fullDuplexStreamed']);

function direction(headers: boolean, body: BodySendMode, trailers: boolean): DirectionModes {
  // Full-duplex needs trailers as its end marker when the message has them (Envoy rejects the config
  // otherwise; agentgateway forces SEND), so it always sends them.
  return { headers, body, trailers: trailers || body === 'fullDuplexStreamed' };
}

/** The modes configured by `processingOptions`. */
export function effectiveModes(opts: ProcessingOptions): EffectiveModes {
  return {
    request: direction(opts.requestHeaderMode === 'send', opts.requestBodyMode, opts.requestTrailerMode === 'send'),
    response: direction(opts.responseHeaderMode === 'send', opts.responseBodyMode, opts.responseTrailerMode === 'send'),
  };
}

/** True when nothing at all would ever be sent to the processor (no stream is opened). */
export function sendsNothing(m: EffectiveModes): boolean {
  const quiet = (d: DirectionModes): boolean => !d.headers && d.body === 'none' && !d.trailers;
  return quiet(m.request) && quiet(m.response);
}

/**
 * True when a streamed_immediate_response may answer the request headers (reference §1.10): the request
 * headers are sent and the request body mode is none or full duplex (a buffered or streamed body would
 * need answers the local reply leaves no room for).
 */
export function localReplyAllowed(m: EffectiveModes): boolean {
  return m.request.headers && (m.request.body === 'none' || m.request.body === 'fullDuplexStreamed');
}

/** The first body mode that the session does not implement yet, if any. */
export function unsupportedBodyMode(m: EffectiveModes): { direction: Direction; mode: BodySendMode } | undefined {
  if (!SUPPORTED_BODY_MODES.has(m.request.body)) return { direction: 'request', mode: m.request.body };
  if (!SUPPORTED_BODY_MODES.has(m.response.body)) return { direction: 'response', mode: m.response.body };
  return undefined;
}

/** Where the exchange stands when a headers reply carrying `mode_override` arrives. */
export interface OverrideContext {
  readonly allowModeOverride: boolean;
  /** The direction whose headers message the reply answers. */
  readonly replyTo: Direction;
  /** True when the reply answers a headers message (overrides on body/trailers replies are ignored). */
  readonly onHeadersReply: boolean;
  /** True once that direction's full-duplex body started flowing to the processor. */
  readonly duplexBodyStarted: boolean;
  /** True once response headers were sent to the processor (a later response_header_mode is moot). */
  readonly responseHeadersSent: boolean;
}

/** The result of considering a `mode_override`: the new modes, and why parts were ignored (for logs). */
export interface OverrideResult {
  readonly modes: EffectiveModes;
  readonly accepted: boolean;
  readonly ignored: readonly string[];
}

/** HeaderSendMode: DEFAULT(0) means "no change" in an override; SEND=1, SKIP=2. */
function headerOverride(n: number | null | undefined, current: boolean): boolean {
  if (n === 1) return true;
  if (n === 2) return false;
  return current;
}

/**
 * Applies a `mode_override` from a headers reply. Accepted only with `allowModeOverride`, only on the
 * headers reply of the direction being processed, and only before that direction's full-duplex body
 * started (SPEC §2). Body modes are literal (unset = NONE, Envoy's current rule) but a direction already
 * past its body (the request, seen from a response-headers reply) keeps its mode, and a full-duplex body
 * mode never changes (Envoy refuses overrides of a full-duplex config; agentgateway ignores them).
 */
export function applyModeOverride(current: EffectiveModes, override: ProcessingMode, ctx: OverrideContext): OverrideResult {
  const ignoredAll = (why: string): OverrideResult => ({ modes: current, accepted: false, ignored: [why] });
  if (!ctx.allowModeOverride) return ignoredAll('mode_override ignored: allowModeOverride is off');
  if (!ctx.onHeadersReply) return ignoredAll('mode_override ignored: only a headers reply may carry it');
  if (ctx.duplexBodyStarted) return ignoredAll('mode_override ignored: the full-duplex body already started');
  const ignored: string[] = [];
  if ((override.requestHeaderMode ?? 0) !== 0) ignored.push('request_header_mode cannot be overridden');

  const body = (dir: Direction, n: number | null | undefined): BodySendMode => {
    const cur = current[dir].body;
    const wanted = BODY_BY_NUMBER.get(n ?? 0);
    if (wanted === undefined) {
      ignored.push(`${dir}_body_mode ${String(n)} is not a known mode`);
      return cur;
    }
    if (wanted === cur) return cur;
    if (dir === 'request' && ctx.replyTo === 'response') return cur; // the request body is already past
    if (cur === 'fullDuplexStreamed') {
      ignored.push(`${dir}_body_mode cannot change away from fullDuplexStreamed`);
      return cur;
    }
    return wanted;
  };

  const reqBody = body('request', override.requestBodyMode);
  const resBody = body('response', override.responseBodyMode);
  let resHeaders = current.response.headers;
  if (ctx.responseHeadersSent) {
    if ((override.responseHeaderMode ?? 0) !== 0) ignored.push('response_header_mode: response headers were already sent');
  } else {
    resHeaders = headerOverride(override.responseHeaderMode, resHeaders);
  }
  const modes: EffectiveModes = {
    request: direction(current.request.headers, reqBody, headerOverride(override.requestTrailerMode, current.request.trailers)),
    response: direction(resHeaders, resBody, headerOverride(override.responseTrailerMode, current.response.trailers)),
  };
  return { modes, accepted: true, ignored };
}
