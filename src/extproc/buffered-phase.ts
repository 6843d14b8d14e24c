/**
 * The buffered body modes of one direction (reference §1.5): `buffered` sends the whole body in one message
 * (over maxBufferSize: 413 request / 500 response); `bufferedPartial` sends a prefix up to the limit and lets
 * the rest stream through untouched. Headers are still held, so the body reply's header mutation applies.
 */
import type { HeaderList } from '../http/headers.js';
import type { Body } from '../http/message.js';
import { bufferBody } from '../http/body.js';
import { concatBody, readPrefix, readWhole } from './body-buffered.js';
import { ProcessorFailure, type Answer, type ProcessorChannel } from './channel.js';
import { trailerMap } from './headers-out.js';
import type { CommonResponse, HeaderMutation } from './messages.js';
import { bodyChange, mutateTrailers } from './mutation.js';
import { common, PAYLOAD_KEYS, phaseRequest, type DirectionIo, type ExchangeServices } from './phase-common.js';

/**
 * CONTINUE_AND_REPLACE (Envoy): the headers reply's body mutation replaces the whole body (even where there
 * was none), and nothing more is sent for this direction; the original body is dropped. Returns false when
 * there was no body mutation (the original body goes on unchanged).
 */
export function continueAndReplace(io: DirectionIo, c: CommonResponse): boolean {
  const change = bodyChange(c.bodyMutation);
  if (change.kind === 'unchanged') return false; // no mutation: the original body passes through untouched
  io.discard(io.getBody());
  io.setBody(bufferBody(change.body));
  io.headers().delete('content-length');
  return true;
}

/** Awaits the next accepted reply for this direction. */
export type Await = () => Promise<Extract<Answer, { kind: 'reply' }>>;

/**
 * buffered: the whole body in one message (over the limit: 413 / 500). bufferedPartial: a prefix up to
 * the limit; the rest streams through untouched. Headers are still held, so the body reply's header
 * mutation applies. Trailers follow as their own message when the trailer mode sends them.
 */
export async function runBuffered(
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
    if (whole.tooLarge) throw x.bodyTooLarge(io.dir, io.tooLarge(limit));
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
  // A body with trailers keeps an unknown length: content-length framing has no room for trailers, and the
  // upstream layer sends a request of unknown length the way that carries them (chunked, or HTTP/2).
  const rebuild = (body: Buffer, t: HeaderList | undefined): Body =>
    rest !== undefined ? concatBody(body, rest) : hasTrailers(t) ? { ...bufferBody(body, t), length: undefined } : bufferBody(body, t);
  setHeld(() => io.setBody(rebuild(originalData, originalTrailers)));
  io.setBody(rebuild(originalData, originalTrailers));

  const keys = PAYLOAD_KEYS[io.dir];
  // end_of_stream: the last body message, and no trailers follow (reference §1.5).
  ch.send(io.dir, 'body', phaseRequest(io.dir, 'body', { body: data, endOfStream: rest === undefined && trailers === undefined }), mode);
  const a = await await_();
  const c = common(a);
  const headersSent = x.modes[io.dir].headers;
  if (headersSent) x.rejected(io.mutateHead(c?.headerMutation));
  const change = bodyChange(c?.bodyMutation);
  let body = originalData;
  if (change.kind !== 'unchanged') body = change.body;
  const head = io.headers();
  if (mode === 'bufferedPartial') {
    head.delete('content-length');
  } else if (headersSent) {
    // Whatever set it (the client, the upstream, the headers reply or this one), the content-length must
    // describe the body that goes out, replaced or not: a wrong one desyncs an HTTP/1.1 connection.
    checkContentLength(ch, io, body.length, change.kind !== 'unchanged');
  } else if (change.kind !== 'unchanged') {
    head.delete('content-length');
  }

  let outTrailers = trailers;
  if (trailers !== undefined && x.modes[io.dir].trailers) {
    ch.send(io.dir, 'trailers', phaseRequest(io.dir, 'trailers', { trailers: trailerMap(trailers) }));
    const t = await await_();
    const tr = (t.msg as Record<string, unknown>)[keys.trailers] as { headerMutation?: HeaderMutation | null } | null;
    outTrailers = trailers.clone();
    x.rejected(mutateTrailers(outTrailers, tr?.headerMutation));
  }
  // Trailers go out after a body of unknown length, never after content-length framing (Envoy drops the
  // header too); the length was checked above, so nothing the processor asked for is lost.
  if (rest === undefined && hasTrailers(outTrailers)) head.delete('content-length');
  io.setBody(rebuild(body, outTrailers));
}

function hasTrailers(t: HeaderList | undefined): t is HeaderList {
  return t !== undefined && t.size > 0;
}

/** True when `value` is a content-length of exactly `length` bytes (digits only, as RFC 9110 §8.6 has it). */
function declares(value: string, length: number): boolean {
  return /^[0-9]+$/.test(value) && Number(value) === length;
}

/**
 * A message with no body on the wire (a response to HEAD, 204, 304) cannot be desynced by its content-length, so
 * the value is not checked. A 204 must not carry one at all (RFC 9110 §8.6; HTTP/2 clients reject the response as
 * malformed), so one left there by the processor is removed.
 */
function exempt(io: DirectionIo): boolean {
  if (!io.bodyless()) return false;
  if (io.lengthForbidden()) io.headers().delete('content-length');
  return true;
}

/** Fails the exchange with a `mutation` cause (statusOnError; failOpen does not cover it, as in Envoy). */
function mutationFailure(ch: ProcessorChannel, detail: string): never {
  const cause = { kind: 'mutation' as const, detail };
  ch.fail(cause);
  throw new ProcessorFailure(cause);
}

/**
 * Buffered mode with headers sent: the content-length left after the processor's mutations must match the body
 * that goes out, `length` bytes (Envoy, agentgateway; SPEC §2 Body mutation). `replaced`: the body reply replaced
 * the body (otherwise the processor set a content-length that does not match the body it left unchanged).
 */
function checkContentLength(ch: ProcessorChannel, io: DirectionIo, length: number, replaced: boolean): void {
  const v = io.headers().get('content-length');
  if (v === undefined || declares(v, length) || exempt(io)) return;
  const dir = io.dir;
  mutationFailure(
    ch,
    replaced
      ? `invalid body mutation: the ${dir} body was replaced with ${length} bytes but content-length says ${v}; the processor must set content-length to the new length or remove it`
      : `invalid header mutation: after the processor's mutations the ${dir} content-length says ${v} but the ${dir} body is ${length} bytes (unchanged); the processor must set content-length to ${length} or remove it`,
  );
}

/**
 * A direction whose body is not buffered (body mode none, CONTINUE_AND_REPLACE without a body mutation, or a
 * message with no body), after the processor changed its content-length: the new value must match the length the
 * gateway knows, the declared length of the body that goes on untouched (0 when there is none). A body of unknown
 * length (chunked) cannot be checked, so a processor-set content-length is refused there too: forwarding it
 * unchecked could desync the connection (SPEC §2 Failures: nothing is silently truncated).
 */
export function checkDeclaredLength(ch: ProcessorChannel, io: DirectionIo, body: Body | null): void {
  const v = io.headers().get('content-length');
  if (v === undefined || exempt(io)) return;
  const dir = io.dir;
  const length = body === null ? 0 : body.length;
  if (length === undefined) {
    mutationFailure(
      ch,
      `invalid header mutation: the processor set the ${dir} content-length to ${v}, but the ${dir} body has no declared length (chunked) and is not buffered, so the gateway cannot check it; the processor must remove content-length, or use buffered body mode to set it`,
    );
  }
  if (declares(v, length)) return;
  const what = body === null ? `the ${dir} has no body` : `the ${dir} body is ${length} bytes and goes on unchanged`;
  mutationFailure(ch, `invalid header mutation: the processor set the ${dir} content-length to ${v} but ${what}; the processor must set content-length to ${length} or remove it`);
}
