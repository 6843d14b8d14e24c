/**
 * Policy sets: route policies, backend policies and the gateway-phase subset. Policies tollgate implements
 * have full schemas; the rest of agentgateway's policy keys are accepted loosely and recorded as unimplemented.
 */
import { z } from 'zod';
import { backendAuth, backendTls, directResponse, headerModifier, timeout } from './schema-common.js';
import { extProc } from './schema-extproc.js';
import { notImplemented, obj } from './schema-util.js';

/** Route policy keys accepted but not implemented (a request through one fails with 500 naming it). */
export const UNIMPLEMENTED_ROUTE_POLICIES = [
  'requestRedirect',
  'urlRewrite',
  'requestMirror',
  'cors',
  'csrf',
  'jwtAuth',
  'oidc',
  'basicAuth',
  'apiKey',
  'mcpAuthentication',
  'authorization',
  'mcpAuthorization',
  'mcpGuardrails',
  'extAuthz',
  'transformations',
  'localRateLimit',
  'remoteRateLimit',
  'ai',
  'a2a',
  'backendTunnel',
  'buffer',
  'retry',
  'delay',
] as const;

/** Backend policy keys accepted but not implemented (recorded on the route that uses the backend). */
export const UNIMPLEMENTED_BACKEND_POLICIES = [
  'requestRedirect',
  'transformations',
  'backendTunnel',
  'http',
  'tcp',
  'health',
  'extAuthz',
  'authorization',
  'mcpAuthorization',
  'mcpGuardrails',
  'a2a',
  'inferenceRouting',
  'sessionAffinity',
  'ai',
] as const;

/** Gateway-phase policy keys accepted but not implemented. */
export const UNIMPLEMENTED_GATEWAY_POLICIES = [
  'oidc',
  'jwtAuth',
  'authorization',
  'extAuthz',
  'cors',
  'transformations',
  'basicAuth',
  'apiKey',
] as const;

function loose<K extends string>(keys: readonly K[], where: string): Record<K, ReturnType<typeof notImplemented>> {
  return Object.fromEntries(keys.map((k) => [k, notImplemented(k, `agentgateway ${where} policy \`${k}\`.`)])) as Record<
    K,
    ReturnType<typeof notImplemented>
  >;
}

/** Policies on a backend (route backend entry, named backend, ai provider). */
export const backendPolicies = obj(
  {
    requestHeaderModifier: headerModifier.optional(),
    responseHeaderModifier: headerModifier.optional(),
    backendAuth: backendAuth.optional(),
    backendTLS: backendTls.optional(),
    ...loose(UNIMPLEMENTED_BACKEND_POLICIES, 'backend'),
  },
  'Policies applied after a backend is chosen.',
).meta({ id: 'BackendPolicies' });

/** Fields of a route's `policies` (also the payload of a top-level `policies[]` entry). */
export const routePolicyFields = {
  requestHeaderModifier: headerModifier.optional(),
  responseHeaderModifier: headerModifier.optional(),
  directResponse: directResponse.optional(),
  timeout: timeout.optional(),
  backendAuth: backendAuth.optional(),
  backendTLS: backendTls.optional(),
  extProc: extProc.optional(),
  ...loose(UNIMPLEMENTED_ROUTE_POLICIES, 'route'),
};

/** A route's `policies`. */
export const routePolicies = obj(routePolicyFields, 'Policies that run after the route is selected.').meta({
  id: 'RoutePolicies',
});

/** Gateway-phase policy fields (flattened onto shape-B gateways/listeners, wrapped in `policies` on binds). */
export const gatewayPolicyFields = {
  extProc: extProc.optional(),
  ...loose(UNIMPLEMENTED_GATEWAY_POLICIES, 'gateway-phase'),
};

/** Seed-shape listener `policies`. */
export const gatewayPolicies = obj(gatewayPolicyFields, 'Gateway-phase policies: run before route selection.').meta({
  id: 'GatewayPolicies',
});

/** Parsed route policies. */
export type RawRoutePolicies = z.infer<typeof routePolicies>;
/** Parsed backend policies. */
export type RawBackendPolicies = z.infer<typeof backendPolicies>;
