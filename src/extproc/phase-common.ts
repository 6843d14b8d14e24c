/**
 * What the direction runner and the buffered phase share: the two interfaces a direction is run through,
 * and how a reply's payload is found for a direction and phase.
 */
import type { GatewayError } from '../errors.js';
import type { HeaderList } from '../http/headers.js';
import type { Body } from '../http/message.js';
import type { PolicyOutcome } from '../pipeline/policy.js';
import type { Answer, ProcessorChannel, ProcessorFailure } from './channel.js';
import type { HeaderMapOut } from './headers-out.js';
import type { CommonResponse, HeaderMutation, HttpBody, HttpHeaders, HttpTrailers, ProcessingRequest, ProcessingResponse } from './messages.js';
import type { Direction, EffectiveModes } from './modes.js';
import type { RejectedMutation } from './mutation.js';
import type { Phase } from './state.js';

/** What the runner needs to read and change one direction's message. */
export interface DirectionIo {
  readonly dir: Direction;
  headers(): HeaderList;
  headerMap(): HeaderMapOut;
  mutateHead(m: HeaderMutation | null | undefined): RejectedMutation[];
  getBody(): Body | null;
  setBody(b: Body | null): void;
  /** Captures the head and body as they are now; the returned function puts them back. */
  snapshot(): () => void;
  /** The error for a body over maxBufferSize in buffered mode (413 request, 500 response). */
  tooLarge(limit: number): GatewayError;
  /**
   * True when the message goes out with no body whatever its content-length says (a response to HEAD, a 204 or
   * 304 response): a content-length there cannot desync the connection, so it is not checked.
   */
  bodyless(): boolean;
  /** True when the message must not carry a content-length at all (a 204 response, RFC 9110 §8.6). */
  lengthForbidden(): boolean;
  /** Abandons a body that will never be forwarded. */
  discard(b: Body | null): void;
}

/** The exchange-wide services the runner uses. */
export interface ExchangeServices {
  readonly channel: ProcessorChannel;
  modes: EffectiveModes;
  readonly allowModeOverride: boolean;
  readonly maxBufferSize: number;
  /** The policy fails open (failureMode: failOpen). */
  readonly failOpen: boolean;
  /** Reports header mutations that were not applied. */
  rejected(list: readonly RejectedMutation[]): void;
  /** Note that a `mode_override` was considered, for logs. */
  overrideIgnored(reasons: readonly string[]): void;
  /** Builds the outcome for an immediate response. */
  immediate(msg: ProcessingResponse): PolicyOutcome;
  /** Builds the outcome for a streamed local reply from its headers part; `bodyFlows`: a pump still sends the request body. */
  localReply(first: Extract<Answer, { kind: 'local' }>, bodyFlows: boolean): PolicyOutcome;
  /**
   * Decides on a failure before this direction's headers were forwarded: returns CONTINUE after fail-open
   * (the caller restores), or throws a GatewayError. `heldEverything`: every byte sent is still held.
   */
  failure(err: ProcessorFailure, dir: Direction, heldEverything: boolean): PolicyOutcome;
  /** A failure after the headers were forwarded: always throws (it fails the body). */
  lateFailure(err: ProcessorFailure, dir: Direction, heldEverything: boolean): never;
  /** The error for an immediate response that arrived after the headers were forwarded. */
  lateImmediate(msg: ProcessingResponse, dir: Direction): Error;
  /**
   * A buffered body passed maxBufferSize: records the ext_proc failure (reason `body_too_large`, access log and
   * metrics) and returns `err`, the error the client gets (413 request / 500 response; failOpen does not apply).
   */
  bodyTooLarge(dir: Direction, err: GatewayError): GatewayError;
  /** Records that the direction's headers are being forwarded with a streaming body. */
  headersForwarded(dir: Direction): void;
  /** The original body failed while being streamed to the processor. */
  inputFailed(dir: Direction, err: unknown): void;
  /** True when the other direction (after this one) will send something to the processor. */
  laterPhases(dir: Direction): boolean;
}

/** The ProcessingRequest / ProcessingResponse field of each direction and phase. */
export const PAYLOAD_KEYS = {
  request: { headers: 'requestHeaders', body: 'requestBody', trailers: 'requestTrailers' },
  response: { headers: 'responseHeaders', body: 'responseBody', trailers: 'responseTrailers' },
} as const;

/** The message of one phase, before the channel adds its other fields. */
export type PhaseRequest = Pick<ProcessingRequest, 'requestHeaders' | 'responseHeaders' | 'requestBody' | 'responseBody' | 'requestTrailers' | 'responseTrailers'>;

/**
 * The message of one phase. Each field gets its own object literal, so all messages of a kind share one hidden
 * class from the start (a computed key adds its property after the object is made).
 */
export function phaseRequest(dir: Direction, phase: Phase, payload: HttpHeaders | HttpBody | HttpTrailers): PhaseRequest {
  if (dir === 'request') {
    if (phase === 'headers') return { requestHeaders: payload as HttpHeaders };
    if (phase === 'body') return { requestBody: payload as HttpBody };
    return { requestTrailers: payload as HttpTrailers };
  }
  if (phase === 'headers') return { responseHeaders: payload as HttpHeaders };
  if (phase === 'body') return { responseBody: payload as HttpBody };
  return { responseTrailers: payload as HttpTrailers };
}

/** The CommonResponse of an accepted headers/body reply (absent = plain continue). */
export function common(a: Extract<Answer, { kind: 'reply' }>): CommonResponse | undefined {
  const k = PAYLOAD_KEYS[a.dir][a.phase];
  const r = (a.msg as Record<string, unknown>)[k] as { response?: CommonResponse | null } | null | undefined;
  return r?.response ?? undefined;
}

