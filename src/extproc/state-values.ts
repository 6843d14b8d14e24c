/**
 * The values the ext_proc state machine (state.ts) builds its states from: shared instances of the states, effects
 * and phase lists that carry no data, the reply-kind table, and the one constructor of open states.
 */
import type { Direction } from './modes.js';
import type { DirState, Effect, Phase, State } from './state.js';

export type OpenState = Extract<State, { t: 'open' }>;

// Shared instances of the states, effects and phase lists that carry no data: transitions run several times per
// request, and these are immutable (every field is readonly), so one object each serves every exchange.
export const PENDING: DirState = Object.freeze({ t: 'pending' });
export const AWAITING_HEADERS: DirState = Object.freeze({ t: 'awaitingHeaders' });
export const AWAITING_TRAILERS: DirState = Object.freeze({ t: 'awaitingTrailers' });
export const IDLE: DirState = Object.freeze({ t: 'idle' });
export const COMPLETE: DirState = Object.freeze({ t: 'complete' });
export const DONE: State = Object.freeze({ t: 'done' });
export const RESPONDED: State = Object.freeze({ t: 'responded' });
export const OPEN: Effect = Object.freeze({ k: 'open' });
export const ARM: Effect = Object.freeze({ k: 'armTimer' });
export const DISARM: Effect = Object.freeze({ k: 'disarmTimer' });
export const IMMEDIATE: Effect = Object.freeze({ k: 'immediate' });
export const CLOSE_SEND: Effect = Object.freeze({ k: 'closeSend' });
export const CANCEL: Effect = Object.freeze({ k: 'cancel' });
export const CANCEL_LATER: Effect = Object.freeze({ k: 'cancelLater' });
export const HEADERS_ONLY: readonly Phase[] = Object.freeze(['headers']);
export const BODY_ONLY: readonly Phase[] = Object.freeze(['body']);
export const TRAILERS_ONLY: readonly Phase[] = Object.freeze(['trailers']);
export const BODY_OR_TRAILERS: readonly Phase[] = Object.freeze(['body', 'trailers']);
export const NOTHING: readonly Phase[] = Object.freeze([]);

/** A reply kind's direction and phase (`request_headers` → request, headers) without splitting a string. */
export const REPLY_PARTS: Readonly<Record<string, readonly [Direction, Phase]>> = Object.freeze({
  request_headers: ['request', 'headers'],
  request_body: ['request', 'body'],
  request_trailers: ['request', 'trailers'],
  response_headers: ['response', 'headers'],
  response_body: ['response', 'body'],
  response_trailers: ['response', 'trailers'],
});

/** An open state, always built with the same fields in the same order (one object shape for all of them). */
export function openState(
  request: DirState,
  response: DirState,
  opened: boolean,
  sendClosed: boolean,
  responseHeadersOut: boolean,
  localReplyAllowed: boolean,
): OpenState {
  return { t: 'open', request, response, opened, sendClosed, responseHeadersOut, localReplyAllowed };
}

