/**
 * The `extProc` policy schema (SPEC §2 field table). The same fields appear at the top level of the policy
 * and inside each `conditional` entry.
 */
import { z } from 'zod';
import { backendTls, cel, duration } from './schema-common.js';
import { obj, str, unsupported } from './schema-util.js';

const headerMode = z.enum(['send', 'skip']);
const bodyMode = z.enum(['none', 'buffered', 'bufferedPartial', 'streamed', 'fullDuplexStreamed']);

const processingOptions = obj(
  {
    requestHeaderMode: headerMode.optional().describe('Send request headers to the processor (default send).'),
    responseHeaderMode: headerMode.optional().describe('Send response headers to the processor (default send).'),
    requestBodyMode: bodyMode
      .optional()
      .describe('How the request body is sent (default fullDuplexStreamed). `streamed` is a tollgate addition.'),
    responseBodyMode: bodyMode.optional().describe('How the response body is sent (default fullDuplexStreamed).'),
    requestTrailerMode: headerMode.optional().describe('Send request trailers (default send).'),
    responseTrailerMode: headerMode.optional().describe('Send response trailers (default send).'),
    allowModeOverride: z
      .boolean()
      .optional()
      .describe('Honour mode_override from the processor headers replies (default false).'),
  },
  'Which parts of the exchange go to the processor, and how.',
).meta({ id: 'ExtProcProcessingOptions' });

const targetPolicies = obj(
  {
    backendTLS: backendTls.optional(),
    backendAuth: unsupported('backendAuth on an extProc target'),
    http: unsupported('http on an extProc target'),
    tcp: unsupported('tcp on an extProc target'),
    backendTunnel: unsupported('backendTunnel on an extProc target'),
    requestHeaderModifier: unsupported('requestHeaderModifier on an extProc target'),
    transformations: unsupported('transformations on an extProc target'),
  },
  'Connection policies for the processor.',
).meta({ id: 'ExtProcTargetPolicies' });

/** The fields of one ext_proc configuration (shared by the plain and the conditional form). */
export const extProcFields = {
  host: str('The processor: "h:p" (h2c), "http://h[:p]" (h2c) or "https://h[:p]" (TLS).').optional(),
  backend: str('Alternatively, the name of a top-level backend.').optional(),
  policies: targetPolicies.optional(),
  failureMode: z
    .enum(['failClosed', 'failOpen'])
    .optional()
    .describe('What happens when the processor fails (default failClosed).'),
  processingOptions: processingOptions.optional(),
  messageTimeout: duration('Longest wait for a processor reply the exchange is blocked on (default 10s).').optional(),
  statusOnError: z
    .number()
    .int()
    .min(200)
    .max(599)
    .optional()
    .describe('HTTP status returned when the exchange fails closed (default 500; 504 on messageTimeout).'),
  metadataContext: z
    .record(z.string(), z.record(z.string(), cel('Value.')))
    .optional()
    .describe('{namespace: {key: CEL}}, sent as metadata_context.filter_metadata on every message.'),
  requestAttributes: z
    .record(z.string(), cel('Value.'))
    .optional()
    .describe('{name: CEL}, sent under attributes["envoy.filters.http.ext_proc"] on the first request message.'),
  responseAttributes: z
    .record(z.string(), cel('Value.'))
    .optional()
    .describe('{name: CEL}, sent under the same attributes key on the first response message.'),
  name: unsupported('the service form of an extProc target (name/port)'),
  port: unsupported('the service form of an extProc target (name/port)'),
} as const;

const conditionalEntry = obj(
  {
    condition: cel('When this entry applies; omit only on the last entry (the fallback).').optional(),
    ...extProcFields,
  },
  'One conditional ext_proc entry: a condition plus the usual extProc fields.',
).meta({ id: 'ExtProcConditionalEntry' });

/** The extProc policy: either the fields directly, or `conditional: [...]`. */
export const extProc = obj(
  {
    ...extProcFields,
    conditional: z
      .array(conditionalEntry)
      .optional()
      .describe('Entries tried in order; the first whose condition matches is used (1–64 entries).'),
  },
  'Envoy ext_proc external processing: stream the exchange to a gRPC processor that may read and change it.',
).meta({ id: 'ExtProc' });

/** Parsed type of one extProc policy. */
export type RawExtProc = z.infer<typeof extProc>;
/** Parsed type of the fields shared by plain and conditional entries. */
export type RawExtProcFields = Omit<RawExtProc, 'conditional'>;
