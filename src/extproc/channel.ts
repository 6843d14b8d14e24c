/**
 * The session's link to its processor: drives the state machine (state.ts) with what is sent and received,
 * carries out its effects (open the stream lazily, timers, half-close, cancel), builds each outgoing
 * ProcessingRequest (protocol_config on the first message, metadata_context on every one, attributes on the
 * first of each direction), and hands accepted replies to whoever awaits them. Failures surface as a
 * rejected `answer()` with a `ProcessorFailure`.
 */
import { performance } from 'node:perf_hooks';
import { channels, publish } from '../observability/diagnostics.js';
import type { FailureCause } from './failure.js';
import type { ProcessingRequest, ProcessingResponse } from './messages.js';
import { BACKLOG_HIGH, BACKLOG_LOW, shouldPause } from './flow-control.js';
import { localHead } from './local-head.js';
import { MessageTimer } from './message-timer.js';
import type { DurationIn } from './timeout-override.js';
import { bodyModeNumber, type Direction, type EffectiveModes } from './modes.js';
import { initialState, replyKind, transition, type Effect, type Event, type LocalPart, type Phase, type State } from './state.js';
import { PerDirection } from './per-direction.js';
import type { ProcessorClient, ProcessorStream, StreamEnd } from './transport.js';

/** `request_headers` and the rest, made once rather than per message. */
const PHASE_NAMES: Readonly<Record<Direction, Readonly<Record<Phase, string>>>> = {
  request: { headers: 'request_headers', body: 'request_body', trailers: 'request_trailers' },
  response: { headers: 'response_headers', body: 'response_body', trailers: 'response_trailers' },
};

/** How long a processor may take to close a stream we half-closed before we reset it. */
const CLOSE_GRACE_MS = 5_000;

/** Thrown (as a rejection) when the processor failed; the runner decides what it means. */
export class ProcessorFailure extends Error {
  override readonly cause: FailureCause;
  constructor(cause: FailureCause) {
    super(cause.detail);
    this.cause = cause;
    this.name = 'ProcessorFailure';
  }
}

/** What an awaited reply turned out to be. */
export type Answer =
  | { readonly kind: 'reply'; readonly dir: Direction; readonly phase: Phase; readonly msg: ProcessingResponse }
  | { readonly kind: 'immediate'; readonly msg: ProcessingResponse }
  /** A part of a streamed local reply (StreamedImmediateResponse); `end`: the local reply is complete. */
  | { readonly kind: 'local'; readonly part: LocalPart; readonly end: boolean; readonly msg: ProcessingResponse }
  | { readonly kind: 'passThrough' };

/** The per-exchange inputs the channel needs. */
export interface ChannelOptions {
  readonly client: ProcessorClient;
  readonly target: string;
  readonly messageTimeoutMs: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Current modes (read when the first message goes out, for protocol_config). */
  readonly modes: () => EffectiveModes;
  /** `metadata_context` for every message (CEL `metadataContext`, issue 4). */
  readonly metadataContext: () => ProcessingRequest['metadataContext'];
  /** `attributes` for the first message of a direction (CEL attributes, issue 4). */
  readonly attributes: (dir: Direction) => ProcessingRequest['attributes'];
  /** Called for every dynamic_metadata the processor sends on an accepted reply. */
  readonly onDynamicMetadata: (msg: ProcessingResponse) => void;
  /** The processing options allow a streamed_immediate_response (request headers send, body none/full duplex). */
  readonly localReplyAllowed?: boolean;
}

type Waiter = { resolve: (a: Answer) => void; reject: (e: unknown) => void };

/** One Process stream and its state machine. */
export class ProcessorChannel {
  #state: State;
  #stream: ProcessorStream | undefined;
  #queue: Event[] = [];
  #dispatching = false;
  readonly #timer: MessageTimer;
  /** One reader per direction: a streaming request body may still be read while the response is processed. */
  readonly #waiters = new PerDirection<Waiter | undefined>(undefined, undefined);
  /** Answers nobody awaited yet, per direction, in arrival order (full duplex delivers several at once). */
  readonly #ready = new PerDirection<Array<Answer | ProcessorFailure>>([], []);
  #paused = false;
  readonly #backlogWaiters = new PerDirection<(() => void) | undefined>(undefined, undefined);
  #ended = false;
  #graceTimer: NodeJS.Timeout | undefined;
  #current: ProcessingResponse | undefined;
  #firstSent = false;
  readonly #attributesSent = new PerDirection(false, false);
  #awaitStart = 0;
  /** Milliseconds spent waiting on the processor. */
  waitedMs = 0;
  /** Phases sent, in order (for the access log). */
  readonly phases: string[] = [];
  readonly #opts: ChannelOptions;

  constructor(opts: ChannelOptions) {
    this.#opts = opts;
    this.#timer = new MessageTimer(opts.messageTimeoutMs, opts.target, () => this.#paused, (ms) => this.#dispatch({ e: 'timeout', ms }));
    this.#state = initialState({ localReplyAllowed: opts.localReplyAllowed ?? false });
  }

  /** Where the machine stands. */
  get state(): State {
    return this.#state;
  }

  /** True once the stream was opened. */
  get opened(): boolean {
    return this.#stream !== undefined;
  }

  /**
   * Sends one phase message. Throws a ProcessorFailure when the exchange already failed. Returns false when
   * the transport's buffer is full (await `drained()` before sending more), or when nothing was sent.
   * `payload` becomes the message (the channel adds its other fields to it): pass a new object each time.
   */
  send(dir: Direction, phase: Phase, payload: Pick<ProcessingRequest, 'requestHeaders' | 'responseHeaders' | 'requestBody' | 'responseBody' | 'requestTrailers' | 'responseTrailers'>, mode?: Parameters<typeof bodyModeNumber>[0], last?: boolean): boolean {
    if (this.#state.t === 'failed') throw new ProcessorFailure(this.#state.cause);
    // During a local reply the request body still streams to the processor (full duplex).
    if (this.#state.t !== 'open' && this.#state.t !== 'localReply') return false;
    const msg: ProcessingRequest = payload;
    const meta = this.#opts.metadataContext();
    if (meta != null) msg.metadataContext = meta;
    if (!this.#attributesSent[dir]) {
      this.#attributesSent[dir] = true;
      const attrs = this.#opts.attributes(dir);
      if (attrs != null) msg.attributes = attrs;
    }
    if (!this.#firstSent) {
      this.#firstSent = true;
      const m = this.#opts.modes();
      msg.protocolConfig = {
        requestBodyMode: bodyModeNumber(m.request.body),
        responseBodyMode: bodyModeNumber(m.response.body),
        sendBodyWithoutWaitingForHeaderResponse: false,
      };
    }
    const ev: Event =
      mode === undefined ? { e: 'sent', dir, phase } : last === undefined ? { e: 'sent', dir, phase, mode } : { e: 'sent', dir, phase, mode, last };
    this.#dispatch(ev);
    // Streamed bodies send many messages: record each phase once per run, not per chunk.
    const name = PHASE_NAMES[dir][phase];
    if (this.phases[this.phases.length - 1] !== name) this.phases.push(name);
    return this.#stream?.send(msg) ?? false;
  }

  /** Resolves when the transport can take more after `send` returned false. */
  drained(): Promise<void> {
    return this.#stream?.drained() ?? Promise.resolve();
  }

  /** Full duplex: the processor ended this direction's output body. */
  outputEnded(dir: Direction): void {
    this.#dispatch({ e: 'outputEnded', dir });
  }

  /** Number of answers for `dir` delivered but not read yet. */
  backlog(dir: Direction): number {
    return this.#ready[dir].length;
  }

  /** True while the channel has stopped reading the processor stream because a reader is behind. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Flow control towards the processor: stop reading its replies while some direction has more than
   * BACKLOG_HIGH unread answers; read again once every direction is down to BACKLOG_LOW. With a transport
   * that cannot pause, only the pump's side of it (backlogBelowLimit) holds.
   */
  #flowControl(): void {
    const backlog = Math.max(this.backlog('request'), this.backlog('response'));
    const paused = shouldPause({ paused: this.#paused, backlog, starving: this.#waiting() });
    if (paused === this.#paused || this.#ended) return;
    this.#paused = paused;
    if (paused) this.#stream?.pause?.();
    else this.#stream?.resume?.();
  }

  /** The reader of `dir` gave up (the body was abandoned): drop its unread answers so they hold nothing back. */
  discard(dir: Direction): void {
    this.#ready[dir].length = 0;
    this.#wakeBacklog(dir);
    this.#flowControl();
  }

  /** Waits for the next answer for `dir` (a reply, or an immediate response / clean close / failure). */
  answer(dir: Direction): Promise<Answer> {
    const queue = this.#ready[dir];
    const ready = queue.shift();
    if (queue.length <= BACKLOG_LOW) this.#wakeBacklog(dir);
    if (ready !== undefined) this.#flowControl();
    if (ready !== undefined) {
      return ready instanceof ProcessorFailure ? Promise.reject(ready) : Promise.resolve(ready);
    }
    if (this.#state.t === 'failed') return Promise.reject(new ProcessorFailure(this.#state.cause));
    if (this.#state.t === 'passThrough') return Promise.resolve({ kind: 'passThrough' });
    return new Promise((resolve, reject) => {
      this.#waiters[dir] = { resolve, reject };
      this.#flowControl();
    });
  }

  /**
   * Resolves once `dir` has at most BACKLOG_LOW unread answers (or the exchange ended) when it has more than
   * BACKLOG_HIGH. The full-duplex pump waits on it before sending more, so a reader slower than the processor
   * holds back the input too (the only flow control on a transport that cannot pause).
   */
  backlogBelowLimit(dir: Direction): Promise<void> {
    if (this.#ready[dir].length <= BACKLOG_HIGH || this.#state.t !== 'open') return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.#backlogWaiters[dir];
      this.#backlogWaiters[dir] = () => {
        prev?.();
        resolve();
      };
    });
  }

  #wakeBacklog(dir: Direction): void {
    const w = this.#backlogWaiters[dir];
    this.#backlogWaiters[dir] = undefined;
    w?.();
  }

  /** Tells the machine a direction will send nothing more. */
  directionDone(dir: Direction): void {
    this.#dispatch({ e: 'directionDone', dir });
  }

  /** Half-closes: no further phase will be sent. */
  closeSend(): void {
    this.#dispatch({ e: 'closeSend' });
  }

  /** Records that response headers reached the client (immediate responses are then impossible). */
  responseHeadersOut(): void {
    this.#dispatch({ e: 'responseHeadersOut' });
  }

  /** Reports a failure found by the runner (e.g. a reply it cannot apply). */
  fail(cause: FailureCause): void {
    this.#dispatch({ e: 'failure', cause });
  }

  /** After failure.ts chose continue-unmodified: drop the processor for the rest of the exchange. */
  failOpen(): void {
    this.#dispatch({ e: 'failOpen' });
  }

  /** Releases everything; safe to call more than once. */
  finish(): void {
    this.#dispatch({ e: 'finish' });
    // Only a reader still waiting needs the failure (most exchanges end with none: no Error to build).
    if (this.#waiting()) this.#settle(new ProcessorFailure({ kind: 'reset', detail: 'the exchange finished' }));
    this.#ready.request.length = 0;
    this.#ready.response.length = 0;
    this.#wakeBacklog('request');
    this.#wakeBacklog('response');
  }

  #open(): void {
    publish(channels.extProcOpen, { target: this.#opts.target });
    this.#stream = this.#opts.client.open(
      {
        onMessage: (msg) => this.#onMessage(msg),
        onEnd: (end: StreamEnd) => {
          this.#ended = true;
          if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
          this.#dispatch({ e: 'end', end });
        },
      },
      { metadata: this.#opts.metadata },
    );
  }

  #onMessage(msg: ProcessingResponse): void {
    if (msg.overrideMessageTimeout != null) {
      // Envoy: a message carrying override_message_timeout is used only for that (every other field is
      // ignored); the reply it extends is still due.
      this.#timer.override(msg.overrideMessageTimeout as DurationIn);
      return;
    }
    this.#current = msg;
    const kind = replyKind(msg);
    const sir = msg.streamedImmediateResponse;
    const end = kind === 'local_headers' ? sir?.headersResponse?.endOfStream : kind === 'local_body' ? sir?.bodyResponse?.endOfStream : undefined;
    const head = kind === 'local_headers' ? localHead(sir?.headersResponse) : undefined;
    const ev: Event = { e: 'reply', kind, ...(end === true ? { end } : {}), ...(typeof head === 'string' ? { problem: head } : {}) };
    this.#dispatch(ev);
    this.#current = undefined;
  }

  #dispatch(ev: Event): void {
    this.#queue.push(ev);
    if (this.#dispatching) return; // re-entrant events (a transport calling back synchronously) run after
    this.#dispatching = true;
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        const step = transition(this.#state, next);
        this.#state = step.state;
        for (const eff of step.effects) this.#effect(eff, next);
      }
    } finally {
      this.#dispatching = false;
    }
  }

  #effect(eff: Effect, ev: Event): void {
    switch (eff.k) {
      case 'open':
        this.#open();
        return;
      case 'armTimer':
        this.#awaitStart = performance.now();
        this.#timer.arm();
        return;
      case 'disarmTimer':
        this.#timer.disarm();
        this.#stopClock();
        return;
      case 'deliver': {
        const msg = this.#current!;
        this.#opts.onDynamicMetadata(msg);
        this.#settle({ kind: 'reply', dir: eff.dir, phase: eff.phase, msg }, eff.dir);
        return;
      }
      case 'immediate': {
        const msg = this.#current!;
        this.#opts.onDynamicMetadata(msg);
        this.#settle({ kind: 'immediate', msg });
        return;
      }
      case 'local': {
        const msg = this.#current!;
        this.#opts.onDynamicMetadata(msg);
        this.#settle({ kind: 'local', part: eff.part, end: eff.end, msg }, 'request');
        return;
      }
      case 'fail':
        this.#settle(new ProcessorFailure(eff.cause));
        return;
      case 'passThrough':
        this.#settle({ kind: 'passThrough' });
        return;
      case 'closeSend':
        this.#stream?.closeSend();
        return;
      case 'cancel':
        // A stream that already ended needs no cancel; the transport ignores a late one anyway.
        if (ev.e !== 'end' && !this.#ended) this.#stream?.cancel();
        return;
      case 'cancelLater': {
        if (this.#ended || this.#stream === undefined) return;
        const stream = this.#stream;
        this.#graceTimer = setTimeout(() => {
          if (!this.#ended) stream.cancel();
        }, CLOSE_GRACE_MS);
        this.#graceTimer.unref();
        return;
      }
    }
  }

  #stopClock(): void {
    if (this.#awaitStart === 0) return;
    const ms = performance.now() - this.#awaitStart;
    this.waitedMs += ms;
    this.#awaitStart = 0;
    const last = this.phases[this.phases.length - 1];
    if (last !== undefined) publish(channels.extProcPhase, { target: this.#opts.target, phase: last, seconds: ms / 1000 });
  }

  /** Hands an answer to `dir`'s reader; without a direction (failures, immediates, clean close) to both. */
  #settle(a: Answer | ProcessorFailure, dir?: Direction): void {
    if (dir === undefined) {
      this.#hand('request', a);
      this.#hand('response', a);
    } else {
      this.#hand(dir, a);
    }
    if (!(a instanceof ProcessorFailure) && (a.kind === 'reply' || a.kind === 'local')) this.#flowControl();
  }

  #hand(d: Direction, a: Answer | ProcessorFailure): void {
    const w = this.#waiters[d];
    this.#waiters[d] = undefined;
    if (w === undefined) {
      // Nobody is reading this direction yet (between steps, or a duplex consumer is behind): queue it.
      this.#ready[d].push(a);
    } else if (a instanceof ProcessorFailure) {
      w.reject(a);
    } else {
      w.resolve(a);
    }
  }

  /** Some reader awaits an answer. */
  #waiting(): boolean {
    return this.#waiters.request !== undefined || this.#waiters.response !== undefined;
  }
}
