/**
 * agentgateway's textual environment expansion, run over the whole raw config text before YAML parsing:
 * `$NAME`, `${NAME}` and `${NAME:-default}`. Like agentgateway (shellexpand), it also applies inside comments,
 * and a `$` not followed by a name character or `{` is left alone (so regexes ending in `$` survive).
 */

/** Thrown when a variable is unset and has no default, or a `${` is never closed. */
export class EnvExpansionError extends Error {
  constructor(
    message: string,
    /** The variable name, when the problem is an unset variable. */
    readonly variable: string | undefined,
    /** 1-based line of the reference in the raw text. */
    readonly line: number,
  ) {
    super(message);
    this.name = 'EnvExpansionError';
  }
}

// agentgateway rewrites this exact comment prefix first, so the editor schema hint is not an env reference.
const SCHEMA_COMMENT = '# yaml-language-server: $schema';
const NAME_CHAR = /[A-Za-z0-9_]/;

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Expands env references in `text` using `env`; throws EnvExpansionError naming the variable and line. */
export function expandEnv(text: string, env: Readonly<Record<string, string | undefined>>): string {
  const src = text.split(SCHEMA_COMMENT).join('#');
  let out = '';
  let i = 0;
  while (i < src.length) {
    const dollar = src.indexOf('$', i);
    if (dollar < 0) {
      out += src.slice(i);
      break;
    }
    out += src.slice(i, dollar);
    const next = src[dollar + 1];
    if (next === '{') {
      const close = src.indexOf('}', dollar + 2);
      if (close < 0) {
        throw new EnvExpansionError(`unterminated "\${" at line ${lineAt(src, dollar)}`, undefined, lineAt(src, dollar));
      }
      const body = src.slice(dollar + 2, close);
      const sep = body.indexOf(':-');
      const name = sep >= 0 ? body.slice(0, sep) : body;
      if (!/^[A-Za-z0-9_]+$/.test(name)) {
        const line = lineAt(src, dollar);
        throw new EnvExpansionError(`invalid environment variable reference "\${${body}}" at line ${line}`, name, line);
      }
      const value = env[name];
      if (value !== undefined) out += value;
      else if (sep >= 0) out += body.slice(sep + 2);
      else throw unset(name, src, dollar);
      i = close + 1;
    } else if (next !== undefined && NAME_CHAR.test(next)) {
      let end = dollar + 1;
      while (end < src.length && NAME_CHAR.test(src[end] ?? '')) end++;
      const name = src.slice(dollar + 1, end);
      const value = env[name];
      if (value === undefined) throw unset(name, src, dollar);
      out += value;
      i = end;
    } else {
      out += '$';
      i = dollar + 1;
    }
  }
  return out;
}

function unset(name: string, src: string, at: number): EnvExpansionError {
  const line = lineAt(src, at);
  return new EnvExpansionError(
    `environment variable not found: ${name} (referenced at line ${line}; set it or use \${${name}:-default})`,
    name,
    line,
  );
}
