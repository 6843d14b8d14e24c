/**
 * The per-exchange message timer: it runs exactly while the state machine says a reply is awaited
 * (armTimer / disarmTimer effects), may be replaced once per processing state by the processor's
 * override_message_timeout (timeout-override.ts), and does not fire while the gateway itself has stopped
 * reading the processor (a slow client or upstream is not the processor's fault).
 */
import { logger } from '../observability/logger.js';
import { decideOverride, type DurationIn } from './timeout-override.js';

/** One exchange's message timer. */
export class MessageTimer {
  #timer: NodeJS.Timeout | undefined;
  /** The running timer was already replaced by an override (once per processing state). */
  #overridden = false;

  readonly #defaultMs: number;
  readonly #target: string;
  /** True while the channel is not reading the processor stream. */
  readonly #paused: () => boolean;
  readonly #onTimeout: (ms: number) => void;

  constructor(defaultMs: number, target: string, paused: () => boolean, onTimeout: (ms: number) => void) {
    this.#defaultMs = defaultMs;
    this.#target = target;
    this.#paused = paused;
    this.#onTimeout = onTimeout;
  }

  /** Starts the timer for a new processing state. */
  arm(): void {
    this.#overridden = false;
    this.#start(this.#defaultMs);
  }

  /** Stops it (nothing is awaited any more). */
  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Applies an override_message_timeout if Envoy's rules allow it; ignored ones are logged. */
  override(d: DurationIn): void {
    const decision = decideOverride(d, { armed: this.#timer !== undefined, usedInState: this.#overridden });
    if (!decision.apply) {
      // Envoy only counts these; a log line names the processor and why, as the reply is still awaited.
      logger.warn({ processor: this.#target, why: decision.why }, 'ext_proc override_message_timeout ignored');
      return;
    }
    this.#overridden = true;
    this.disarm();
    this.#start(decision.ms);
  }

  #start(ms: number): void {
    this.#timer = setTimeout(() => {
      if (this.#paused()) this.#start(ms);
      else this.#onTimeout(ms);
    }, ms);
  }
}
