/**
 * The ext_proc session state machine: where one exchange stands with its processor. Pure: `transition`
 * takes a state and an event and returns the next state plus the effects the session must carry out.
 * Negotiated modes live in modes.ts; this file only tracks position. Both directions share the machine;
 * the direction is data (Envoy's Decoding/Encoding split, agentgateway's RequestPhase).
 *
 * ```
 *  open ─┬─ request ─┐        per direction (each keeps its own order; a streaming request body may
 *        └─ response ┘         still flow while the response direction begins):
 *   pending ──sent headers──▶ awaitingHeaders ──reply──▶ idle
 *   pending|idle ──sent body (buffered/bufferedPartial)──▶ awaitingBody ──reply──▶ idle
 *   pending|idle|awaitingHeaders ──sent body (streamed/fullDuplex)──▶ streaming{headersAnswered, unanswered, inputEnded}
 *   streaming ──sent trailers──▶ streaming{trailersSent} ──trailers reply──▶ idle
 *   streaming(fullDuplex) ──outputEnded (streamed_response end_of_stream)──▶ idle
 *   idle ──sent trailers──▶ awaitingTrailers ──reply──▶ idle
 *   idle ──directionDone──▶ complete            (nothing more will be sent or accepted that way)
 *
 *  open ──closeSend──▶ open{sendClosed}      (no further phase will be sent; the stream half-closes)
 *  open{sendClosed, nothing awaited} ──stream ends OK──▶ done
 *
 *  any awaited reply ── immediate_response ──▶ responded   (send it; half-close the stream)
 *  request headers awaited ── streamed_immediate_response{headers} ──▶ localReply   (state-local.ts)
 *  localReply ── body chunks (the request body may still stream in) ──▶ localReply ── end | trailers ──▶ responded
 *  open ── stream ends OK with work left ──▶ passThrough(closed_ok)   (continue unmodified: Envoy's rule)
 *  open ── reply to the wrong phase | empty reply | stream error | messageTimeout ──▶ failed(cause)
 *  failed ──failOpen (failure.ts said continue-unmodified)──▶ passThrough(fail_open)
 *  any ──finish──▶ done   (cancel a stream still in use; one we half-closed with nothing awaited gets a
 *                          grace period to be closed by the processor first)
 * ```
 * Replies must answer messages in the order they were sent: a reply is accepted only when its kind matches
 * what its direction expects (`expected`). Everything else is a protocol error with a sentence saying why.
 * The message timer runs while the gateway is blocked on the processor; in full duplex it is an idle timer
 * that runs only once the processor has the whole input, re-armed by every reply.
 */
import type { BodySendMode } from '../config/model.js';
import type { FailureCause } from './failure.js';
import type { Direction } from './modes.js';
import type { StreamEnd } from './transport.js';
import { endReason, protocolReason } from './state-reasons.js';
import { localTransition, startLocal } from './state-local.js';
import { AWAITING_HEADERS, AWAITING_TRAILERS, ARM, BODY_ONLY, BODY_OR_TRAILERS, CANCEL, CANCEL_LATER, CLOSE_SEND, COMPLETE, DISARM, DONE, HEADERS_ONLY, IDLE, IMMEDIATE, NOTHING, OPEN, PENDING, REPLY_PARTS, RESPONDED, TRAILERS_ONLY, openState, type OpenState } from './state-values.js';

export { replyKind } from './reply-kind.js';

/** A message kind on the wire, without its direction. */
export type Phase = 'headers' | 'body' | 'trailers';

/** A part of a streamed local reply (StreamedImmediateResponse's oneof). */
export type LocalPart = 'headers' | 'body' | 'trailers';

/**
 * What a ProcessingResponse carried (its oneof), or 'empty' when nothing was set. A
 * streamed_immediate_response is `local_<part>`, or `streamed_immediate_response` when its own oneof is unset.
 */
export type ReplyKind =
  | `${Direction}_${Phase}`
  | 'immediate_response'
  | `local_${LocalPart}`
  | 'streamed_immediate_response'
  | 'empty';

/** One direction's position. */
export type DirState =
  | { readonly t: 'pending' }
  | { readonly t: 'awaitingHeaders' }
  | { readonly t: 'awaitingBody'; readonly mode: BodySendMode }
  | {
      readonly t: 'streaming';
      readonly mode: 'streamed' | 'fullDuplexStreamed';
      /** The headers reply arrived (body replies before it are out of order). */
      readonly headersAnswered: boolean;
      /** Body messages sent but not answered yet (streamed mode's in-order FIFO). */
      readonly unanswered: number;
      /** The last body message (or the trailers) went out: the processor has everything. */
      readonly inputEnded: boolean;
      /** A trailers message went out; its reply ends the direction. */
      readonly trailersSent: boolean;
    }
  | { readonly t: 'awaitingTrailers' }
  | { readonly t: 'idle' }
  | { readonly t: 'complete' };

/** The whole session. */
export type State =
  | {
      readonly t: 'open';
      readonly request: DirState;
      readonly response: DirState;
      /** True once the stream was opened (the first message went out). */
      readonly opened: boolean;
      readonly sendClosed: boolean;
      /** True once response headers went to the client (an immediate response is no longer possible). */
      readonly responseHeadersOut: boolean;
      /** A streamed_immediate_response may start (request headers SEND, request body none or full duplex). */
      readonly localReplyAllowed: boolean;
    }
  /**
   * The processor is streaming a local reply (StreamedImmediateResponse) to the client; the upstream is never
   * called. The request body may still stream to the processor (full duplex) until `inputEnded`.
   */
  | { readonly t: 'localReply'; readonly inputEnded: boolean; readonly sendClosed: boolean }
  | { readonly t: 'passThrough'; readonly why: 'closed_ok' | 'fail_open' }
  | { readonly t: 'responded' }
  | { readonly t: 'failed'; readonly cause: FailureCause }
  | { readonly t: 'done' };

/** Something that happened to the session. */
export type Event =
  | { readonly e: 'sent'; readonly dir: Direction; readonly phase: Phase; readonly mode?: BodySendMode; readonly last?: boolean }
  /** Full duplex: the processor ended this direction's body (streamed_response end_of_stream). */
  | { readonly e: 'outputEnded'; readonly dir: Direction }
  /**
   * `end`: the end_of_stream of a local reply's headers or body part; `problem`: why a local reply's
   * headers cannot be used (found by the channel, e.g. no valid `:status`).
   */
  | { readonly e: 'reply'; readonly kind: ReplyKind; readonly end?: boolean; readonly problem?: string }
  | { readonly e: 'directionDone'; readonly dir: Direction }
  | { readonly e: 'closeSend' }
  | { readonly e: 'responseHeadersOut' }
  | { readonly e: 'end'; readonly end: StreamEnd }
  | { readonly e: 'timeout'; readonly ms: number }
  | { readonly e: 'failure'; readonly cause: FailureCause }
  | { readonly e: 'failOpen' }
  | { readonly e: 'finish' };

/** What the session must do as a result. */
export type Effect =
  | { readonly k: 'open' }
  | { readonly k: 'deliver'; readonly dir: Direction; readonly phase: Phase }
  | { readonly k: 'immediate' }
  /** A part of a streamed local reply goes to the client (`end`: it is the last). */
  | { readonly k: 'local'; readonly part: LocalPart; readonly end: boolean }
  | { readonly k: 'fail'; readonly cause: FailureCause }
  | { readonly k: 'passThrough'; readonly why: 'closed_ok' | 'fail_open' }
  | { readonly k: 'armTimer' }
  | { readonly k: 'disarmTimer' }
  | { readonly k: 'closeSend' }
  | { readonly k: 'cancel' }
  /** Cancel only if the processor has not closed the stream within a grace period (avoids RST storms). */
  | { readonly k: 'cancelLater' };

/** A transition's result. */
export interface Step {
  readonly state: State;
  readonly effects: readonly Effect[];
}

/** The initial state: nothing sent, stream not opened. `localReplyAllowed` per modes (reference §1.10). */
export function initialState(opts: { localReplyAllowed?: boolean } = {}): State {
  return openState(PENDING, PENDING, false, false, false, opts.localReplyAllowed ?? false);
}

/** The reply phases a direction accepts now, in the order they are due. */
export function expected(d: DirState): readonly Phase[] {
  switch (d.t) {
    case 'awaitingHeaders':
      return HEADERS_ONLY;
    case 'awaitingBody':
      return BODY_ONLY;
    case 'awaitingTrailers':
      return TRAILERS_ONLY;
    case 'streaming':
      if (!d.headersAnswered) return HEADERS_ONLY;
      // Full duplex: a trailers reply ends the body even when the message had no trailers (agentgateway
      // processors end bodies that way; Envoy ignores the stray reply), so it is accepted either way.
      if (d.mode === 'fullDuplexStreamed') return BODY_OR_TRAILERS;
      if (d.unanswered > 0) return BODY_ONLY;
      return d.trailersSent ? TRAILERS_ONLY : NOTHING;
    default:
      return NOTHING;
  }
}

/** What a direction waits for, as the processor would name it; undefined when it waits for nothing. */
export function awaitedPhase(d: DirState): Phase | undefined {
  return expected(d)[0];
}

/**
 * True when the gateway is blocked on the processor in this direction (the message timer runs then).
 * Full duplex is an idle timer: it runs only once the processor has the whole input, since before that a
 * quiet processor may simply be waiting for more body (SPEC §2 messageTimeout).
 */
function waitsOn(d: DirState): boolean {
  if (d.t === 'streaming' && d.mode === 'fullDuplexStreamed') return d.inputEnded;
  return expected(d).length > 0;
}

/** True when a reply is awaited in some direction (the message timer runs then). */
export function isAwaiting(s: State): boolean {
  // A local reply is an idle timer too: the processor may be waiting for more request body.
  if (s.t === 'localReply') return s.inputEnded;
  return s.t === 'open' && (waitsOn(s.request) || waitsOn(s.response));
}

/** True when the processor may answer something now (an immediate response is acceptable then). */
function expectsAny(s: OpenState): boolean {
  return expected(s.request).length > 0 || expected(s.response).length > 0;
}

/** The awaited message kind (for messages), e.g. `request_body`, or undefined. */
export function awaitedKind(s: State): `${Direction}_${Phase}` | undefined {
  if (s.t !== 'open') return undefined;
  const r = awaitedPhase(s.request);
  if (r !== undefined) return `request_${r}`;
  const p = awaitedPhase(s.response);
  return p === undefined ? undefined : `response_${p}`;
}

function protocolError(s: OpenState, kind: ReplyKind): FailureCause {
  const awaited = awaitedKind(s);
  return protocolReason(kind, awaited, awaited === undefined ? undefined : s[awaited.split('_')[0] as Direction]);
}

function withDir(s: OpenState, dir: Direction, d: DirState, opened = s.opened): OpenState {
  return dir === 'request'
    ? openState(d, s.response, opened, s.sendClosed, s.responseHeadersOut, s.localReplyAllowed)
    : openState(s.request, d, opened, s.sendClosed, s.responseHeadersOut, s.localReplyAllowed);
}

function acceptReply(d: DirState, phase: Phase): DirState | undefined {
  switch (d.t) {
    case 'awaitingHeaders':
      return phase === 'headers' ? IDLE : undefined;
    case 'awaitingBody':
      return phase === 'body' ? IDLE : undefined;
    case 'awaitingTrailers':
      return phase === 'trailers' ? IDLE : undefined;
    case 'streaming': {
      if (!expected(d).includes(phase)) return undefined;
      if (phase === 'headers') return { ...d, headersAnswered: true };
      if (phase === 'trailers') return IDLE;
      return d.mode === 'fullDuplexStreamed' ? d : { ...d, unanswered: d.unanswered - 1 };
    }
    default:
      return undefined;
  }
}

function sendState(d: DirState, ev: Extract<Event, { e: 'sent' }>): DirState {
  const ready = d.t === 'pending' || d.t === 'idle';
  if (ev.phase === 'headers' && d.t === 'pending') return AWAITING_HEADERS;
  if (ev.phase === 'body') {
    const mode = ev.mode ?? 'buffered';
    const last = ev.last === true;
    if (mode === 'streamed' || mode === 'fullDuplexStreamed') {
      // Body chunks may go out before the headers reply (full duplex), so the headers may still be unanswered.
      if (d.t === 'streaming' && !d.inputEnded) return { ...d, unanswered: d.unanswered + 1, inputEnded: last };
      if (ready || d.t === 'awaitingHeaders') {
        return { t: 'streaming', mode, headersAnswered: d.t !== 'awaitingHeaders', unanswered: 1, inputEnded: last, trailersSent: false };
      }
    } else if (ready) {
      return { t: 'awaitingBody', mode };
    }
  }
  if (ev.phase === 'trailers') {
    if (ready) return AWAITING_TRAILERS;
    if (d.t === 'streaming' && !d.inputEnded) return { ...d, inputEnded: true, trailersSent: true };
  }
  throw new Error(`ext_proc state: cannot send ${ev.dir}_${ev.phase} while ${ev.dir} is ${d.t}`);
}

/** Adds timer effects: the message timer runs exactly while some reply is awaited. */
export function timed(before: State, after: State, effects: Effect[]): Step {
  const was = isAwaiting(before);
  const is = isAwaiting(after);
  if (!was && is) effects.push(ARM);
  else if (was && !is) effects.push(DISARM);
  else if (was && is && effects.some((e) => e.k === 'deliver' || e.k === 'local')) {
    // A reply arrived and another is still awaited: the timeout covers each awaited reply afresh.
    effects.push(DISARM, ARM);
  }
  return { state: after, effects };
}

function endCause(end: StreamEnd, s: State): FailureCause {
  return endReason(end, awaitedKind(s));
}

/** Fails the session with `cause`, disarming a running timer. */
export function fail(before: State, cause: FailureCause): Step {
  const effects: Effect[] = [{ k: 'fail', cause }];
  if (isAwaiting(before)) effects.push(DISARM);
  return { state: { t: 'failed', cause }, effects };
}

/** The pure transition function. Invalid gateway-side events (a send out of turn) throw: they are bugs. */
export function transition(s: State, ev: Event): Step {
  if (ev.e === 'finish') {
    const effects: Effect[] = [];
    if (isAwaiting(s)) effects.push(DISARM);
    // A stream we half-closed with nothing awaited is the processor's to close: resetting every such stream
    // would look like an HTTP/2 rapid-reset attack to the processor (node GOAWAYs after ~1000 resets).
    const settled = s.t === 'responded' || (s.t === 'open' && s.opened && s.sendClosed && !isAwaiting(s));
    const live = s.t === 'open' ? s.opened : s.t === 'failed' || s.t === 'localReply';
    if (settled) effects.push(CANCEL_LATER);
    else if (live) effects.push(CANCEL);
    return { state: DONE, effects };
  }
  switch (s.t) {
    case 'done':
    case 'responded':
    case 'passThrough':
      // The processor is out of the exchange: late replies and the stream's end change nothing.
      return { state: s, effects: [] };
    case 'failed':
      if (ev.e === 'failOpen') return { state: { t: 'passThrough', why: 'fail_open' }, effects: [CANCEL] };
      return { state: s, effects: [] };
    case 'localReply':
      return localTransition(s, ev);
    case 'open':
      break;
  }
  switch (ev.e) {
    case 'sent': {
      const effects: Effect[] = s.opened ? [] : [OPEN];
      return timed(s, withDir(s, ev.dir, sendState(s[ev.dir], ev), true), effects);
    }
    case 'reply': {
      if (ev.kind === 'immediate_response') {
        if (!expectsAny(s)) return fail(s, protocolError(s, ev.kind));
        if (s.responseHeadersOut) {
          return fail(s, { kind: 'protocol', detail: `the processor sent an immediate_response after response headers reached the client; it can no longer be honoured` });
        }
        // The exchange is answered: nothing more will be sent, so half-close (Envoy closes the stream here).
        const effects: Effect[] = [IMMEDIATE];
        if (isAwaiting(s)) effects.push(DISARM);
        if (!s.sendClosed) effects.push(CLOSE_SEND);
        return { state: RESPONDED, effects };
      }
      if (ev.kind === 'local_headers') return startLocal(s, ev.end === true, ev.problem);
      if (ev.kind === 'empty' || ev.kind === 'streamed_immediate_response' || ev.kind.startsWith('local_')) return fail(s, protocolError(s, ev.kind));
      const parts = REPLY_PARTS[ev.kind];
      if (parts === undefined) return fail(s, protocolError(s, ev.kind));
      const [dir, phase] = parts;
      // Each direction keeps its own order (Envoy's per-direction callback state): a request body may still
      // be streaming, or its trailers awaited, while the response has begun.
      const accepted = acceptReply(s[dir], phase);
      if (accepted === undefined) return fail(s, protocolError(s, ev.kind));
      return timed(s, withDir(s, dir, accepted), [{ k: 'deliver', dir, phase }]);
    }
    case 'directionDone':
      // The runner ends a direction when it needs nothing more from the processor that way.
      return timed(s, withDir(s, ev.dir, COMPLETE), []);
    case 'outputEnded': {
      const d = s[ev.dir];
      if (d.t !== 'streaming' || d.mode !== 'fullDuplexStreamed') return { state: s, effects: [] };
      return timed(s, withDir(s, ev.dir, IDLE), []);
    }
    case 'closeSend': {
      const next = openState(s.request, s.response, s.opened, true, s.responseHeadersOut, s.localReplyAllowed);
      return { state: next, effects: s.sendClosed || !s.opened ? [] : [CLOSE_SEND] };
    }
    case 'responseHeadersOut':
      return { state: openState(s.request, s.response, s.opened, s.sendClosed, true, s.localReplyAllowed), effects: [] };
    case 'end': {
      if (ev.end.kind === 'ok') {
        if (s.sendClosed && !isAwaiting(s)) return { state: DONE, effects: [] };
        // Envoy: a clean close means "continue without the processor" for the rest of the exchange.
        const effects: Effect[] = [{ k: 'passThrough', why: 'closed_ok' }];
        if (isAwaiting(s)) effects.push(DISARM);
        return { state: { t: 'passThrough', why: 'closed_ok' }, effects };
      }
      if (s.sendClosed && !isAwaiting(s) && ev.end.kind === 'cancelled') return { state: DONE, effects: [] };
      return fail(s, endCause(ev.end, s));
    }
    case 'timeout': {
      const awaited = awaitedKind(s);
      if (awaited === undefined) return { state: s, effects: [] }; // a stale timer
      return fail(s, {
        kind: 'timeout',
        detail: `the processor did not answer ${awaited} within messageTimeout (${ev.ms}ms); make it reply sooner or raise messageTimeout`,
      });
    }
    case 'failure':
      return fail(s, ev.cause);
    case 'failOpen':
      throw new Error('ext_proc state: failOpen outside a failure');
  }
}
