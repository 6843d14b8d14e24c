/**
 * What happens to the rest of an HTTP/1.1 upload once its answer went out first: read and dropped for a bounded
 * time (a lingering close), not left unread under a close that would reset the connection.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** How long the rest of an unforwarded upload (below) may pause before the connection is closed. */
const LINGER_IDLE_MS = 5_000;
/** The longest the rest of an unforwarded upload is read, however the client trickles. */
const LINGER_MAX_MS = 30_000;

/**
 * Reads and drops the rest of an upload that nothing forwards any more, because its response went out first (a 401
 * or 413, a processor's denial, an upstream that answered early). It stops when the upload ends, or after
 * LINGER_IDLE_MS without data (LINGER_MAX_MS in all), and then closes the connection if `closeAfter`, or if the
 * upload never ended (a keep-alive connection is usable again once it has). Closing at once instead would reset
 * the connection with unread bytes in the kernel's buffer, and a reset makes a client that sends its whole body
 * before it reads (Python's `requests`, many SDKs) lose the response it was sent: nginx's lingering close and
 * Envoy's delayed close do the same. A 'readable' reader of its own: it drops what it reads whether or not the
 * consumer that stopped has detached yet.
 */
export function dropRestOfUpload(req: IncomingMessage, socket: Socket, closeAfter: boolean): void {
  const drop = (): void => {
    while (req.read() !== null);
  };
  const stop = (): void => {
    clearTimeout(idle);
    clearTimeout(max);
    req.removeListener('readable', drop);
    req.removeListener('data', refresh);
    // A connection that stays open serves on: nothing of this request stays attached to it.
    socket.removeListener('close', stop);
    if ((closeAfter || !req.complete) && !socket.destroyed) socket.destroy();
  };
  const refresh = (): void => void idle.refresh();
  const idle = setTimeout(stop, LINGER_IDLE_MS);
  const max = setTimeout(stop, LINGER_MAX_MS);
  req.on('readable', drop);
  req.on('data', refresh);
  req.once('end', stop);
  req.once('error', stop);
  socket.once('close', stop);
  drop();
}

/**
 * For a `Connection: close` response sent before its upload ended: node's server closes the connection with
 * `destroySoon()` once the response is written; this one ends it with a FIN instead and drops the rest of the
 * upload first (dropRestOfUpload).
 */
export function lingerOnClose(req: IncomingMessage, socket: Socket): void {
  socket.destroySoon = function lingeringClose(this: Socket): void {
    if (req.complete || this.destroyed) {
      (Object.getPrototypeOf(this) as Socket).destroySoon.call(this);
      return;
    }
    this.end();
    dropRestOfUpload(req, this, true);
  };
}
