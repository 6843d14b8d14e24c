/**
 * Config loading: text → env expansion → YAML parse → strict schema validation → normalization → frozen model.
 * Every problem becomes a ConfigIssue naming its path, and its line/column when the YAML node can be found.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isNode, isScalar, isSeq, type Document } from 'yaml';
import { ConfigError, formatPath, type ConfigIssue, type PathSegment } from './config-error.js';
import { EnvExpansionError, expandEnv } from './env.js';
import type { GatewayModel } from './model.js';
import { normalizeConfig } from './normalize.js';
import { configSchema } from './schema.js';
import { readFromDisk, type FileReader } from './secrets.js';
import { describeZodIssues } from './zod-issues.js';

export { ConfigError } from './config-error.js';
export type { ConfigIssue } from './config-error.js';

/** Options for loading config text. */
export interface LoadOptions {
  /** Name used in messages (a file path, or e.g. "inline"). Default "config". */
  readonly source?: string;
  /** Directory for relative `{file:}` and tls paths. Default: process.cwd(). */
  readonly baseDir?: string;
  /** Environment for `$VAR` expansion and address overrides. Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** File access for secrets and TLS files (tests). Default: read from disk. */
  readonly readFile?: FileReader;
}

function locate(doc: Document, counter: LineCounter, path: readonly PathSegment[]): { line: number; col: number } | undefined {
  // Point at the key for map entries (an unknown key is reported where it is written); when the path runs
  // past what exists (a missing key), point at the deepest node that does exist.
  let node: unknown = doc.contents;
  let offset = isNode(node) && node.range ? node.range[0] : undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (pair === undefined) break;
      if (isNode(pair.key) && pair.key.range) offset = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!isNode(item)) break;
      if (item.range) offset = item.range[0];
      node = item;
    } else break;
  }
  if (offset === undefined) return undefined;
  const pos = counter.linePos(offset);
  return { line: pos.line, col: pos.col };
}

function issue(path: readonly PathSegment[], message: string, where?: { line: number; col: number }): ConfigIssue {
  return where ? { path: formatPath(path), message, line: where.line, col: where.col } : { path: formatPath(path), message };
}

/** Loads config text (YAML or JSON) into the frozen model; throws ConfigError listing every problem. */
export function loadConfigText(text: string, opts: LoadOptions = {}): GatewayModel {
  const source = opts.source ?? 'config';
  const env = opts.env ?? process.env;
  let expanded: string;
  try {
    expanded = expandEnv(text, env);
  } catch (err) {
    if (!(err instanceof EnvExpansionError)) throw err;
    throw new ConfigError([{ path: '(env)', message: err.message, line: err.line, col: 1 }], source);
  }

  const counter = new LineCounter();
  const doc = parseDocument(expanded, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = counter.linePos(e.pos[0]);
        const msg = `YAML syntax error: ${e.message.split('\n')[0] ?? e.message}`;
        return { path: '(yaml)', message: msg, line: pos.line, col: pos.col };
      }),
      source,
    );
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};

  const parsed = configSchema.safeParse(data);
  if (!parsed.success) {
    const issues = describeZodIssues(parsed.error.issues, data).map((i) => issue(i.path, i.message, locate(doc, counter, i.path)));
    throw new ConfigError(issues, source);
  }

  const result = normalizeConfig(parsed.data, {
    baseDir: opts.baseDir ?? process.cwd(),
    env,
    readFile: opts.readFile ?? readFromDisk,
  });
  if (result.model === undefined) {
    throw new ConfigError(
      result.issues.map((i) => issue(i.path, `${formatPath(i.path)}: ${i.message}`, locate(doc, counter, i.path))),
      source,
    );
  }
  return result.model;
}

/** Reads and loads a config file; relative paths inside it resolve against the file's directory. */
export function loadConfigFile(path: string, opts: Omit<LoadOptions, 'baseDir'> & { baseDir?: string } = {}): GatewayModel {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '(file)', message: `cannot read config file ${abs}: ${(err as Error).message}` }], path);
  }
  return loadConfigText(text, { ...opts, source: opts.source ?? path, baseDir: opts.baseDir ?? dirname(abs) });
}
