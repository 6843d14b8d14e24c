/**
 * Small stream utilities for integration tests: generated bodies and process memory readings.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** `size` bytes in `chunk`-sized pieces, generated lazily (the test never holds the whole body). */
export async function* generated(size: number, chunk = 64 * 1024): AsyncGenerator<Buffer> {
  const block = Buffer.alloc(chunk, 'x');
  for (let left = size; left > 0; left -= chunk) yield left >= chunk ? block : block.subarray(0, left);
}

/** sha256 of what `generated(size, chunk)` yields. */
export function generatedSha256(size: number, chunk = 64 * 1024): string {
  const h = createHash('sha256');
  const block = Buffer.alloc(chunk, 'x');
  for (let left = size; left > 0; left -= chunk) h.update(left >= chunk ? block : block.subarray(0, left));
  return h.digest('hex');
}

/** Resident and peak resident memory of a process, bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(/\s(\d+) kB/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '')?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS:'), peak: kb('VmHWM:') };
}

/** Consumes a body, returning its length and sha256. */
export async function digest(body: AsyncIterable<Buffer | Uint8Array | string>): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of body) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    bytes += b.length;
    h.update(b);
  }
  return { bytes, sha256: h.digest('hex') };
}
