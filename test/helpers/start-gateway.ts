/**
 * Starts the real CLI (`node bin/tollgate.js -f FILE`, i.e. the compiled dist/) on free ports and waits
 * until `/healthz/ready` answers 200. YAML may contain `{{NAME}}` placeholders: names given in
 * `opts.vars` are replaced by those values, every other name by a fresh free port (`ports.NAME`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { GATEWAY_NODE_FLAGS } from '../../src/ops/node-flags.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface StartGatewayOptions {
  /** Extra environment for the child. */
  readonly env?: Record<string, string>;
  /** Placeholder values (e.g. `{UPSTREAM: '127.0.0.1:1234'}`). */
  readonly vars?: Record<string, string | number>;
  /** Readiness deadline, ms (default 20 s). */
  readonly readyTimeoutMs?: number;
  /** Pass the config inline with `-c` instead of `-f FILE` (then nothing is watched). */
  readonly inline?: boolean;
}

export interface StartedGateway {
  /** `http://127.0.0.1:<port>`; default port: `{{PORT}}`, else the first placeholder port. */
  url(port?: number): string;
  readonly ports: Readonly<Record<string, number>>;
  readonly adminUrl: string;
  readonly statsUrl: string;
  readonly readyUrl: string;
  /** The config file (tests may rewrite it to trigger a hot reload). */
  readonly configPath: string;
  readonly child: ChildProcess;
  /** stdout lines so far (JSON logs). */
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first stdout line (past or future) that satisfies `pred`. */
  waitForLine(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves when the process exited, with its code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

/** Replaces `{{NAME}}` placeholders; unknown names get free ports. */
export async function fillPlaceholders(text: string, vars: Record<string, string | number> = {}): Promise<{ text: string; ports: Record<string, number> }> {
  const ports: Record<string, number> = {};
  const names = [...new Set([...text.matchAll(/\{\{([A-Za-z0-9_]+)\}\}/g)].map((m) => m[1]!))];
  for (const n of names) if (vars[n] === undefined) ports[n] = await freePort();
  const filled = text.replace(/\{\{([A-Za-z0-9_]+)\}\}/g, (_m, n: string) => String(vars[n] ?? ports[n]));
  return { text: filled, ports };
}

async function pollReady(url: string, deadline: number, exited: () => boolean): Promise<void> {
  for (;;) {
    if (exited()) throw new Error('gateway exited before it was ready');
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`gateway not ready at ${url} in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a gateway from YAML text. Call `stop()` in `t.after`. Free ports are picked by binding port 0 and
 * closing it, so a parallel test can take one before the gateway binds it: on EADDRINUSE we pick new
 * ports and try again (bounded).
 */
export async function startGateway(yaml: string, opts: StartGatewayOptions = {}): Promise<StartedGateway> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGatewayOnce(yaml, opts);
    } catch (err) {
      if (attempt >= 4 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

async function startGatewayOnce(yaml: string, opts: StartGatewayOptions): Promise<StartedGateway> {
  const { text, ports } = await fillPlaceholders(yaml, opts.vars);
  const [admin, stats, ready] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-test-'));
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, text);
  const configArgs = opts.inline === true ? ['-c', text] : ['-f', configPath];
  // The gateway runs with the V8 flags its launcher's shebang gives it in production.
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, path.join(ROOT, 'bin/tollgate.js'), ...configArgs], {
    cwd: ROOT,
    env: {
      ...process.env,
      TOLLGATE_BIND_HOST: '127.0.0.1',
      ADMIN_ADDR: `127.0.0.1:${admin}`,
      STATS_ADDR: `127.0.0.1:${stats}`,
      READINESS_ADDR: `127.0.0.1:${ready}`,
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  let lineWaiters: Array<(line: string) => boolean> = [];
  const split = (sink: string[], onLine?: (l: string) => void) => {
    let rest = '';
    return (chunk: Buffer): void => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop()!;
      for (const p of parts) {
        sink.push(p);
        onLine?.(p);
      }
    };
  };
  child.stdout!.on('data', split(stdout, (l) => (lineWaiters = lineWaiters.filter((w) => !w(l)))));
  child.stderr!.on('data', split(stderr));
  let hasExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      hasExited = true;
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  const readyUrl = `http://127.0.0.1:${ready}/healthz/ready`;
  try {
    await pollReady(readyUrl, Date.now() + (opts.readyTimeoutMs ?? 20_000), () => hasExited);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${(err as Error).message}\nstdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('\n')}`);
  }
  const firstPort = ports.PORT ?? Object.values(ports)[0];
  let stopping: Promise<void> | undefined;
  return {
    url: (port?: number) => `http://127.0.0.1:${port ?? firstPort}`,
    ports,
    adminUrl: `http://127.0.0.1:${admin}`,
    statsUrl: `http://127.0.0.1:${stats}`,
    readyUrl,
    configPath,
    child,
    stdout,
    stderr,
    exited,
    waitForLine(pred, timeoutMs = 10_000) {
      const hit = stdout.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no matching log line in time')), timeoutMs);
        lineWaiters.push((l) => {
          if (!pred(l)) return false;
          clearTimeout(t);
          resolve(l);
          return true;
        });
      });
    },
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (hasExited) return;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      })();
      return stopping;
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      child.kill(signal);
    },
  };
}

/**
 * Runs `change` (e.g. an edit that should make the gateway reload its config) and resolves with the first
 * stdout line logged after it that `matches` (a line from before the change never counts).
 */
export async function lineAfter(gw: StartedGateway, change: () => void, matches: RegExp): Promise<string> {
  const seen = gw.stdout.length;
  change();
  return gw.waitForLine((l) => gw.stdout.indexOf(l) >= seen && matches.test(l));
}
