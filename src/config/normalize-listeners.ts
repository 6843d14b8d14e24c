/**
 * Turns both config shapes into listener drafts: seed `binds[].listeners[]` and current `gateways` (implicit
 * or explicit listeners). Drafts carry their routes and gateway-phase policy sources; normalize.ts finishes them.
 */
import type { ServerTls } from './model.js';
import type { PathSegment } from './config-error.js';
import type { NormalizeContext, Sourced } from './normalize-context.js';
import type { RawConfig } from './schema.js';
import type { RawRoute } from './schema-routes.js';
import { makeSecret, readReferenced } from './secrets.js';

/** A listener before routes and policies are normalized. */
export interface ListenerDraft {
  readonly port: number;
  readonly portPath: readonly PathSegment[];
  readonly key: string;
  readonly name: string;
  /** Names a policy target may use for this listener (name, shape-B ref, key). */
  readonly refs: readonly string[];
  readonly gatewayName: string;
  /** Shape-B gateway key, when it came from `gateways`. */
  readonly gatewayKey: string | undefined;
  readonly hostname: string | undefined;
  readonly protocol: 'HTTP' | 'HTTPS';
  readonly tls: ServerTls | undefined;
  /** Inline gateway-phase policy sources, most specific first. */
  readonly gatewayPolicies: Sourced<Readonly<Record<string, unknown>>>[];
  /** Routes attached to this listener. */
  readonly routes: { raw: RawRoute; path: readonly PathSegment[]; index: number }[];
  readonly path: readonly PathSegment[];
}

type RawTls = { cert: string; key: string } | undefined;

function serverTls(ctx: NormalizeContext, raw: RawTls, path: readonly PathSegment[]): ServerTls | undefined {
  if (raw === undefined) return undefined;
  const cert = readReferenced(ctx.opts.readFile, ctx.opts.baseDir, raw.cert);
  const key = readReferenced(ctx.opts.readFile, ctx.opts.baseDir, raw.key);
  if (!cert.ok) ctx.fail([...path, 'cert'], cert.message);
  if (!key.ok) ctx.fail([...path, 'key'], key.message);
  if (!cert.ok || !key.ok) return undefined;
  if (!cert.text.includes('-----BEGIN')) ctx.fail([...path, 'cert'], `${raw.cert} is not a PEM certificate`);
  if (!key.text.includes('-----BEGIN')) ctx.fail([...path, 'key'], `${raw.key} is not a PEM private key`);
  return { cert: cert.text, key: makeSecret(key.text, `file:${key.path}`), certPath: cert.path, keyPath: key.path };
}

function protocolOf(
  ctx: NormalizeContext,
  declared: 'HTTP' | 'HTTPS' | undefined,
  tls: RawTls,
  path: readonly PathSegment[],
): 'HTTP' | 'HTTPS' {
  const p = declared ?? (tls ? 'HTTPS' : 'HTTP');
  if (p === 'HTTPS' && tls === undefined) ctx.fail([...path, 'tls'], 'protocol HTTPS requires tls: {cert, key}');
  if (p === 'HTTP' && tls !== undefined) ctx.fail([...path, 'protocol'], 'tls is set but protocol is HTTP; use HTTPS or remove tls');
  return p;
}

function hostnameOf(h: string | undefined): string | undefined {
  return h === undefined || h === '' || h === '*' ? undefined : h.toLowerCase();
}

/** Listener drafts from the seed `binds` shape. */
export function bindListeners(ctx: NormalizeContext, binds: RawConfig['binds']): ListenerDraft[] {
  const out: ListenerDraft[] = [];
  (binds ?? []).forEach((b, bi) => {
    const seen = new Set<string>();
    b.listeners.forEach((l, li) => {
      const path = ['binds', bi, 'listeners', li];
      const name = l.name ?? `listener${li}`;
      if (seen.has(name)) ctx.fail([...path, 'name'], `duplicate listener name ${JSON.stringify(name)} on port ${b.port}`);
      seen.add(name);
      const key = `default/default/bind/${b.port}/${name}`;
      out.push({
        port: b.port,
        portPath: ['binds', bi, 'port'],
        key,
        name,
        refs: [name, key],
        gatewayName: l.gatewayName ?? `bind/${b.port}`,
        gatewayKey: undefined,
        hostname: hostnameOf(l.hostname),
        protocol: protocolOf(ctx, l.protocol, l.tls, path),
        tls: serverTls(ctx, l.tls, [...path, 'tls']),
        gatewayPolicies: l.policies ? [{ value: l.policies, path: [...path, 'policies'] }] : [],
        routes: (l.routes ?? []).map((raw, i) => ({ raw, path: [...path, 'routes', i], index: i })),
        path,
      });
    });
  });
  return out;
}


/** Listener drafts from the current `gateways` map (routes are attached later). */
export function gatewayListeners(ctx: NormalizeContext, gateways: RawConfig['gateways']): ListenerDraft[] {
  const out: ListenerDraft[] = [];
  for (const [gwName, gw] of Object.entries(gateways ?? {})) {
    const gpath = ['gateways', gwName];
    const { port, listeners, protocol, hostname, tls, ...policyFields } = gw;
    const gwPolicies = { value: policyFields as Record<string, unknown>, path: gpath };
    if (listeners === undefined) {
      const key = `gateway/${gwName}`;
      out.push({
        port,
        portPath: [...gpath, 'port'],
        key,
        name: gwName,
        refs: [gwName, key],
        gatewayName: gwName,
        gatewayKey: gwName,
        hostname: hostnameOf(hostname),
        protocol: protocolOf(ctx, protocol, tls, gpath),
        tls: serverTls(ctx, tls, [...gpath, 'tls']),
        gatewayPolicies: [gwPolicies],
        routes: [],
        path: gpath,
      });
      continue;
    }
    for (const k of ['protocol', 'hostname', 'tls'] as const) {
      if (gw[k] !== undefined) ctx.fail([...gpath, k], `with listeners, set ${k} on each listener instead of the gateway`);
    }
    const seen = new Set<string>();
    listeners.forEach((l, li) => {
      const path = [...gpath, 'listeners', li];
      const name = l.name ?? `listener${li}`;
      if (seen.has(name)) ctx.fail([...path, 'name'], `duplicate listener name ${JSON.stringify(name)} in gateway ${gwName}`);
      seen.add(name);
      const { name: _n, hostname: h, protocol: p, tls: t, ...lPolicies } = l;
      const ref = `${gwName}/${name}`;
      out.push({
        port,
        portPath: [...gpath, 'port'],
        key: `gateway/${ref}`,
        name,
        refs: [ref, `gateway/${ref}`],
        gatewayName: gwName,
        gatewayKey: gwName,
        hostname: hostnameOf(h),
        protocol: protocolOf(ctx, p, t, path),
        tls: serverTls(ctx, t, [...path, 'tls']),
        gatewayPolicies: [{ value: lPolicies as Record<string, unknown>, path }, gwPolicies],
        routes: [],
        path,
      });
    });
  }
  return out;
}

