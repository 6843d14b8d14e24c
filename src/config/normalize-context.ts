/**
 * Shared state for one normalization run: the issue list, file access, env (for address overrides),
 * named backends, and a memo so a policy referenced from several places is normalized (and reported) once.
 */
import { IssueList, formatPath, type PathSegment } from './config-error.js';
import type { RawNamedBackend } from './schema-routes.js';
import { closest } from './schema-util.js';
import type { FileReader } from './secrets.js';

/** A raw value together with where it came from in the config. */
export interface Sourced<T> {
  readonly value: T;
  readonly path: readonly PathSegment[];
}

/** Options that reach normalization. */
export interface NormalizeOptions {
  /** Directory for relative file paths (config file dir, or cwd). */
  readonly baseDir: string;
  /** Environment for ADMIN_ADDR / STATS_ADDR / READINESS_ADDR overrides. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** File access for secrets and TLS files. */
  readonly readFile: FileReader;
}

/** Per-run state. */
export class NormalizeContext {
  readonly issues = new IssueList();
  readonly namedBackends = new Map<string, Sourced<RawNamedBackend>>();
  readonly #memo = new Map<string, unknown>();

  constructor(readonly opts: NormalizeOptions) {}

  /** Records a problem at `path`. */
  fail(path: readonly PathSegment[], problem: string): void {
    this.issues.add(path, problem);
  }

  /** Computes `fn()` once per source path (later calls return the first result). */
  memo<T>(kind: string, path: readonly PathSegment[], fn: () => T): T {
    const key = `${kind}@${formatPath(path)}`;
    if (this.#memo.has(key)) return this.#memo.get(key) as T;
    const v = fn();
    this.#memo.set(key, v);
    return v;
  }
}

/** The tail of an "unknown backend" message: a suggestion and the defined names. */
export function unknownBackendHint(name: string, known: readonly string[]): string {
  if (known.length === 0) return ' (no top-level backends are defined)';
  const guess = closest(name, known);
  return `${guess ? ` (did you mean "${guess}"?)` : ''}; defined backends: ${known.join(', ')}`;
}
