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
import type { Direction } from './modes.js';
import { bodyChange, mutateTrailers } from './mutation.js';
import { common, PAYLOAD_KEYS, phaseRequest, type DirectionIo, type ExchangeServices } from './phase-common.js';

/**
 * CONTINUE_AND_REPLACE (Envoy): the headers reply's body mutation replaces the whole body (even where there
 * was none), and nothing more is sent for this direction; the original body is dropped.
 */
export function continueAndReplace(io: DirectionIo, c: CommonResponse): void {
  const change = bodyChange(c.bodyMutation);
  if (change.kind === 'unchanged') return; // no mutation: the original body passes through untouched
  io.discard(io.getBody());
  io.setBody(bufferBody(change.body));
  io.headers().delete('content-length');
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
  ch.send(io.dir, 'body', phaseRequest(io.dir, 'body', { body: data, endOfStream: rest === undefined && trailers === undefined }), mode);
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
    ch.send(io.dir, 'trailers', phaseRequest(io.dir, 'trailers', { trailers: trailerMap(trailers) }));
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
