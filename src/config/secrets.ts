/**
 * Secrets and files referenced by the config. Secret values are wrapped so they never leak through
 * JSON dumps, logs or string interpolation; only `reveal()` gives the value.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Secret } from './model.js';

/** Reads a referenced file (injected so normalization stays testable and its I/O is in one place). */
export type FileReader = (absolutePath: string) => string;

/** The default reader: UTF-8 from disk. */
export const readFromDisk: FileReader = (p) => readFileSync(p, 'utf8');

const REDACTED = '<redacted>';

/** Wraps a secret value. */
export function makeSecret(value: string, origin: string): Secret {
  const secret: Secret & { toString(): string; [k: symbol]: unknown } = {
    kind: 'secret',
    origin,
    reveal: () => value,
    toJSON: () => REDACTED,
    toString: () => REDACTED,
    // util.inspect (console.log, pino's fallback) must not print the value either.
    [Symbol.for('nodejs.util.inspect.custom')]: () => `Secret(${origin})`,
  };
  return Object.freeze(secret);
}

/** Resolves a path in the config against the config file's directory. */
export function resolvePath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Result of reading a referenced file: the text, or a message explaining why it could not be read. */
export type ReadResult = { ok: true; text: string; path: string } | { ok: false; message: string };

/** Reads a referenced file, turning I/O errors into a message that names the path. */
export function readReferenced(read: FileReader, baseDir: string, p: string): ReadResult {
  const abs = resolvePath(baseDir, p);
  try {
    return { ok: true, text: read(abs), path: abs };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : String((err as Error).message);
    return { ok: false, message: `cannot read file ${JSON.stringify(p)} (${abs}): ${why}` };
  }
}
