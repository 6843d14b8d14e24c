/**
 * Request ids: unique per process run and cheap to make. A random 80-bit prefix, drawn once per process, and a
 * 48-bit counter, in the 8-4-4-4-12 hex shape of a UUID so log tooling that expects one keeps working. Several
 * workers draw different prefixes, so their ids do not collide either.
 *
 * `crypto.randomUUID()` per request cost about 1 % of the plain-proxy path's CPU in profiles (its entropy
 * cache is refilled synchronously every 128 ids); an id that only has to be unique needs no fresh randomness.
 */
import { randomBytes } from 'node:crypto';

function newPrefix(): string {
  const h = randomBytes(10).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-`;
}

let prefix = newPrefix();
let counter = 0;
/** 2^48: where the counter's 12 hex digits run out. */
const COUNTER_LIMIT = 0x1000000000000;

/** A new request id, e.g. `3f2a9c1e-77b0-4d19-a2c4-000000000001`. */
export function requestId(): string {
  if (++counter === COUNTER_LIMIT) {
    prefix = newPrefix();
    counter = 1;
  }
  return prefix + counter.toString(16).padStart(12, '0');
}
