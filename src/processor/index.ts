/**
 * tollgate/processor: write Envoy ext_proc processors in TypeScript. Works with tollgate, Envoy and agentgateway.
 *
 * ```ts
 * import { createProcessor, headersReply } from 'tollgate/processor';
 * const p = createProcessor({ onRequestHeaders: () => headersReply('request', { set: { 'x-hello': 'world' } }) });
 * await p.listen({ port: 9000 });
 * ```
 */
export { createProcessor } from './server.js';
export type { Processor, ProcessorOptions, ListenOptions, TlsOptions, ProcessorAddress } from './server.js';
export type {
  BodyChunk,
  Handler,
  HandlerResult,
  HandlersInput,
  ProcessorContext,
  ProcessorHandlers,
  ProtocolConfig,
  StreamEndReason,
} from './types.js';
export type { MessageHeaders } from './headers.js';
export { readHeaders } from './headers.js';
export {
  bodyReply,
  continueAndReplace,
  dynamicMetadata,
  headerMutation,
  headersReply,
  immediate,
  immediateJson,
  modeOverride,
  streamedChunk,
  toBytes,
  trailersReply,
  withExtras,
} from './replies.js';
export type { Direction, HeaderEdits, HeaderInput, ImmediateOptions, ReplyOptions } from './replies.js';
export type { BodyMode, ModeOverride, SendMode } from './modes.js';
export { bodyModeName, bodyModeNumber } from './modes.js';
export { bufferBody, mapChunks } from './body.js';
export type { BodyResult } from './body.js';
export { GrpcCode, ProcessorError } from './errors.js';
export type { GrpcCodeNumber } from './errors.js';
export { ServingStatus, PROCESS_PATH, EXT_PROC_SERVICE } from './services.js';
export type { WireTap } from './services.js';
export type { ProcessingRequest, ProcessingResponse } from '../extproc/messages.js';
