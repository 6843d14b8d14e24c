/**
 * Runs the independent Python ext_proc processor (Debian python3-grpcio, C-core gRPC) for tests.
 * Stubs are generated once per test process from our proto/ into a temp dir with grpc_tools.protoc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = join(ROOT, 'test/helpers/python-processor/processor.py');

/** The scenarios processor.py implements. */
export type PythonScenario = 'headers' | 'buffered-rewrite' | 'immediate' | 'duplex-echo' | 'duplex-upper' | 'empty-reply';

/** A running Python processor. */
export interface PythonProcessor {
  readonly port: number;
  /** `127.0.0.1:port`. */
  readonly target: string;
  readonly child: ChildProcess;
  /** SIGKILL (a crash) and wait for exit. */
  kill(): Promise<void>;
  /** Stops it (same as kill; the processor holds no state). */
  stop(): Promise<void>;
}

let stubDir: string | undefined;

/** Why the Python processor cannot run here, or undefined when it can (tests skip with this reason). */
export function pythonUnavailable(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import grpc, grpc_tools'], { encoding: 'utf8' });
  const why =
    r.error !== undefined
      ? `${PYTHON} not found`
      : r.status !== 0
        ? `python3-grpcio / python3-grpc-tools missing: ${r.stderr.trim().split('\n').pop()}`
        : undefined;
  // CI installs the Debian packages (.ci/run), so there a missing processor is a failure, never a skip.
  if (why !== undefined && process.env.CI) throw new Error(`the Python ext_proc processor cannot run in CI: ${why}`);
  return why;
}

function protoFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? protoFiles(p) : n.endsWith('.proto') ? [p] : [];
  });
}

/** Generates the Python stubs (once per process) and returns the directory to put on PYTHONPATH. */
export function pythonStubs(): string {
  if (stubDir) return stubDir;
  const dir = mkdtempSync(join(tmpdir(), 'tg-pystubs-'));
  const include = spawnSync(PYTHON, ['-c', 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))'], { encoding: 'utf8' });
  const args = ['-m', 'grpc_tools.protoc', '-I', join(ROOT, 'proto'), '-I', include.stdout.trim(), `--python_out=${dir}`, `--grpc_python_out=${dir}`, ...protoFiles(join(ROOT, 'proto'))];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`grpc_tools.protoc failed: ${r.stderr}`);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  stubDir = dir;
  return dir;
}

/** Starts processor.py with a scenario on 127.0.0.1 (port 0 unless given) and waits for its port line. */
export async function startPythonProcessor(scenario: PythonScenario, opts: { port?: number } = {}): Promise<PythonProcessor> {
  const child = spawn(PYTHON, [SCRIPT, '--port', String(opts.port ?? 0), '--scenario', scenario], {
    env: { ...process.env, PYTHONPATH: pythonStubs(), PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`python processor did not start in 15 s: ${stderr}`)), 15_000);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (l) => { clearTimeout(timer); resolvePort(Number(l.trim())); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`python processor exited (${code}): ${stderr}`)); });
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return { port, target: `127.0.0.1:${port}`, child, kill, stop: kill };
}
