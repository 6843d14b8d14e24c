/**
 * The per-request abort: client gone, request timeout, or a write failure. Most requests never abort, and
 * an AbortController plus its EventTarget listeners cost several microseconds per request, so the
 * AbortSignal is only made when a consumer asks for one (ext_proc, HTTP/2 and node:http upstreams); the
 * plain undici path registers a plain callback instead.
 */

/** What an abortable operation needs to observe: state, reason, and a cheap one-shot callback. */
export interface AbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** Calls `fn` once when aborted (never if already aborted: check `aborted` first); returns a remover. */
  onAbort(fn: () => void): () => void;
}

/** Lazily backed abort state for one request; structurally an AbortController for callers that abort. */
export class RequestAbort implements AbortSource {
  #aborted = false;
  #reason: unknown = undefined;
  #controller: AbortController | undefined;
  #fns: Array<(() => void) | undefined> | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** An AbortSignal that follows this abort (made on first use). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  onAbort(fn: () => void): () => void {
    const fns = (this.#fns ??= []);
    const i = fns.push(fn) - 1;
    return () => {
      fns[i] = undefined;
    };
  }

  /** Aborts once; later calls are ignored (the first reason wins, as with AbortController). */
  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    const fns = this.#fns;
    this.#fns = undefined;
    if (fns !== undefined) for (const fn of fns) fn?.();
    this.#controller?.abort(this.#reason);
  }
}

/** Adapts an AbortSignal to an AbortSource (for transports handed a derived signal, e.g. with a timeout). */
export function signalSource(signal: AbortSignal): AbortSource {
  return {
    get aborted() {
      return signal.aborted;
    },
    get reason() {
      return signal.reason as unknown;
    },
    onAbort(fn) {
      signal.addEventListener('abort', fn, { once: true });
      return () => signal.removeEventListener('abort', fn);
    },
  };
}
