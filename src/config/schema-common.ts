/**
 * Config schema pieces shared by routes, backends and policies: durations, secrets, header modifiers,
 * backendTLS and backendAuth.
 */
import { z } from 'zod';
import { DURATION_PATTERN, MAX_DURATION_MS, parseDuration } from './duration.js';
import { obj, str, unsupported } from './schema-util.js';

/** A duration string such as `250ms`, `10s`, `1m30s`, `1h`. */
export function duration(description: string) {
  return z
    .string({ error: () => 'expected a duration string such as "250ms", "10s", "1m" or "1h"' })
    .regex(new RegExp(DURATION_PATTERN), {
      error: (iss) => `invalid duration ${JSON.stringify(iss.input)}; use a number with ms, s, m or h (e.g. "250ms", "10s", "1m", "1h")`,
    })
    .refine((text) => !((parseDuration(text) ?? 0) > MAX_DURATION_MS), {
      error: (iss) => `duration ${JSON.stringify(iss.input)} is too long; the most a timer can wait is ${MAX_DURATION_MS}ms (about 596h)`,
    })
    .describe(`${description} A duration such as "250ms", "10s", "1m" or "1h".`);
}

/** A CEL expression (compiled at load; a bad expression is a config error). */
export function cel(description: string) {
  return z.string().describe(`${description} A CEL expression, compiled when the config loads.`);
}

/** `{file: path}`: the value is read from the file (relative to the config file) and trimmed. */
export const fileRef = obj(
  { file: str('Path of a file holding the value; relative paths are resolved against the config file directory.') },
  'Read the value from a file at load time (surrounding whitespace is trimmed).',
).meta({ id: 'FileRef' });

/** A secret: inline text (often `$ENV`) or `{file: path}`. */
export const secret = z
  .union([z.string(), fileRef])
  .describe('A secret: an inline string (for example "$OPENAI_API_KEY") or {file: path}. Never logged or dumped.')
  .meta({ id: 'Secret' });

/** Header list in either agentgateway's map form (`{name: value}`) or Gateway API's `[{name, value}]` form. */
const headerValues = z
  .union([
    z.record(z.string(), z.string()).describe('Map of header name to value (agentgateway form).'),
    z
      .array(obj({ name: str('Header name.'), value: str('Header value.') }, 'One header.'))
      .describe('List of {name, value} (Gateway API form).'),
  ])
  .describe('Headers as a map {name: value} or a list [{name, value}].');

/** requestHeaderModifier / responseHeaderModifier. */
export const headerModifier = obj(
  {
    add: headerValues.optional().describe('Headers to append (an existing header keeps its values).'),
    set: headerValues.optional().describe('Headers to set, replacing any existing values.'),
    remove: z.array(z.string()).optional().describe('Header names to remove.'),
  },
  'Add, set or remove headers.',
).meta({ id: 'HeaderModifier' });

/** backendTLS (minimal): connect to the backend over TLS. */
export const backendTls = obj(
  {
    root: str('PEM file of CA certificates to trust instead of the system roots.').optional(),
    insecure: z.boolean().optional().describe('Skip certificate verification (testing only).'),
    hostname: unsupported('backendTLS.hostname'),
    insecureHost: unsupported('backendTLS.insecureHost'),
    cert: unsupported('backendTLS client certificates (cert)'),
    key: unsupported('backendTLS client certificates (key)'),
    alpn: unsupported('backendTLS.alpn'),
    subjectAltNames: unsupported('backendTLS.subjectAltNames'),
  },
  'Connect to the backend over TLS (system trust unless `root` is given).',
).meta({ id: 'BackendTLS' });

const headerLocation = obj(
  {
    header: obj(
      {
        name: str('Header name, e.g. "authorization".'),
        prefix: str('Text put before the key, e.g. "Bearer ". Default: none when a location is given.').optional(),
      },
      'Put the key in a request header.',
    ),
    queryParameter: unsupported('backendAuth location queryParameter'),
    cookie: unsupported('backendAuth location cookie'),
  },
  'Where the key goes. Default: header Authorization with prefix "Bearer ".',
);

const keyLong = obj(
  {
    value: secret.describe('The key: inline string, "$ENV" or {file: path}.'),
    location: headerLocation.optional(),
  },
  'Long form: the key and where to put it.',
);

/** backendAuth: inject a credential into the upstream request. */
export const backendAuth = obj(
  {
    key: z
      .union([z.string(), fileRef, keyLong])
      .optional()
      .describe('The key: a string ("$ENV" works), {file: path}, or {value, location}. Default location: Authorization: Bearer <key>.'),
    passthrough: obj({}, 'Keep the client credential as it is.').optional(),
    gcp: unsupported('backendAuth gcp'),
    aws: unsupported('backendAuth aws'),
    azure: unsupported('backendAuth azure'),
    jwtSign: unsupported('backendAuth jwtSign'),
    oauthTokenExchange: unsupported('backendAuth oauthTokenExchange'),
    crossAppAccess: unsupported('backendAuth crossAppAccess'),
    credentials: unsupported('backendAuth credentials'),
  },
  'Authenticate to the backend. The key replaces the client Authorization header and is never logged.',
).meta({ id: 'BackendAuth' });

/** directResponse: answer from the gateway. */
export const directResponse = obj(
  {
    body: str('Response body text.').optional(),
    status: z.number().int().min(100).max(599).optional().describe('HTTP status (default 200).'),
  },
  'Answer the request directly from the gateway with a fixed status and body.',
).meta({ id: 'DirectResponse' });

/** timeout policy. */
export const timeout = obj(
  {
    requestTimeout: duration('Limit on the whole exchange.').optional(),
    backendRequestTimeout: duration('Limit on each upstream call.').optional(),
  },
  'Request timeouts.',
).meta({ id: 'Timeout' });

/** Server TLS for an HTTPS listener. */
export const serverTls = obj(
  {
    cert: str('PEM certificate chain file.'),
    key: str('PEM private key file.'),
    root: unsupported('client certificate verification (tls.root)'),
    mode: unsupported('tls.mode'),
    spiffe: unsupported('tls.spiffe'),
    cipherSuites: unsupported('tls.cipherSuites'),
    minTLSVersion: unsupported('tls.minTLSVersion'),
    maxTLSVersion: unsupported('tls.maxTLSVersion'),
  },
  'Server TLS: certificate and key files (PEM). ALPN offers h2 and http/1.1.',
).meta({ id: 'ServerTLS' });
