/**
 * Processing-mode names as they appear in gateway config (`processingOptions.requestBodyMode: buffered`) and
 * their protobuf numbers, so handlers can read `protocol_config` and build `mode_override` without enums.
 */
import { BodySendMode, HeaderSendMode, type ProcessingMode } from '../extproc/messages.js';

/** A body send mode by its config name. `grpc` is gRFC A93's mode (not sent by Envoy or tollgate). */
export type BodyMode = 'none' | 'streamed' | 'buffered' | 'bufferedPartial' | 'fullDuplexStreamed' | 'grpc';

/** A header or trailer send mode by name (`default` means send for headers, skip for trailers). */
export type SendMode = 'default' | 'send' | 'skip';

const BODY: Readonly<Record<BodyMode, number>> = {
  none: BodySendMode.NONE,
  streamed: BodySendMode.STREAMED,
  buffered: BodySendMode.BUFFERED,
  bufferedPartial: BodySendMode.BUFFERED_PARTIAL,
  fullDuplexStreamed: BodySendMode.FULL_DUPLEX_STREAMED,
  grpc: BodySendMode.GRPC,
};

const SEND: Readonly<Record<SendMode, number>> = {
  default: HeaderSendMode.DEFAULT,
  send: HeaderSendMode.SEND,
  skip: HeaderSendMode.SKIP,
};

/** The name of a BodySendMode number (unknown numbers read as `none`, which is what proto3 would default to). */
export function bodyModeName(n: number | null | undefined): BodyMode {
  for (const [name, v] of Object.entries(BODY)) if (v === n) return name as BodyMode;
  return 'none';
}

/** The BodySendMode number of a body mode name. */
export function bodyModeNumber(name: BodyMode): number {
  return BODY[name];
}

/**
 * A `mode_override` written with names. A header/trailer mode left out is sent as DEFAULT (0), which gateways read
 * as "no change"; a body mode left out is sent as NONE (0), which Envoy applies literally, so name both body modes
 * when you override either.
 */
export interface ModeOverride {
  readonly requestHeader?: SendMode;
  readonly responseHeader?: SendMode;
  readonly requestBody?: BodyMode;
  readonly responseBody?: BodyMode;
  readonly requestTrailer?: SendMode;
  readonly responseTrailer?: SendMode;
}

/**
 * Builds the ProcessingMode proto for a `mode_override` reply field. Gateways accept it only on a headers reply,
 * only for later phases, and only when the route allows it (`allowModeOverride` in tollgate / agentgateway, `allow_mode_override` in Envoy).
 */
export function modeOverride(o: ModeOverride): ProcessingMode {
  const m: ProcessingMode = {};
  if (o.requestHeader !== undefined) m.requestHeaderMode = SEND[o.requestHeader];
  if (o.responseHeader !== undefined) m.responseHeaderMode = SEND[o.responseHeader];
  if (o.requestBody !== undefined) m.requestBodyMode = BODY[o.requestBody];
  if (o.responseBody !== undefined) m.responseBodyMode = BODY[o.responseBody];
  if (o.requestTrailer !== undefined) m.requestTrailerMode = SEND[o.requestTrailer];
  if (o.responseTrailer !== undefined) m.responseTrailerMode = SEND[o.responseTrailer];
  return m;
}
