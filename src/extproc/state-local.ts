/**
 * The streamed local reply (Envoy's StreamedImmediateResponse, reference §1.10) in the session state machine.
 * Pure, like state.ts: it may start only as the answer to request_headers, when the request header mode is
 * SEND and the request body mode none or full duplex; it is then headers (with `:status`), body chunks and
 * optional trailers, and it ends on end_of_stream or the trailers. Meanwhile the request body may keep
 * streaming to the processor, which answers it with nothing. Any other reply is a protocol error, and so is a
 * stream that ends before the local reply did (the client would see a truncated body).
 */
import type { FailureCause } from './failure.js';
import { fail, isAwaiting, timed, type Effect, type Event, type State, type Step } from './state.js';

type Open = Extract<State, { t: 'open' }>;
type Local = Extract<State, { t: 'localReply' }>;

function protocol(detail: string): FailureCause {
  return { kind: 'protocol', detail };
}

/** Where the request direction must be for a local reply to start: its headers reply is awaited. */
function awaitsRequestHeaders(s: Open): boolean {
  const d = s.request;
  return d.t === 'awaitingHeaders' || (d.t === 'streaming' && !d.headersAnswered);
}

/** A streamed_immediate_response with headers_response arrived while the session was open. */
export function startLocal(s: Open, end: boolean, problem?: string): Step {
  if (!s.localReplyAllowed) {
    return fail(s, protocol('the processor sent a streamed_immediate_response, which needs requestHeaderMode send and requestBodyMode none or fullDuplexStreamed; send an immediate_response instead, or change the processing options'));
  }
  if (!awaitsRequestHeaders(s)) {
    return fail(s, protocol('the processor sent a streamed_immediate_response headers_response when no request_headers reply was awaited; a streamed local reply can only answer request_headers'));
  }
  if (problem !== undefined) return fail(s, protocol(problem));
  if (end) {
    // Headers only: the local reply is complete at once, like an immediate response.
    const effects: Effect[] = [{ k: 'local', part: 'headers', end: true }];
    if (isAwaiting(s)) effects.push({ k: 'disarmTimer' });
    if (s.opened && !s.sendClosed) effects.push({ k: 'closeSend' });
    return { state: { t: 'responded' }, effects };
  }
  const d = s.request;
  const next: Local = { t: 'localReply', inputEnded: d.t === 'streaming' && d.inputEnded, sendClosed: s.sendClosed };
  return timed(s, next, [{ k: 'local', part: 'headers', end: false }]);
}

function finishLocal(s: Local, part: 'body' | 'trailers'): Step {
  const effects: Effect[] = [{ k: 'local', part, end: true }];
  if (isAwaiting(s)) effects.push({ k: 'disarmTimer' });
  if (!s.sendClosed) effects.push({ k: 'closeSend' });
  return { state: { t: 'responded' }, effects };
}

/** Every event while a local reply streams. Gateway-side bugs (a response-direction send) throw. */
export function localTransition(s: Local, ev: Exclude<Event, { e: 'finish' }>): Step {
  switch (ev.e) {
    case 'sent':
      if (ev.dir !== 'request' || ev.phase === 'headers') throw new Error(`ext_proc state: cannot send ${ev.dir}_${ev.phase} during a local reply`);
      if (s.inputEnded) throw new Error('ext_proc state: cannot send after the request input ended');
      return timed(s, { ...s, inputEnded: ev.phase === 'trailers' || ev.last === true }, []);
    case 'directionDone':
      // The request direction will send nothing more (body mode none, or the pump stopped).
      return ev.dir === 'request' && !s.inputEnded ? timed(s, { ...s, inputEnded: true }, []) : { state: s, effects: [] };
    case 'reply':
      if (ev.kind === 'local_body') {
        if (ev.end === true) return finishLocal(s, 'body');
        return timed(s, s, [{ k: 'local', part: 'body', end: false }]);
      }
      if (ev.kind === 'local_trailers') return finishLocal(s, 'trailers');
      return fail(s, protocol(`the processor sent ${ev.kind} while its streamed_immediate_response was still streaming; only body_response and trailers_response may follow (the request body needs no answer meanwhile)`));
    case 'closeSend':
      if (s.sendClosed) return { state: s, effects: [] };
      return { state: { ...s, sendClosed: true }, effects: [{ k: 'closeSend' }] };
    case 'end': {
      const how = ev.end.kind === 'ok' ? 'closed the stream' : ev.end.kind === 'grpc_status' ? `ended the stream with gRPC status ${ev.end.code}` : 'lost the stream';
      const cause: FailureCause = {
        kind: ev.end.kind === 'ok' ? 'closed' : ev.end.kind === 'grpc_status' ? 'grpc_status' : ev.end.kind === 'connect' ? 'connect' : 'reset',
        detail: `the processor ${how} before its streamed_immediate_response ended (end_of_stream or trailers_response); the local reply would be truncated`,
      };
      return fail(s, cause);
    }
    case 'timeout':
      return fail(s, {
        kind: 'timeout',
        detail: `the processor did not continue its streamed_immediate_response within messageTimeout (${ev.ms}ms) after it had the whole request`,
      });
    case 'failure':
      return fail(s, ev.cause);
    case 'outputEnded':
    case 'responseHeadersOut':
      return { state: s, effects: [] };
    case 'failOpen':
      throw new Error('ext_proc state: failOpen outside a failure');
  }
}
