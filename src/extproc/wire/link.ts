/**
 * The one live HTTP/2 connection to one processor on our own framing (WireConnection): dialed lazily, replaced when
 * it dies, drains or is found dead by an idle PING, and redialed with a capped exponential backoff after connect
 * failures. While backing off, callers get an immediate "unavailable" answer instead of waiting, so a request
 * never hangs on a dead processor. Same policy as the node:http2 transport's H2Connection.
 */
import type { ProcessorTarget } from '../../config/model.js';
import type { ConnectionOptions } from '../h2-session.js';
import { WireConnection } from './connection.js';
import { CONNECTION_DEFAULTS, Redial } from '../redial.js';

/** A usable connection, or why not (fail fast). */
export type Linked =
  | { readonly ok: true; readonly conn: WireConnection }
  | { readonly ok: false; readonly message: string };


export class WireLink {
  readonly #target: ProcessorTarget;
  readonly #opts: typeof CONNECTION_DEFAULTS;
  readonly #redial: Redial;
  #conn: WireConnection | undefined;
  #active = 0;
  #lastTraffic = 0;
  #pinging = false;
  #closed = false;
  /** Connections still finishing streams after being replaced (closed with the link). */
  readonly #old = new Set<WireConnection>();

  constructor(target: ProcessorTarget, opts: ConnectionOptions = {}) {
    this.#target = target;
    this.#opts = { ...CONNECTION_DEFAULTS, ...opts };
    this.#redial = new Redial(this.#opts.backoffBaseMs, this.#opts.backoffMaxMs);
  }

  /** The live connection (dialing one if needed), or a fail-fast reason while backing off or closed. */
  acquire(): Linked {
    if (this.#closed) return { ok: false, message: `the client for processor ${this.#target.display} is closed` };
    const c = this.#conn;
    if (c && c.usable) {
      if (c.ready && Date.now() - this.#lastTraffic >= this.#opts.idlePingAfterMs) this.#checkAlive(c);
      return { ok: true, conn: c };
    }
    const blocked = this.#redial.blocked(this.#target.display);
    if (blocked !== undefined) return { ok: false, message: blocked };
    return { ok: true, conn: this.#dial() };
  }

  /** Counts streams so an idle connection does not keep the process alive. */
  streamStarted(c: WireConnection): void {
    if (this.#active++ === 0) c.ref(true);
  }

  /** Pairs with streamStarted. */
  streamEnded(): void {
    if (--this.#active === 0) {
      this.#conn?.ref(false);
      for (const o of this.#old) o.ref(false);
    }
  }

  /** Closes the connection(s): after in-flight streams, or at once with `force`. */
  async close(force = false): Promise<void> {
    this.#closed = true;
    const all = [...this.#old];
    if (this.#conn) all.push(this.#conn);
    this.#conn = undefined;
    this.#old.clear();
    if (force) {
      for (const c of all) c.close(true);
      return;
    }
    await Promise.all(all.map((c) => new Promise<void>((resolve) => {
      c.onGone = resolve;
      c.ref(true); // an idle connection is unref'd; the wait must keep the process alive until it is closed
      c.close(false);
      if (c.gone) resolve();
    })));
  }

  #dial(): WireConnection {
    const link = this;
    const c: WireConnection = new WireConnection({ target: this.#target, connectTimeoutMs: this.#opts.connectTimeoutMs }, {
      onReady() {
        if (link.#conn !== c) return;
        link.#lastTraffic = Date.now();
        link.#redial.succeeded();
      },
      onDraining() {
        // Streams already accepted finish here; new ones dial a new connection.
        if (link.#conn === c) {
          link.#conn = undefined;
          link.#old.add(c);
        }
      },
      onClosed(error, wasReady) {
        link.#old.delete(c);
        if (link.#conn === c) link.#conn = undefined;
        if (error !== undefined) link.#redial.lastError = error;
        if (!wasReady && !link.#closed) link.#redial.failed();
      },
      onTraffic() {
        link.#lastTraffic = Date.now();
      },
    });
    this.#conn = c;
    if (this.#active === 0) c.ref(false);
    return c;
  }

  /**
   * A connection that has been quiet may be half-open (processor host gone without a FIN): PING it before relying
   * on it. Only after idleness, so gRPC servers' ping-abuse limits (too_many_pings) are not hit.
   */
  #checkAlive(c: WireConnection): void {
    if (this.#pinging) return;
    this.#pinging = true;
    this.#lastTraffic = Date.now();
    const timer = setTimeout(() => {
      this.#pinging = false;
      c.destroy(`the processor did not answer an HTTP/2 PING within ${this.#opts.pingTimeoutMs} ms`);
    }, this.#opts.pingTimeoutMs);
    timer.unref();
    c.ping((ok) => {
      clearTimeout(timer);
      this.#pinging = false;
      if (ok) this.#lastTraffic = Date.now();
    });
  }
}
