/**
 * One direction's processor phases (headers, then body per mode, then trailers), written once for both
 * directions: what differs between the request and the response is in `DirectionIo`. The buffered modes
 * run to completion here (buffered-phase.ts); the streaming modes hand the direction over to a pump and an
 * output body (body-pump.ts, body-output.ts) once the headers can go on.
 */
import type { Body } from '../http/message.js';
import { CONTINUE, type PolicyOutcome } from '../pipeline/policy.js';
import type { BodySendMode } from '../config/model.js';
import { duplexOutput, streamedOutput, trailersOnly, type StreamServices } from './body-output.js';
import { InputPump } from './body-pump.js';
import { checkDeclaredLength, continueAndReplace, runBuffered } from './buffered-phase.js';
import { ProcessorFailure, type Answer } from './channel.js';
import { ResponseStatus, type ProcessingResponse } from './messages.js';
import { applyModeOverride, type Direction } from './modes.js';
import { common, phaseRequest, type DirectionIo, type ExchangeServices } from './phase-common.js';

export type { DirectionIo, ExchangeServices } from './phase-common.js';

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
  // The head and body as they were before this direction first changed them, taken just before the first change (a
  // failure before it has nothing to put back). Anything below that changes the head or the body before a
  // ProcessorFailure can still reach the catch must take it first (`restore ??= io.snapshot()`).
  let restore: (() => void) | undefined;
  let held: (() => void) | undefined; // puts the original body back after a failure
  let pump: InputPump | undefined;
  /** The next reply, or a Stop for an answer that ends the direction. */
  const reply = (a: Answer): Extract<Answer, { kind: 'reply' }> => {
    if (a.kind === 'immediate') {
      pump?.stop();
      io.discard(io.getBody());
      throw new Stop(x.immediate(a.msg));
    }
    if (a.kind === 'passThrough') {
      held?.();
      throw new Stop(CONTINUE);
    }
    if (a.kind === 'local') {
      // A streamed local reply answers the request headers: the upstream is never called. A full-duplex
      // request body keeps streaming to the processor until the local reply ends.
      throw new Stop(x.localReply(a, pump !== undefined));
    }
    return a;
  };
  try {
    let bodyMode: BodySendMode = x.modes[io.dir].body;
    const original = io.getBody();
    /** The headers reply changed content-length (set, replaced or removed it). */
    let lengthChanged = false;
    const sendHeaders = x.modes[io.dir].headers;
    if (sendHeaders) ch.send(io.dir, 'headers', phaseRequest(io.dir, 'headers', { headers: io.headerMap(), endOfStream: original === null }));
    if (original !== null && bodyMode === 'fullDuplexStreamed') {
      // Full duplex: the body goes out as it arrives, before (and while) the headers reply is awaited.
      const p = (pump = startPump(x, io, original, 'fullDuplexStreamed'));
      held = () => {
        if (p.holding) io.setBody(p.passThrough(p.held));
      };
    }
    if (sendHeaders) {
      const a = reply(await ch.answer(io.dir));
      const c = common(a);
      if (a.msg.modeOverride != null) bodyMode = considerOverride(x, io.dir, a.msg.modeOverride, pump !== undefined);
      if (c !== undefined) {
        restore = io.snapshot();
        const before = io.headers().get('content-length');
        x.rejected(io.mutateHead(c.headerMutation));
        lengthChanged = io.headers().get('content-length') !== before;
      }
      if (c?.status === ResponseStatus.CONTINUE_AND_REPLACE) {
        pump?.stop();
        if (!continueAndReplace(io, c) && lengthChanged) checkDeclaredLength(ch, io, original);
        return done(x, io.dir);
      }
    }
    // No buffered body to measure: a content-length the processor set must match the length already known.
    // (The buffered modes check the final value themselves; the streaming modes remove it.)
    if (lengthChanged && (original === null || bodyMode === 'none')) checkDeclaredLength(ch, io, original);
    if (original === null) return done(x, io.dir);
    if (bodyMode === 'none') {
      if (!x.modes[io.dir].trailers) return done(x, io.dir);
      io.setBody(trailersOnly(streamServices(x, io), original));
      return CONTINUE;
    }
    if (bodyMode === 'buffered' || bodyMode === 'bufferedPartial') {
      restore ??= io.snapshot();
      await runBuffered(x, io, original, bodyMode, async () => reply(await ch.answer(io.dir)), (h) => (held = h));
      return done(x, io.dir);
    }
    // Streaming: the headers go on now; the body is processed while it flows (content-length cannot hold).
    pump ??= startPump(x, io, original, bodyMode);
    const services = streamServices(x, io);
    const output = bodyMode === 'streamed' ? streamedOutput(services, pump) : duplexOutput(services, pump);
    restore ??= io.snapshot();
    io.headers().delete('content-length');
    if (bodyMode === 'fullDuplexStreamed' && (io.dir === 'response' || x.failOpen)) {
      // Full duplex: the head waits for the first processed byte, so until then a failure is decided as one before
      // the headers were forwarded (SPEC §2 Failures: failOpen continues with the original head and body; on the
      // response side failClosed answers statusOnError instead of aborting the client's stream) and an
      // immediate_response is honoured. No latency is added: the upstream gets a request head only with its first
      // body byte (undici), and an HTTP/1.1 client a response head only with the first write (node).
      services.early = true;
      io.setBody(await firstProcessed(output));
      services.early = false;
    } else io.setBody(output);
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
      restore?.();
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
/** A StreamServices whose failures, while `early`, go back to `runDirection` to be decided there. */
interface EarlyStreamServices extends StreamServices {
  early: boolean;
}

function streamServices(x: ExchangeServices, io: DirectionIo): EarlyStreamServices {
  return {
    early: false,
    ch: x.channel,
    dir: io.dir,
    failure(err, held) {
      if (this.early) throw err;
      return x.lateFailure(err, io.dir, held);
    },
    immediateError: (msg) => x.lateImmediate(msg, io.dir),
    rejected: (list) => x.rejected(list),
    finished: () => {
      done(x, io.dir);
    },
  };
}

/**
 * `body` once its first chunk is known (or it ended): a Body that yields that chunk, then the rest. A failure
 * before the first chunk rejects here.
 */
async function firstProcessed(body: Body): Promise<Body> {
  const it = body[Symbol.asyncIterator]();
  const first = await it.next();
  return {
    length: undefined,
    trailers: () => body.trailers(),
    async *[Symbol.asyncIterator]() {
      let done = first.done === true;
      try {
        if (done) return;
        yield first.value;
        for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value;
        done = true;
      } finally {
        // A reader that stops early ends the output too (its cleanup: discard the answers, stop the pump).
        if (!done) await it.return?.();
      }
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
