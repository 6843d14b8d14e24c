/**
 * The redial policy both transports share for a processor connection: after a failed dial, back off exponentially
 * (base × 2ⁿ, capped, ±20 % jitter) and, meanwhile, answer at once with why and for how long (a request must never
 * wait on a dead processor).
 */

/** Defaults for a processor connection's tunables (ConnectionOptions); tests shorten them. */
export const CONNECTION_DEFAULTS = { backoffBaseMs: 50, backoffMaxMs: 1000, connectTimeoutMs: 5000, idlePingAfterMs: 30_000, pingTimeoutMs: 5000 };

export class Redial {
  #failures = 0;
  #nextDialAt = 0;
  /** The last connection error, for messages. */
  lastError = '';

  constructor(private readonly baseMs: number, private readonly maxMs: number) {}

  /** Why a dial may not be tried now (naming the processor and the wait), or undefined when it may. */
  blocked(display: string, now = Date.now()): string | undefined {
    if (now >= this.#nextDialAt) return undefined;
    return `cannot connect to processor ${display}: ${this.lastError} (retrying in ${this.#nextDialAt - now} ms)`;
  }

  /** A dial failed: the next one waits. */
  failed(): void {
    this.#failures++;
    const exp = Math.min(this.maxMs, this.baseMs * 2 ** (this.#failures - 1));
    // Jitter spreads redials of many gateway workers after a processor restart.
    this.#nextDialAt = Date.now() + Math.round(exp * (0.8 + 0.4 * Math.random()));
    if (!this.lastError) this.lastError = 'connection closed before it was established';
  }

  /** A connection was established: the backoff starts over. */
  succeeded(): void {
    this.#failures = 0;
    this.#nextDialAt = 0;
  }
}
