/**
 * ConfigError: every problem found while loading a config, each naming its path
 * (`binds[0].listeners[0].routes[2].policies.extProc.failureMode`) and, when known, its line and column.
 */

/** One path segment: an object key or an array index. */
export type PathSegment = string | number;

/** One problem in a config. `message` already starts with the path. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  /** 1-based position in the source text, when the path could be located. */
  readonly line?: number;
  readonly col?: number;
}

/** Renders a path the way the docs write it: `a.b[0]["odd.key"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === '' ? '(root)' : out;
}

/** Thrown by loadConfigText/loadConfigFile; `.message` lists one `path: problem` line per issue. */
export class ConfigError extends Error {
  constructor(
    readonly issues: readonly ConfigIssue[],
    readonly source: string = 'config',
  ) {
    super(
      `invalid config (${source}): ${issues.length} problem${issues.length === 1 ? '' : 's'}\n` +
        issues
          .map((i) => `  ${i.line !== undefined ? `${source}:${i.line}:${i.col ?? 1}: ` : ''}${i.message}`)
          .join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Collects issues during normalization, so one load reports every problem at once. */
export class IssueList {
  readonly items: { path: readonly PathSegment[]; message: string }[] = [];

  /** Records `problem` at `path`. */
  add(path: readonly PathSegment[], problem: string): void {
    this.items.push({ path, message: problem });
  }

  get empty(): boolean {
    return this.items.length === 0;
  }
}

/** Shows a config value in an error message (short, JSON-ish). */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
