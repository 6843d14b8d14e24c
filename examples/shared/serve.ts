/**
 * Runs an example processor from the command line: `--port N` (default per example), `--host H` (default
 * 127.0.0.1), and graceful shutdown on SIGINT / SIGTERM. Prints `<name> listening on <host:port>` when ready.
 *
 * The examples import the SDK from the source tree; in your own project write `from 'tollgate/processor'`.
 */
import { fileURLToPath } from 'node:url';
import { createProcessor, type HandlersInput, type ProcessorAddress } from '../../src/processor/index.js';

/** True when the module at `url` is the program being run (not imported by a test). */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(url) === process.argv[1];
}

/** Reads `--name value` from argv. */
function arg(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Parses `--port` / `--host`; a bad port is a clear error. */
export function listenArgs(argv: readonly string[], defaultPort: number): { port: number; host: string } {
  const raw = arg(argv, 'port');
  const port = raw === undefined ? defaultPort : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number (0-65535), got ${raw}`);
  return { port, host: arg(argv, 'host') ?? '127.0.0.1' };
}

/** Starts `handlers` on the address from argv and stops cleanly on SIGINT / SIGTERM. */
export async function serveFromCli(name: string, handlers: HandlersInput, defaultPort: number): Promise<ProcessorAddress> {
  const processor = createProcessor(handlers);
  const addr = await processor.listen(listenArgs(process.argv, defaultPort));
  console.log(`${name} listening on ${addr.target}`);
  const stop = () => void processor.close({ graceMs: 5000 }).then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return addr;
}
