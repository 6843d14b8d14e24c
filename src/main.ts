/**
 * The `tollgate` command line: parse arguments, load the config, then hand over to ops/run.ts.
 * Exit codes: 0 ok, 1 invalid config or startup failure, 2 usage error.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseCommand, USAGE, UsageError, type ConfigSource } from './cli/args.js';
import { configJsonSchema } from './config/json-schema.js';
import { loadConfigText } from './config/load.js';
import type { GatewayModel } from './config/model.js';
import { logger, setLogLevel } from './observability/logger.js';
import { runCluster } from './ops/cluster.js';
import { run, type Running } from './ops/run.js';
import { DEFAULT_DRAIN_MS, drainDeadlineMs, drainHoldMs, onShutdownSignals } from './ops/shutdown.js';
import { runWorker } from './ops/worker.js';
import { missingNodeFlags } from './ops/node-flags.js';
import { selectedTransport } from './extproc/client.js';
import { unimplementedPolicies } from './config/unimplemented.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

function fail(message: string, code: number): never {
  process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
  process.exit(code);
}

/** Reads the config text for a source; the `label` names it in error messages. */
function readSource(source: ConfigSource): { text: string; label: string; baseDir: string } {
  if (source.kind === 'inline') return { text: source.text, label: '<inline>', baseDir: process.cwd() };
  const file = source.kind === 'stdin' ? '/dev/stdin' : source.path;
  try {
    return {
      text: readFileSync(source.kind === 'stdin' ? 0 : file, 'utf8'),
      label: source.kind === 'stdin' ? '<stdin>' : file,
      baseDir: source.kind === 'stdin' ? process.cwd() : path.dirname(path.resolve(file)),
    };
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    return fail(`tollgate: cannot read config file ${file}: ${why}`, 1);
  }
}

/** Worker processes: TOLLGATE_WORKERS (a number, or `auto` = one per core) overrides `config.workers`. */
function workerCount(model: GatewayModel): number {
  const raw = process.env.TOLLGATE_WORKERS?.trim();
  if (raw === undefined || raw === '') return model.config.workers;
  if (raw === 'auto') return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) fail(`tollgate: TOLLGATE_WORKERS must be 1..256 or "auto", got ${JSON.stringify(raw)}`, 2);
  return n;
}

function load(text: string, label: string, baseDir: string): GatewayModel {
  return loadConfigText(text, { source: label, baseDir });
}

async function main(argv: readonly string[]): Promise<void> {
  let cmd;
  try {
    cmd = parseCommand(argv);
  } catch (err) {
    if (err instanceof UsageError) fail(`tollgate: ${err.message}\n\n${USAGE}`, 2);
    throw err;
  }
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return;
    case 'version':
      process.stdout.write(`tollgate ${version()}\n`);
      return;
    case 'schema':
      process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n');
      return;
    case 'run':
      break;
  }

  const { text, label, baseDir } = readSource(cmd.source);
  let model: GatewayModel;
  try {
    model = load(text, label, baseDir);
  } catch (err) {
    // ConfigError messages list every `path: problem`; they never include secret values.
    fail(err instanceof Error ? err.message : String(err), 1);
  }
  const unimplemented = unimplementedPolicies(model);
  if (cmd.validateOnly) {
    for (const line of unimplemented) process.stderr.write(`warning: ${line}\n`);
    process.stdout.write('Configuration is valid!\n');
    return;
  }
  for (const line of unimplemented) logger.warn(line);

  let transport: string;
  try {
    transport = selectedTransport();
  } catch (err) {
    fail(`tollgate: ${(err as Error).message}`, 2);
  }
  if (process.env.TOLLGATE_LOG_LEVEL === undefined && process.env.LOG_LEVEL === undefined) setLogLevel(model.config.logLevel);
  if (transport !== 'wire') logger.info({ transport }, 'ext_proc uses the node:http2 transport (TOLLGATE_EXTPROC_TRANSPORT)');
  const missing = missingNodeFlags();
  if (missing.length > 0) logger.info({ missing }, 'node runs without the V8 flags tollgate is tuned for: start it as `npx tollgate` or `./bin/tollgate.js` (their shebang sets them), or pass them to node (docs/operations.md)');
  if (model.config.logFormat === 'text') logger.warn('config.logging.format "text" is not supported; logs stay JSON (pipe through pino-pretty to read them)');
  let deadline = drainDeadlineMs(process.env);
  if (deadline === undefined) {
    logger.warn({ value: process.env.CONNECTION_TERMINATION_DEADLINE }, 'CONNECTION_TERMINATION_DEADLINE is not a duration; using 30s');
    deadline = DEFAULT_DRAIN_MS;
  }
  let hold = drainHoldMs(process.env);
  if (hold === undefined) {
    logger.warn({ value: process.env.CONNECTION_MIN_TERMINATION_DEADLINE }, 'CONNECTION_MIN_TERMINATION_DEADLINE is not a duration; using 0');
    hold = 0;
  }
  const src = cmd.source;
  const bindHost = process.env.TOLLGATE_BIND_HOST;
  const common = {
    model,
    bindHost: bindHost === undefined || bindHost === '' ? undefined : bindHost,
    ...(src.kind === 'file' && src.watch
      ? { watch: { path: src.path, initialText: text, load: (t: string) => load(t, label, baseDir) } }
      : {}),
  };
  const workers = workerCount(model);
  let running: Running;
  try {
    running = workers > 1 ? await runCluster({ ...common, workers, text, source: label, baseDir }) : await run(common);
  } catch (err) {
    logger.fatal({ error: err instanceof Error ? err.message : String(err) }, 'startup failed');
    process.exit(1);
  }
  const r = running;
  onShutdownSignals(() => r.shutdown(deadline, hold));
}

process.on('uncaughtException', (err) => {
  logger.fatal({ error: err.message, stack: err.stack }, 'uncaught exception');
  process.exit(1);
});

// A cluster worker is started by the primary with the same argv; its config arrives over IPC instead.
if (cluster.isWorker) runWorker();
else await main(process.argv.slice(2));
