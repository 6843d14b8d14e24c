/**
 * One direction's processor phases (headers, then body per mode, then trailers), written once for both
 * directions: what differs between the request and the response is in `DirectionIo`. Issue-3 body modes
 * (none, buffered, bufferedPartial) live here; the streaming modes plug in beside `runBuffered`.
 */
import { GatewayError } from '../errors.js';
import type { HeaderList } from '../http/headers.js';
import type { Body } from '../http/message.js';
import { bufferBody } from '../http/body.js';
import { CONTINUE, type PolicyOutcome } from '../pipeline/policy.js';
import type { BodySendMode } from '../config/model.js';
import { concatBody, readPrefix, readWhole } from './body-buffered.js';
import { duplexOutput, streamedOutput, trailersOnly, type StreamServices } from './body-output.js';
import { InputPump } from './body-pump.js';
import { ProcessorFailure, type Answer, type ProcessorChannel } from './channel.js';
import type { HeaderMapOut } from './headers-out.js';
import { trailerMap } from './headers-out.js';
import { ResponseStatus, type CommonResponse, type HeaderMutation, type ProcessingResponse } from './messages.js';
import { applyModeOverride, type Direction, type EffectiveModes } from './modes.js';
import { bodyChange, mutateTrailers, type RejectedMutation } from './mutation.js';

/** What the runner needs to read and change one direction's message. */
export interface DirectionIo {
  readonly dir: Direction;
  readonly headers: () => HeaderList;
  headerMap(): HeaderMapOut;
  mutateHead(m: HeaderMutation | null | undefined): RejectedMutation[];
  getBody(): Body | null;
  setBody(b: Body | null): void;
  /** Captures the head and body as they are now; the returned function puts them back. */
  snapshot(): () => void;
  /** The error for a body over maxBufferSize in buffered mode (413 request, 500 response). */
  tooLarge(limit: number): GatewayError;
  /** Abandons a body that will never be forwarded. */
  discard(b: Body | null): void;
}

/** The exchange-wide services the runner uses. */
export interface ExchangeServices {
  readonly channel: ProcessorChannel;
  modes: EffectiveModes;
  readonly allowModeOverride: boolean;
  readonly maxBufferSize: number;
  /** Reports header mutations that were not applied. */
  rejected(list: readonly RejectedMutation[]): void;
  /** Note that a `mode_override` was considered, for logs. */
  overrideIgnored(reasons: readonly string[]): void;
  /** Builds the outcome for an immediate response. */
  immediate(msg: ProcessingResponse): PolicyOutcome;
  /**
   * Decides on a failure before this direction's headers were forwarded: returns CONTINUE after fail-open
   * (the caller restores), or throws a GatewayError. `heldEverything`: every byte sent is still held.
   */
  failure(err: ProcessorFailure, dir: Direction, heldEverything: boolean): PolicyOutcome;
  /** A failure after the headers were forwarded: always throws (it fails the body). */
  lateFailure(err: ProcessorFailure, dir: Direction, heldEverything: boolean): never;
  /** The error for an immediate response that arrived after the headers were forwarded. */
  lateImmediate(msg: ProcessingResponse, dir: Direction): Error;
  /** Records that the direction's headers are being forwarded with a streaming body. */
  headersForwarded(dir: Direction): void;
  /** The original body failed while being streamed to the processor. */
  inputFailed(dir: Direction, err: unknown): void;
  /** True when the other direction (after this one) will send something to the processor. */
  laterPhases(dir: Direction): boolean;
}

const PAYLOAD_KEYS = {
  request: { headers: 'requestHeaders', body: 'requestBody', trailers: 'requestTrailers' },
  response: { headers: 'responseHeaders', body: 'responseBody', trailers: 'responseTrailers' },
} as const;

/** The CommonResponse of an accepted headers/body reply (absent = plain continue). */
function common(a: Extract<Answer, { kind: 'reply' }>): CommonResponse | undefined {
  const k = PAYLOAD_KEYS[a.dir][a.phase];
  const r = (a.msg as Record<string, unknown>)[k] as { response?: CommonResponse | null } | null | undefined;
  return r?.response ?? undefined;
}

/** Signals that the direction ended early with an outcome (immediate response, clean close). */
class Stop {
  constructor(readonly outcome: PolicyOutcome) {}
}

/** Runs one direction's phases. Throws GatewayError when the exchange must fail. */
export async function runDirection(x: ExchangeServices, io: DirectionIo): Promise<PolicyOutcome> {
  const ch = x.channel;
  const st = ch.state;
  if (st.t === 'failed') {
    // The stream broke between directions: decide as if it broke now.
    return x.failure(new ProcessorFailure(st.cause), io.dir, true);
  }
  if (st.t !== 'open') return CONTINUE;
  const restore = io.snapshot();
  const keys = PAYLOAD_KEYS[io.dir];
  let held: (() => void) | undefined; // puts the original body back after a failure
  let pump: InputPump | undefined;
  const await_ = async (): Promise<Extract<Answer, { kind: 'reply' }>> => {
    const a = await ch.answer(io.dir);
    if (a.kind === 'immediate') {
      pump?.stop();
      io.discard(io.getBody());
      throw new Stop(x.immediate(a.msg));
    }
    if (a.kind === 'passThrough') {
      held?.();
      throw new Stop(CONTINUE);
    }
    return a;
  };
  try {
    let bodyMode: BodySendMode = x.modes[io.dir].body;
    const original = io.getBody();
    const sendHeaders = x.modes[io.dir].headers;
    if (sendHeaders) ch.send(io.dir, 'headers', { [keys.headers]: { headers: io.headerMap(), endOfStream: original === null } });
    if (original !== null && bodyMode === 'fullDuplexStreamed') {
      // Full duplex: the body goes out as it arrives, before (and while) the headers reply is awaited.
      const p = (pump = startPump(x, io, original, 'fullDuplexStreamed'));
      held = () => {
        if (p.holding) io.setBody(p.passThrough(p.held));
      };
    }
    if (sendHeaders) {
      const a = await await_();
      const c = common(a);
      if (a.msg.modeOverride != null) bodyMode = considerOverride(x, io.dir, a.msg.modeOverride, pump !== undefined);
      x.rejected(io.mutateHead(c?.headerMutation));
      if (c?.status === ResponseStatus.CONTINUE_AND_REPLACE) {
        pump?.stop();
        continueAndReplace(io, c);
        return done(x, io.dir);
      }
    }
    if (original === null) return done(x, io.dir);
    if (bodyMode === 'none') {
      if (!x.modes[io.dir].trailers) return done(x, io.dir);
      io.setBody(trailersOnly(streamServices(x, io), original));
      return CONTINUE;
    }
    if (bodyMode === 'buffered' || bodyMode === 'bufferedPartial') {
      await runBuffered(x, io, original, bodyMode, await_, (h) => (held = h));
      return done(x, io.dir);
    }
    // Streaming: the headers go on now; the body is processed while it flows (content-length cannot hold).
    pump ??= startPump(x, io, original, bodyMode);
    const services = streamServices(x, io);
    io.setBody(bodyMode === 'streamed' ? streamedOutput(services, pump) : duplexOutput(services, pump));
    io.headers().delete('content-length');
    x.headersForwarded(io.dir);
    return CONTINUE;
  } catch (err) {
    if (err instanceof Stop) return err.outcome;
    if (err instanceof ProcessorFailure) {
      let outcome: PolicyOutcome;
      try {
        outcome = x.failure(err, io.dir, pump === undefined || pump.holding);
      } catch (decided) {
        pump?.stop();
        throw decided;
      }
      restore();
      held?.();
      if (held === undefined) pump?.stop();
      return outcome;
    }
    pump?.stop();
    throw err;
  }
}

function startPump(x: ExchangeServices, io: DirectionIo, original: Body, mode: 'streamed' | 'fullDuplexStreamed'): InputPump {
  const pump = new InputPump(x.channel, io.dir, original, mode, x.maxBufferSize, x.modes[io.dir].trailers);
  pump.start((err) => x.inputFailed(io.dir, err));
  return pump;
}

/** Applies a headers reply's mode_override (modes.ts rules) and returns this direction's body mode. */
function considerOverride(x: ExchangeServices, dir: Direction, override: NonNullable<ProcessingResponse['modeOverride']>, duplexStarted: boolean): BodySendMode {
  const r = applyModeOverride(x.modes, override, {
    allowModeOverride: x.allowModeOverride,
    replyTo: dir,
    onHeadersReply: true,
    duplexBodyStarted: duplexStarted,
    responseHeadersSent: dir === 'response',
  });
  x.modes = r.modes;
  if (r.ignored.length > 0) x.overrideIgnored(r.ignored);
  return x.modes[dir].body;
}

/** The services the streaming bodies use after the headers were forwarded. */
function streamServices(x: ExchangeServices, io: DirectionIo): StreamServices {
  return {
    ch: x.channel,
    dir: io.dir,
    failure: (err, held) => x.lateFailure(err, io.dir, held),
    immediateError: (msg) => x.lateImmediate(msg, io.dir),
    rejected: (list) => x.rejected(list),
    finished: () => {
      done(x, io.dir);
    },
  };
}

/**
 * Ends the direction; half-closes once nothing more will be sent at all: the request direction is over and
 * the response direction is over too, or will send nothing. (A full-duplex request body can outlive the
 * response phase, so the response finishing first is not enough.)
 */
function done(x: ExchangeServices, dir: Direction): PolicyOutcome {
  const ch = x.channel;
  if (ch.state.t !== 'open') return CONTINUE;
  ch.directionDone(dir);
  const st = ch.state;
  if (st.t === 'open' && st.request.t === 'complete' && (st.response.t === 'complete' || !x.laterPhases('request'))) ch.closeSend();
  return CONTINUE;
}

/**
 * CONTINUE_AND_REPLACE (Envoy): the headers reply's body mutation replaces the whole body (even where there
 * was none), and nothing more is sent for this direction; the original body is dropped.
 */
function continueAndReplace(io: DirectionIo, c: CommonResponse): void {
  const change = bodyChange(c.bodyMutation);
  if (change.kind === 'unchanged') return; // no mutation: the original body passes through untouched
  io.discard(io.getBody());
  io.setBody(bufferBody(change.body));
  io.headers().delete('content-length');
}

type Await = () => Promise<Extract<Answer, { kind: 'reply' }>>;

/**
 * buffered: the whole body in one message (over the limit: 413 / 500). bufferedPartial: a prefix up to
 * the limit; the rest streams through untouched. Headers are still held, so the body reply's header
 * mutation applies. Trailers follow as their own message when the trailer mode sends them.
 */
async function runBuffered(
  x: ExchangeServices,
  io: DirectionIo,
  original: Body,
  mode: 'buffered' | 'bufferedPartial',
  await_: Await,
  setHeld: (restore: () => void) => void,
): Promise<void> {
  const ch = x.channel;
  const limit = x.maxBufferSize;
  let data: Buffer;
  let trailers: HeaderList | undefined;
  let rest: Body | undefined;
  if (mode === 'buffered') {
    const whole = await readWhole(original, limit, io.dir === 'response');
    if (whole.tooLarge) throw io.tooLarge(limit);
    data = whole.data;
    trailers = whole.trailers;
  } else {
    const p = await readPrefix(original, limit);
    data = p.prefix;
    trailers = p.trailers;
    if (!p.complete) rest = p.rest;
  }
  const originalData = data;
  const originalTrailers = trailers;
  const rebuild = (body: Buffer, t: HeaderList | undefined): Body =>
    rest !== undefined ? concatBody(body, rest) : bufferBody(body, t);
  setHeld(() => io.setBody(rebuild(originalData, originalTrailers)));
  io.setBody(rebuild(originalData, originalTrailers));

  const keys = PAYLOAD_KEYS[io.dir];
  // end_of_stream: the last body message, and no trailers follow (reference §1.5).
  ch.send(io.dir, 'body', { [keys.body]: { body: data, endOfStream: rest === undefined && trailers === undefined } }, mode);
  const a = await await_();
  const c = common(a);
  const headersSent = x.modes[io.dir].headers;
  if (headersSent) x.rejected(io.mutateHead(c?.headerMutation));
  const change = bodyChange(c?.bodyMutation);
  let body = originalData;
  if (change.kind !== 'unchanged') body = change.body;
  const cl = io.headers();
  if (mode === 'bufferedPartial') {
    cl.delete('content-length');
  } else if (change.kind !== 'unchanged') {
    if (!headersSent) cl.delete('content-length');
    else checkContentLength(ch, io.dir, cl, body.length);
  }

  let outTrailers = trailers;
  if (trailers !== undefined && x.modes[io.dir].trailers) {
    ch.send(io.dir, 'trailers', { [keys.trailers]: { trailers: trailerMap(trailers) } });
    const t = await await_();
    const tr = (t.msg as Record<string, unknown>)[keys.trailers] as { headerMutation?: HeaderMutation | null } | null;
    outTrailers = trailers.clone();
    x.rejected(mutateTrailers(outTrailers, tr?.headerMutation));
  }
  io.setBody(rebuild(body, outTrailers));
}

/** Buffered mode with headers sent: a content-length the processor left must match the new body (Envoy, agentgateway). */
function checkContentLength(ch: ProcessorChannel, dir: Direction, headers: HeaderList, length: number): void {
  const v = headers.get('content-length');
  if (v === undefined || Number(v) === length) return;
  const cause = {
    kind: 'mutation' as const,
    detail: `invalid body mutation: the ${dir} body was replaced with ${length} bytes but content-length says ${v}; the processor must set content-length to the new length or remove it`,
  };
  ch.fail(cause);
  throw new ProcessorFailure(cause);
}
