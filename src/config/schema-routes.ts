/**
 * Routes, matches and backends (shared by both config shapes).
 */
import { z } from 'zod';
import { backendPolicies, routePolicies } from './schema-policies.js';
import { obj, str, unsupported } from './schema-util.js';

const valueMatch = obj(
  {
    exact: str('Exact value.').optional(),
    regex: str('Regular expression that must match the whole value.').optional(),
  },
  'Exactly one of exact or regex.',
).meta({ id: 'ValueMatch' });

const pathMatch = obj(
  {
    exact: str('The path must equal this (query excluded).').optional(),
    pathPrefix: str('Segment-aware prefix: "/foo" matches "/foo" and "/foo/bar", not "/foobar".').optional(),
    regex: str('Regular expression that must match the whole path.').optional(),
  },
  'Exactly one of exact, pathPrefix or regex.',
);

const nameValue = obj({ name: str('Header or query parameter name.'), value: valueMatch }, 'A named value match.');

const match = obj(
  {
    path: pathMatch.optional(),
    method: str('HTTP method, e.g. GET.').optional(),
    headers: z.array(nameValue).optional().describe('Headers that must match (all of them).'),
    query: z.array(nameValue).optional().describe('Query parameters that must be present and match.'),
  },
  'Conditions that must all hold. Several matches on a route are alternatives.',
).meta({ id: 'RouteMatch' });

/** The `ai` backend (OpenAI provider). */
export const aiBackend = obj(
  {
    name: str('Provider name, used in telemetry.'),
    provider: obj(
      {
        openAI: obj(
          { model: str('If set, overwrites the `model` field of every request.').optional() },
          'OpenAI chat completions.',
        ),
        anthropic: unsupported('the anthropic provider'),
        gemini: unsupported('the gemini provider'),
        vertex: unsupported('the vertex provider'),
        bedrock: unsupported('the bedrock provider'),
        azureOpenAI: unsupported('the azureOpenAI provider'),
      },
      'The LLM provider.',
    ),
    hostOverride: str('Dial this "host:port" in plaintext instead of api.openai.com:443 (tests, local models).').optional(),
    pathOverride: str('Send every request to exactly this upstream path.').optional(),
    pathPrefix: str('Replaces the default "/v1" path base.').optional(),
    policies: backendPolicies.optional(),
    tokenize: unsupported('ai.tokenize'),
    groups: unsupported('ai provider groups'),
  },
  'An LLM backend.',
).meta({ id: 'AiBackend' });

/** Backend kind fields shared by route backends and named backends. */
export const backendKindFields = {
  host: str('"host:port", or a URL "http://h[:p]" / "https://h[:p]" (no path).').optional(),
  ai: aiBackend.optional(),
  service: unsupported('the service backend kind'),
  mcp: unsupported('the mcp backend kind'),
  aws: unsupported('the aws backend kind'),
  dynamic: unsupported('the dynamic backend kind'),
  internal: unsupported('the internal backend kind'),
  routeGroup: unsupported('the routeGroup backend kind'),
} as const;

/** One entry of a route's `backends`. */
export const routeBackend = obj(
  {
    ...backendKindFields,
    backend: str('Name of a top-level backend.').optional(),
    weight: z.number().int().min(0).optional().describe('Relative weight for weighted random choice (default 1).'),
    policies: backendPolicies.optional(),
  },
  'A backend: exactly one of host, backend or ai.',
).meta({ id: 'RouteBackend' });

/** Fields of a route (both shapes). */
export const routeFields = {
  name: str('Route name (default route<index>).').optional(),
  namespace: str('Route namespace (default "default").').optional(),
  ruleName: str('Optional rule name, for telemetry.').optional(),
  hostnames: z.array(z.string()).optional().describe('Hostnames this route serves; "*.example.com" wildcards allowed.'),
  matches: z.array(match).optional().describe('Alternatives; default: one pathPrefix "/" match.'),
  backends: z.array(routeBackend).optional().describe('Where to send the request; several are chosen by weight.'),
  policies: routePolicies.optional(),
};

/** A route inside a seed-shape listener. */
export const route = obj(routeFields, 'An HTTP route.').meta({ id: 'Route' });

/** A top-level route (current shape): attaches to gateways by name. */
export const topLevelRoute = obj(
  {
    ...routeFields,
    gateways: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe('Gateway references: "gw" or "gw/listener" (default: the gateway named "default").'),
  },
  'An HTTP route attached to gateways by name.',
).meta({ id: 'TopLevelRoute' });

/** A top-level named backend. */
export const namedBackend = obj(
  {
    name: str('The key routes and extProc use to refer to this backend.'),
    ...backendKindFields,
    policies: backendPolicies.optional(),
  },
  'A reusable named backend.',
).meta({ id: 'NamedBackend' });

/** Parsed types. */
export type RawRoute = z.infer<typeof route>;
export type RawTopLevelRoute = z.infer<typeof topLevelRoute>;
export type RawRouteBackend = z.infer<typeof routeBackend>;
export type RawNamedBackend = z.infer<typeof namedBackend>;
export type RawAiBackend = z.infer<typeof aiBackend>;
