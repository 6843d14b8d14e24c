/**
 * Runs a TypeScript processor script the way its README says (`node --import tsx FILE …`) as a child process
 * and waits for the `listening on host:port` line it prints; the child is killed if the test ends first.
 */
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';

/** A started script: its processor target, and how it ended. */
export interface ListeningScript {
  /** `host:port` from the script's `listening on` line. */
  readonly target: string;
  /** Resolves with the exit code once the child has exited. */
  readonly exited: Promise<number | null>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns `node --import tsx file ...args` in `cwd`; rejects if it exits before it is listening. */
export async function runListeningScript(t: Pick<TestContext, 'after'>, cwd: string, file: string, args: readonly string[] = []): Promise<ListeningScript> {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const target = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`${file} exited (${code}) before listening: ${err}`)));
  });
  return { target, exited, stop: () => { child.kill('SIGTERM'); return exited; } };
}
