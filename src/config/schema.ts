/**
 * The whole accepted config file (agentgateway's standalone YAML, both shapes), as strict zod schemas.
 * The JSON Schema shipped in schema/gateway.schema.json is generated from this file (json-schema.ts).
 */
import { z } from 'zod';
import { duration, serverTls } from './schema-common.js';
import { extProc } from './schema-extproc.js';
import { gatewayPolicies, gatewayPolicyFields, routePolicyFields } from './schema-policies.js';
import { namedBackend, route, topLevelRoute } from './schema-routes.js';
import { obj, str, unsupported } from './schema-util.js';

const port = z.number().int().min(1).max(65535).describe('TCP port.');
const protocol = z.enum(['HTTP', 'HTTPS']).describe('HTTP (default) or HTTPS (requires tls).');
const addr = str('"ip:port", "localhost:port", or "off".');

const staticConfig = obj(
  {
    adminAddr: addr.optional().describe('Admin server (/config_dump); default localhost:15000; "off" disables.'),
    statsAddr: addr.optional().describe('Metrics server (/metrics); default 0.0.0.0:15020; "off" disables.'),
    readinessAddr: addr.optional().describe('Readiness server (/healthz/ready); default 0.0.0.0:15021; "off" disables.'),
    logging: obj(
      {
        level: z
          .union([z.string(), z.array(z.string())])
          .optional()
          .describe('Log level: error, warn, info (default), debug or trace.'),
        format: z.enum(['json', 'text']).optional().describe('Log format (default json).'),
        filter: unsupported('config.logging.filter'),
        fields: unsupported('config.logging.fields'),
      },
      'Process logging.',
    ).optional(),
    workers: z.number().int().min(1).max(256).optional().describe('tollgate extension: worker processes (default 1).'),
    enableIpv6: z.boolean().optional().describe('Accepted for compatibility; ignored.'),
    connectionTerminationDeadline: duration('Accepted for compatibility; ignored.').optional(),
    connectionMinTerminationDeadline: duration('Accepted for compatibility; ignored.').optional(),
    workerThreads: z.union([z.string(), z.number()]).optional().describe('Accepted for compatibility; ignored.'),
    tracing: unsupported('config.tracing'),
    metrics: unsupported('config.metrics'),
    dns: unsupported('config.dns'),
    session: unsupported('config.session'),
    xdsAddress: unsupported('xDS (config.xdsAddress)'),
    caAddress: unsupported('config.caAddress'),
  },
  'Static process settings (read at startup).',
);

const bindListener = obj(
  {
    name: str('Listener name (default listener<index>).').optional(),
    namespace: str('Listener namespace.').optional(),
    gatewayName: str('Legacy (agentgateway v0.10): the gateway this listener belongs to; default bind/<port>.').optional(),
    hostname: str('Only serve requests for this host ("*.example.com" allowed); default any.').optional(),
    protocol: protocol.optional(),
    tls: serverTls.optional(),
    routes: z.array(route).optional().describe('Routes; a listener without routes answers 404 after gateway policies.'),
    tcpRoutes: unsupported('tcpRoutes'),
    policies: gatewayPolicies.optional(),
  },
  'A listener on a bind port.',
);

const bind = obj(
  {
    port,
    listeners: z.array(bindListener).describe('Listeners sharing this port (split by hostname).'),
    tunnelProtocol: unsupported('bind tunnelProtocol'),
    mode: unsupported('bind mode'),
  },
  'A port the gateway listens on (legacy shape).',
);

const gatewayListener = obj(
  {
    name: str('Listener name (default listener<index>); referenced as "<gateway>/<name>".').optional(),
    hostname: str('Only serve requests for this host; default any.').optional(),
    protocol: protocol.optional(),
    tls: serverTls.optional(),
    ...gatewayPolicyFields,
  },
  'A listener of a gateway (split one port by hostname).',
);

const gateway = obj(
  {
    port,
    protocol: protocol.optional(),
    hostname: str('Only serve requests for this host; default any.').optional(),
    tls: serverTls.optional(),
    listeners: z.array(gatewayListener).optional().describe('Optional listeners; when present the gateway sets only port.'),
    ...gatewayPolicyFields,
  },
  'A gateway: a port plus gateway-phase policies.',
);

const resourceName = z
  .union([z.string(), obj({ name: str('Name.'), namespace: str('Namespace.').optional() }, 'A resource name.')])
  .describe('Policy name, or {name, namespace}.');

const policyTarget = obj(
  {
    gateway: obj(
      {
        gatewayName: str('"default" (the whole process) or a gateway / gatewayName.'),
        gatewayNamespace: str('Namespace (standalone: default).').optional(),
        listenerName: str('Only this listener: "<gateway>", "<gateway>/<listener>" or a binds listener name.').optional(),
        port: unsupported('policy target by port'),
      },
      'Target a gateway or one of its listeners.',
    ).optional(),
    route: obj(
      {
        name: str('Route name.'),
        namespace: str('Route namespace (default "default").').optional(),
        ruleName: str('Rule name (unused).').optional(),
        kind: str('Route kind (unused).').optional(),
      },
      'Target routes by name.',
    ).optional(),
    backend: unsupported('policy target backend'),
    listenerSet: unsupported('policy target listenerSet'),
  },
  'What the policy attaches to: exactly one of gateway or route.',
);

const topLevelPolicy = obj(
  {
    name: resourceName,
    target: policyTarget,
    phase: z.enum(['gateway', 'route']).optional().describe('gateway: before route selection; route (default): after.'),
    policy: obj(routePolicyFields, 'Exactly one policy.'),
  },
  'A policy attached by target.',
);

const legacyGatewayPolicy = obj(
  {
    name: str('Policy name.'),
    target: obj(
      {
        gateway: str('Every listener whose gatewayName is this.').optional(),
        listener: str('One listener, by key (default/default/bind/<port>/<name>) or name.').optional(),
      },
      'Exactly one of gateway or listener.',
    ),
    policy: obj(
      {
        extProc: extProc.optional(),
        jwtAuth: gatewayPolicyFields.jwtAuth,
        transformations: gatewayPolicyFields.transformations,
      },
      'The gateway-phase policy.',
    ),
  },
  'Legacy (agentgateway v0.10) gateway policy, attached to listeners by gatewayName.',
);

const frontendPolicies = obj(
  {
    http: obj(
      {
        maxBufferSize: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('Largest body the gateway will buffer, in bytes (default 2097152 = 2 MiB).'),
      },
      'HTTP frontend settings.',
    ).optional(),
    accessLog: obj(
      { enabled: z.boolean().optional().describe('tollgate extension: write access logs (default true).') },
      'Access log settings.',
    ).optional(),
    tls: unsupported('frontendPolicies.tls'),
    tcp: unsupported('frontendPolicies.tcp'),
    proxyProtocol: unsupported('frontendPolicies.proxyProtocol'),
    connect: unsupported('frontendPolicies.connect'),
    tracing: unsupported('frontendPolicies.tracing'),
    networkAuthorization: unsupported('frontendPolicies.networkAuthorization'),
    networkExtAuthz: unsupported('frontendPolicies.networkExtAuthz'),
  },
  'Policies that apply to all traffic.',
);

/** The root of a config file. */
export const configSchema = obj(
  {
    config: staticConfig.optional(),
    binds: z.array(bind).optional().describe('Legacy shape: ports → listeners → routes.'),
    gateways: z.record(z.string(), gateway).optional().describe('Current shape: gateway name → gateway.'),
    routes: z.array(topLevelRoute).optional().describe('Current shape: routes attached to gateways by name.'),
    policies: z.array(topLevelPolicy).optional().describe('Policies attached by target.'),
    backends: z.array(namedBackend).optional().describe('Named backends.'),
    frontendPolicies: frontendPolicies.optional(),
    gatewayPolicies: z.array(legacyGatewayPolicy).optional().describe('Legacy (v0.10) gateway policies.'),
    llm: unsupported('the simplified `llm` config (use a route with an `ai` backend)'),
    mcp: unsupported('the simplified `mcp` config'),
    tcpRoutes: unsupported('tcpRoutes'),
    ui: unsupported('the admin UI'),
    routeGroups: unsupported('routeGroups'),
    services: unsupported('services'),
    workloads: unsupported('workloads'),
  },
  'tollgate configuration (agentgateway standalone format).',
);

/** The validated raw config, before normalization. */
export type RawConfig = z.infer<typeof configSchema>;
