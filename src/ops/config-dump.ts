/**
 * Turns the runtime model into plain JSON for the admin `/config_dump`, redacting every secret.
 * Redaction does not rely on `Secret.toJSON`: anything shaped like a secret is replaced before serialization.
 */
import type { GatewayModel } from '../config/model.js';

/** What a secret becomes in a dump. */
export const REDACTED = '<redacted>';

function isSecret(v: object): boolean {
  const s = v as { kind?: unknown; reveal?: unknown };
  return s.kind === 'secret' || typeof s.reveal === 'function';
}

function isCel(v: object): v is { source: string } {
  const c = v as { source?: unknown; evaluate?: unknown };
  return typeof c.source === 'string' && typeof c.evaluate === 'function';
}

// Header values the config sets or matches on for these names are credentials in practice
// (e.g. a requestHeaderModifier that sets `authorization`), so they are redacted like Secrets.
const SENSITIVE_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key']);

function isSensitiveHeader(v: object): boolean {
  const h = v as { name?: unknown; value?: unknown };
  return typeof h.name === 'string' && h.value !== undefined && SENSITIVE_HEADERS.has(h.name.toLowerCase());
}

function plain(v: unknown, seen: Set<object>): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'object') return undefined; // functions, symbols, undefined are dropped
  if (isSecret(v)) return REDACTED;
  if (v instanceof RegExp) return v.source;
  if (isCel(v)) return v.source;
  if (Buffer.isBuffer(v) || ArrayBuffer.isView(v)) return `<${(v as ArrayBufferView).byteLength} bytes>`;
  if (isSensitiveHeader(v)) return { ...(plain({ ...v, value: undefined }, seen) as object), value: REDACTED };
  if (seen.has(v)) return '<cycle>';
  seen.add(v);
  try {
    if (Array.isArray(v) || v instanceof Set) return [...v].map((x) => plain(x, seen) ?? null);
    const out: Record<string, unknown> = {};
    const entries = v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x] as const) : Object.entries(v);
    for (const [k, x] of entries) {
      const p = plain(x, seen);
      if (p !== undefined) out[k] = p;
    }
    return out;
  } finally {
    seen.delete(v);
  }
}

/**
 * A JSON-safe copy of the model: secrets and credential-bearing header values → "<redacted>", RegExps and
 * CEL → their source text.
 */
export function configDump(model: GatewayModel): unknown {
  return plain(model, new Set());
}
