/**
 * Auth gate: checks `authorization: Bearer <token>` on the request headers and answers the client itself
 * (ImmediateResponse) when it is missing (401) or unknown (403). A known token continues with `x-user: <name>`
 * added and the `authorization` header removed, so the backend never sees the credential.
 *
 * Tokens come from AUTH_GATE_TOKENS (`token=user,token2=user2`); the default is `demo-token=demo-user`.
 * Run: node --import tsx examples/auth-gate/index.ts --port 9002
 */
import { headersReply, immediateJson, type ProcessorHandlers } from '../../src/processor/index.js';
import { isMain, serveFromCli } from '../shared/serve.js';

/** Parses `token=user,token2=user2`. */
export function parseTokens(spec: string): ReadonlyMap<string, string> {
  const m = new Map<string, string>();
  const pairs = spec.split(',').map((s) => s.trim()).filter(Boolean);
  for (const [i, pair] of pairs.entries()) {
    const eq = pair.indexOf('=');
    // The entry itself is a secret: say which one is wrong, never what it contains.
    if (eq <= 0 || eq === pair.length - 1) throw new Error(`AUTH_GATE_TOKENS: expected token=user, entry ${i + 1} is not`);
    m.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return m;
}

/** The gate's handlers for a token → user table. */
export function authGate(tokens: ReadonlyMap<string, string>): ProcessorHandlers {
  return {
    onRequestHeaders: (headers) => {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.get('authorization') ?? '');
      if (m === null) {
        return immediateJson(401, { error: 'missing bearer token' }, {
          headers: { 'www-authenticate': 'Bearer realm="tollgate"' },
          details: 'auth-gate: no bearer token',
        });
      }
      const user = tokens.get(m[1]!);
      if (user === undefined) return immediateJson(403, { error: 'invalid token' }, { details: 'auth-gate: unknown token' });
      return headersReply('request', { set: { 'x-user': user }, remove: ['authorization'] });
    },
  };
}

if (isMain(import.meta.url)) {
  await serveFromCli('auth-gate', authGate(parseTokens(process.env['AUTH_GATE_TOKENS'] ?? 'demo-token=demo-user')), 9002);
}
