/**
 * The output side of the streaming body modes, as pull-based Bodies: the upstream (or client) reads the
 * processed body, and each read pulls the processor's next answer, so a slow reader slows the processor
 * (the channel pauses the transport while a reader is behind) instead of growing a buffer. Also the `none`-mode wrapper that sends only the
 * trailers. These run after the headers were forwarded, so a failure makes the body fail: the upstream
 * request or the client stream is aborted, never silently truncated.
 */
import type { HeaderList } from '../http/headers.js';
import type { Body } from '../http/message.js';
import type { InputPump } from './body-pump.js';
import { ProcessorFailure, type Answer, type ProcessorChannel } from './channel.js';
import type { FailureCause } from './failure.js';
import { trailerMap } from './headers-out.js';
import { phaseRequest } from './phase-common.js';
import type { CommonResponse, HeaderMutation, ProcessingResponse } from './messages.js';
import type { Direction } from './modes.js';
import { bodyChange, mutateTrailers, type RejectedMutation } from './mutation.js';

/** What the output bodies need from the session. */
export interface StreamServices {
  readonly ch: ProcessorChannel;
  readonly dir: Direction;
  /** Decides on a failure after the headers were forwarded; throws the error that fails the body. */
  failure(err: ProcessorFailure, heldEverything: boolean): never;
  /** The error that carries an immediate response that came after the headers were forwarded. */
  immediateError(msg: ProcessingResponse): Error;
  rejected(list: readonly RejectedMutation[]): void;
  /** The direction is complete (half-close when nothing more will be sent). */
  finished(): void;
  /**
   * True while a failure is still decided by the direction's runner (nothing processed was forwarded yet): the
   * runner then owns the input pump, which may still pass the original on, so the output leaves it running.
   */
  readonly early?: boolean;
}

function commonOf(a: Extract<Answer, { kind: 'reply' }>): CommonResponse | undefined {
  const r = a.dir === 'request' ? a.msg.requestBody : a.msg.responseBody;
  return r?.response ?? undefined;
}

function trailersMutation(a: Extract<Answer, { kind: 'reply' }>): HeaderMutation | null | undefined {
  return (a.dir === 'request' ? a.msg.requestTrailers : a.msg.responseTrailers)?.headerMutation;
}

function protocol(s: StreamServices, detail: string): never {
  const cause: FailureCause = { kind: 'protocol', detail };
  s.ch.fail(cause);
  return s.failure(new ProcessorFailure(cause), false);
}

async function next(s: StreamServices, heldEverything: () => boolean): Promise<Exclude<Answer, { kind: 'local' }>> {
  let a: Answer;
  try {
    a = await s.ch.answer(s.dir);
  } catch (err) {
    if (err instanceof ProcessorFailure) return s.failure(err, heldEverything());
    throw err;
  }
  // The machine starts a local reply only while request headers are awaited, before any output exists.
  if (a.kind === 'local') return protocol(s, 'the processor sent a streamed_immediate_response part while a body was streaming');
  return a;
}

function mutated(s: StreamServices, trailers: HeaderList | undefined, a: Extract<Answer, { kind: 'reply' }>): HeaderList | undefined {
  if (trailers === undefined) return undefined; // a trailers reply when there were none is ignored (Envoy)
  const out = trailers.clone();
  s.rejected(mutateTrailers(out, trailersMutation(a)));
  return out;
}

/** A Body built from a generator that sets the trailers before it returns. */
function generatedBody(run: (setTrailers: (t: HeaderList | undefined) => void) => AsyncGenerator<Buffer>): Body {
  let trailers: HeaderList | undefined;
  return {
    length: undefined,
    trailers: () => trailers,
    [Symbol.asyncIterator]: () => run((t) => (trailers = t)),
  };
}

/** A processor answer to a body chunk (not a clean close, an immediate response or the trailers reply). */
type BodyReply = Extract<Answer, { kind: 'reply' }>;

/**
 * The answers that end a streaming body the same way in every mode: a clean close passes the original on
 * (the `prefix` chunks first, then the rest), an immediate response fails the body, and the trailers reply
 * ends it with the mutated trailers. Returns `'ended'` when the body is complete, else the body reply for
 * the mode to handle. `onPass` runs before the original flows, so the caller's cleanup knows not to stop it.
 */
async function* ending(
  s: StreamServices,
  pump: InputPump,
  a: Exclude<Answer, { kind: 'local' }>,
  prefix: () => readonly Buffer[],
  setTrailers: (t: HeaderList | undefined) => void,
  onPass: () => void,
): AsyncGenerator<Buffer, BodyReply | 'ended'> {
  if (a.kind === 'passThrough') {
    onPass();
    const rest = pump.passThrough(prefix());
    yield* rest;
    setTrailers(rest.trailers());
    return 'ended';
  }
  if (a.kind === 'immediate') throw s.immediateError(a.msg);
  if (a.phase === 'trailers') {
    setTrailers(mutated(s, pump.trailers, a));
    return 'ended';
  }
  return a;
}

/**
 * Full duplex: only `streamed_response` chunks are forwarded; the body ends on their `end_of_stream` or on
 * the trailers reply. A processor that closes cleanly before any processed byte was forwarded, while the
 * original is still held, is passed over (the original continues); later it is a failure.
 */
export function duplexOutput(s: StreamServices, pump: InputPump): Body {
  return generatedBody(async function* (setTrailers) {
    let forwarded = false;
    let completed = false;
    let passing = false;
    try {
      for (;;) {
        const a = await next(s, () => pump.holding && !forwarded);
        if (a.kind === 'passThrough' && (forwarded || !pump.holding)) {
          const cause: FailureCause = { kind: 'closed', detail: `the processor closed the stream in the middle of the ${s.dir} body, after processed bytes were forwarded` };
          return s.failure(new ProcessorFailure(cause), false);
        }
        const reply = yield* ending(s, pump, a, () => pump.held, setTrailers, () => (passing = true));
        if (reply === 'ended') {
          completed = true;
          return;
        }
        const change = bodyChange(commonOf(reply)?.bodyMutation);
        if (change.kind === 'streamed') {
          if (change.body.length > 0) {
            forwarded = true;
            yield change.body;
          }
          if (change.endOfStream) {
            s.ch.outputEnded(s.dir);
            completed = true;
            return;
          }
          continue;
        }
        if (change.kind === 'replace') {
          // agentgateway: a whole-body mutation forwards that body and ends it.
          if (change.body.length > 0) yield change.body;
          s.ch.outputEnded(s.dir);
          completed = true;
          return;
        }
        protocol(s, `the processor answered ${s.dir}_body without a streamed_response; in fullDuplexStreamed mode only streamed_response chunks are forwarded, so it must echo each chunk (or send end_of_stream) to pass the body through`);
      }
    } finally {
      if (!completed) s.ch.discard(s.dir);
      if (!passing && s.early !== true) pump.stop();
      if (completed) s.finished();
    }
  });
}

/**
 * Streamed: every chunk gets one reply, in order; the reply keeps the chunk (no mutation), replaces it
 * (`body`) or drops it (`clear_body`). A clean close forwards the chunks still unanswered and then the rest
 * of the original (Envoy's "continue unprocessed").
 */
export function streamedOutput(s: StreamServices, pump: InputPump): Body {
  return generatedBody(async function* (setTrailers) {
    let completed = false;
    let passing = false;
    try {
      for (;;) {
        const a = await next(s, () => false);
        const reply = yield* ending(s, pump, a, () => pump.inFlight.splice(0), setTrailers, () => (passing = true));
        if (reply === 'ended') {
          completed = true;
          return;
        }
        const original = pump.inFlight.shift() ?? Buffer.alloc(0);
        pump.wakeWindow();
        const change = bodyChange(commonOf(reply)?.bodyMutation);
        if (change.kind === 'streamed') {
          protocol(s, `the processor answered ${s.dir}_body with a streamed_response, which only fullDuplexStreamed mode allows; in streamed mode it must send a body, clear_body or no mutation`);
        }
        const out = change.kind === 'replace' ? change.body : original;
        if (out.length > 0) yield out;
        if (pump.ended && pump.endsWith === 'body' && pump.inFlight.length === 0) {
          setTrailers(pump.trailers);
          completed = true;
          return;
        }
      }
    } finally {
      if (!completed) s.ch.discard(s.dir);
      if (!passing) pump.stop();
      if (completed) s.finished();
    }
  });
}

/** Body mode none with trailers sent: the body passes untouched; the trailers go to the processor at the end. */
export function trailersOnly(s: StreamServices, original: Body): Body {
  let out: HeaderList | undefined;
  return {
    length: original.length,
    trailers: () => out,
    async *[Symbol.asyncIterator]() {
      yield* original;
      const t = original.trailers();
      if (t === undefined || s.ch.state.t !== 'open') {
        out = t;
        s.finished();
        return;
      }
      try {
        s.ch.send(s.dir, 'trailers', phaseRequest(s.dir, 'trailers', { trailers: trailerMap(t) }));
      } catch (err) {
        if (err instanceof ProcessorFailure) s.failure(err, false);
        throw err;
      }
      const a = await next(s, () => false);
      if (a.kind === 'immediate') throw s.immediateError(a.msg);
      out = a.kind === 'reply' ? mutated(s, t, a) : t;
      s.finished();
    },
  };
}
