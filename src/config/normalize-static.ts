/**
 * The static `config:` block and `frontendPolicies`: listen addresses (with ADMIN_ADDR / STATS_ADDR /
 * READINESS_ADDR env overrides, `off` disables), logging, workers and the body buffer limit.
 */
import type { FrontendPolicies, ListenAddr, StaticConfig } from './model.js';
import { parseHostPort } from './host.js';
import type { NormalizeContext } from './normalize-context.js';
import type { RawConfig } from './schema.js';

const DEFAULT_MAX_BUFFER = 2 * 1024 * 1024;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** Parses "ip:port", "localhost:port", "[::1]:port" or "off" (null); port 0 lets the OS choose. */
export function parseListenAddr(text: string): { ok: true; addr: ListenAddr | null } | { ok: false; message: string } {
  if (text.trim().toLowerCase() === 'off') return { ok: true, addr: null };
  if (text.startsWith('unix:')) return { ok: false, message: `unix socket addresses are not supported by tollgate: ${JSON.stringify(text)}` };
  const r = parseHostPort(text.trim(), true);
  if (!r.ok) return { ok: false, message: `${r.message}; expected "ip:port", "localhost:port" or "off"` };
  return { ok: true, addr: { host: r.target.host, port: r.target.port } };
}

function addr(
  ctx: NormalizeContext,
  key: 'adminAddr' | 'statsAddr' | 'readinessAddr',
  envName: string,
  configured: string | undefined,
  fallback: string,
): ListenAddr | null {
  const fromEnv = ctx.opts.env[envName];
  const text = fromEnv !== undefined && fromEnv !== '' ? fromEnv : (configured ?? fallback);
  const r = parseListenAddr(text);
  if (r.ok) return r.addr;
  if (fromEnv !== undefined && fromEnv !== '') ctx.fail([`env ${envName}`], r.message);
  else ctx.fail(['config', key], r.message);
  return null;
}

/** Normalizes `config:`. */
export function normalizeStatic(ctx: NormalizeContext, raw: RawConfig['config']): StaticConfig {
  const c = raw ?? {};
  const levelRaw = c.logging?.level;
  const first = (Array.isArray(levelRaw) ? levelRaw[0] : levelRaw)?.split(',')[0]?.trim() ?? 'info';
  // agentgateway accepts RUST_LOG-style "info,module=debug"; the first bare level is the one we use.
  const logLevel = first.includes('=') ? 'info' : first.toLowerCase();
  if (!LEVELS.includes(logLevel)) {
    ctx.fail(['config', 'logging', 'level'], `invalid log level ${JSON.stringify(first)}; allowed values: ${LEVELS.join(', ')}`);
  }
  return {
    adminAddr: addr(ctx, 'adminAddr', 'ADMIN_ADDR', c.adminAddr, 'localhost:15000'),
    statsAddr: addr(ctx, 'statsAddr', 'STATS_ADDR', c.statsAddr, '0.0.0.0:15020'),
    readinessAddr: addr(ctx, 'readinessAddr', 'READINESS_ADDR', c.readinessAddr, '0.0.0.0:15021'),
    logLevel,
    logFormat: c.logging?.format ?? 'json',
    workers: c.workers ?? 1,
  };
}

/** Normalizes `frontendPolicies`. */
export function normalizeFrontend(raw: RawConfig['frontendPolicies']): FrontendPolicies {
  return {
    maxBufferSize: raw?.http?.maxBufferSize ?? DEFAULT_MAX_BUFFER,
    accessLog: raw?.accessLog?.enabled ?? true,
  };
}
