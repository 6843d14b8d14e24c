/**
 * Command-line parsing for `tollgate`, kept pure so every flag combination is unit-tested without a process.
 * Flags follow agentgateway's CLI (`-f/--file`, `-c/--config`, `--validate-only`).
 */
import { parseArgs } from 'node:util';

/** What the user asked for. `source` is where the config comes from. */
export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'schema' }
  | { readonly kind: 'run'; readonly source: ConfigSource; readonly validateOnly: boolean };

/** A config file (watched unless it is a pipe-like path), stdin, or inline text (never watched). */
export type ConfigSource =
  | { readonly kind: 'file'; readonly path: string; readonly watch: boolean }
  | { readonly kind: 'stdin' }
  | { readonly kind: 'inline'; readonly text: string };

/** The usage text printed by `--help` and after a usage error. */
export const USAGE = `Usage:
  tollgate -f <config.yaml>            run the gateway (the file is watched and hot-reloaded)
  tollgate -c '<yaml>'                 run with an inline config (not watched)
  tollgate --validate-only -f <file>   check a config and exit (also works with -c)
  tollgate schema                      print the config JSON Schema
  tollgate --help | --version

Options:
  -f, --file <path>     config file (YAML or JSON); "-" reads stdin once
  -c, --config <text>   inline config (YAML or JSON); exclusive with -f
      --validate-only   parse and validate, print "Configuration is valid!", exit 0 (1 on error)
  -h, --help            show this help
  -V, --version         print the version

Environment:
  ADMIN_ADDR, STATS_ADDR, READINESS_ADDR   override config.adminAddr/statsAddr/readinessAddr ("off" disables)
  TOLLGATE_BIND_HOST                       address the binds listen on (default 0.0.0.0)
  CONNECTION_TERMINATION_DEADLINE          drain deadline on SIGTERM (e.g. 30s; default 30s)
  CONNECTION_MIN_TERMINATION_DEADLINE      keep serving this long after readiness fails (default 0)
  TOLLGATE_WORKERS                         worker processes (number or "auto"); overrides config.workers
  TOLLGATE_LOG_LEVEL / LOG_LEVEL           log level (overrides config.logging.level)
`;

/** A usage mistake; the message is shown with the usage text and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parses argv (without node and script) into a Command; throws UsageError on bad usage. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        file: { type: 'string', short: 'f' },
        config: { type: 'string', short: 'c' },
        'validate-only': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };
  const [sub, ...rest] = positionals;
  if (sub !== undefined) {
    if (sub !== 'schema') throw new UsageError(`unknown command "${sub}" (the only command is "schema")`);
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0] ?? ''}"`);
    if (values.file !== undefined || values.config !== undefined || values['validate-only'] === true) {
      throw new UsageError('"schema" takes no options');
    }
    return { kind: 'schema' };
  }
  if (values.file !== undefined && values.config !== undefined) {
    throw new UsageError('-f/--file and -c/--config are mutually exclusive');
  }
  let source: ConfigSource;
  if (values.file !== undefined) {
    if (values.file === '') throw new UsageError('-f/--file needs a path');
    // As agentgateway: descriptors and process substitution (`-f <(…)`) are read once, never watched.
    const once = /^\/(dev\/fd|proc\/self\/fd)\//.test(values.file);
    source = values.file === '-' || values.file === '/dev/stdin' ? { kind: 'stdin' } : { kind: 'file', path: values.file, watch: !once };
  } else if (values.config !== undefined) {
    source = { kind: 'inline', text: values.config };
  } else {
    throw new UsageError('a config is required: -f <file> or -c <yaml>');
  }
  return { kind: 'run', source, validateOnly: values['validate-only'] === true };
}
