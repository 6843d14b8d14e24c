/**
 * Typed access to the generated ext_proc codecs (protobufjs static code from proto/, see scripts/gen.mjs).
 * Field names are camelCase (`rawValue`, `endOfStream`); oneof members are plain optional fields.
 */
import { envoy } from './gen/ext_proc.js';

export const pb = envoy.service.ext_proc.v3;
export const core = envoy.config.core.v3;
export const modes = envoy.extensions.filters.http.ext_proc.v3;

export type ProcessingRequest = envoy.service.ext_proc.v3.IProcessingRequest;
export type ProcessingResponse = envoy.service.ext_proc.v3.IProcessingResponse;
export type HttpHeaders = envoy.service.ext_proc.v3.IHttpHeaders;
export type HttpBody = envoy.service.ext_proc.v3.IHttpBody;
export type HttpTrailers = envoy.service.ext_proc.v3.IHttpTrailers;
export type CommonResponse = envoy.service.ext_proc.v3.ICommonResponse;
export type HeaderMutation = envoy.service.ext_proc.v3.IHeaderMutation;
export type BodyMutation = envoy.service.ext_proc.v3.IBodyMutation;
export type ImmediateResponse = envoy.service.ext_proc.v3.IImmediateResponse;
export type HeaderValue = envoy.config.core.v3.IHeaderValue;
export type HeaderValueOption = envoy.config.core.v3.IHeaderValueOption;
export type ProcessingMode = envoy.extensions.filters.http.ext_proc.v3.IProcessingMode;
export const BodySendMode = envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode;
export const HeaderSendMode = envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.HeaderSendMode;
export const AppendAction = envoy.config.core.v3.HeaderValueOption.HeaderAppendAction;
export const ResponseStatus = envoy.service.ext_proc.v3.CommonResponse.ResponseStatus;

/** Encodes a ProcessingRequest to its protobuf bytes. */
export function encodeRequest(msg: ProcessingRequest): Uint8Array {
  return pb.ProcessingRequest.encode(msg).finish();
}

/** Decodes ProcessingResponse bytes; throws on malformed input. */
export function decodeResponse(bytes: Uint8Array): envoy.service.ext_proc.v3.ProcessingResponse {
  return pb.ProcessingResponse.decode(bytes);
}
