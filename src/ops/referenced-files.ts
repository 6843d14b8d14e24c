/**
 * The files a loaded config read besides itself ({file:} secrets, TLS certs and keys). Watching them lets a
 * rotated key or certificate take effect without touching the config file, as agentgateway does.
 */
import type { GatewayModel } from '../config/model.js';

function walk(v: unknown, out: Set<string>, seen: Set<object>): void {
  if (typeof v !== 'object' || v === null || seen.has(v)) return;
  seen.add(v);
  const o = v as Record<string, unknown>;
  if (o.kind === 'secret') {
    if (typeof o.origin === 'string' && o.origin.startsWith('file:')) out.add(o.origin.slice('file:'.length));
    return; // never look inside a secret
  }
  if (v instanceof RegExp) return;
  for (const key of ['certPath', 'keyPath'] as const) if (typeof o[key] === 'string' && o[key] !== '') out.add(o[key]);
  for (const child of Array.isArray(v) ? v : Object.values(o)) walk(child, out, seen);
}

/** Absolute paths of every file the model was built from, other than the config file itself. */
export function referencedFiles(model: GatewayModel): string[] {
  const out = new Set<string>();
  walk(model, out, new Set());
  return [...out].sort();
}
