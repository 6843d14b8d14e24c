/** Our PINGs awaiting their ACK, matched by payload (a sequence number): an ACK we did not ask for answers none. */
import { Flag, FrameType, frame } from './frames.js';

export class Pings {
  readonly #waiting = new Map<string, (ok: boolean) => void>();
  #seq = 0;

  /** Registers `done` and returns the PING frame to send. */
  send(done: (ok: boolean) => void): Buffer {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(++this.#seq >>> 0, 4);
    this.#waiting.set(payload.toString('hex'), done);
    return frame(FrameType.Ping, 0, 0, payload);
  }

  /** A PING ACK arrived with `payload`. */
  acked(payload: Buffer): void {
    const key = payload.toString('hex');
    const done = this.#waiting.get(key);
    this.#waiting.delete(key);
    done?.(true);
  }

  /** The connection is gone: every waiting PING fails. */
  failAll(): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const done of waiting) done(false);
  }
}

/** The ACK for a peer's PING. */
export const pingAck = (payload: Buffer): Buffer => frame(FrameType.Ping, Flag.Ack, 0, payload);
