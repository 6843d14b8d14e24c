/**
 * gRPC service definitions for @grpc/grpc-js with our own codecs: ext_proc uses the generated protobufjs code;
 * the two tiny `grpc.health.v1` messages are encoded by hand (one field each), which avoids shipping a proto.
 */
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/minimal.js';
import { pb, type ProcessingRequest, type ProcessingResponse } from '../extproc/messages.js';

/** The full method path of the ext_proc call. */
export const PROCESS_PATH = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
/** The service name health checks may ask about. */
export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';

/** Receives each ext_proc message's protobuf bytes: `in` = from the gateway, `out` = our replies. */
export type WireTap = (direction: 'in' | 'out', bytes: Buffer) => void;

/** The ExternalProcessor service (one bidirectional streaming method), optionally tapping the message bytes. */
export function extProcServiceDef(tap?: WireTap): grpc.ServiceDefinition {
  return {
    Process: {
      path: PROCESS_PATH,
      requestStream: true,
      responseStream: true,
      originalName: 'process',
      requestSerialize: (m: ProcessingRequest) => Buffer.from(pb.ProcessingRequest.encode(m).finish()),
      requestDeserialize: (b: Buffer) => {
        tap?.('in', b);
        return pb.ProcessingRequest.decode(b);
      },
      responseSerialize: (m: ProcessingResponse) => {
        const b = Buffer.from(pb.ProcessingResponse.encode(m).finish());
        tap?.('out', b);
        return b;
      },
      responseDeserialize: (b: Buffer) => pb.ProcessingResponse.decode(b),
    },
  };
}

/** The ExternalProcessor service definition without a tap (also usable to build a grpc-js client). */
export const extProcService: grpc.ServiceDefinition = extProcServiceDef();

/** `grpc.health.v1.HealthCheckResponse.ServingStatus` values. */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

/** HealthCheckRequest: `string service = 1`. Unknown fields are skipped. */
export function decodeHealthRequest(b: Buffer): { service: string } {
  const r = protobuf.Reader.create(b);
  let service = '';
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) service = r.string();
    else r.skipType(tag & 7);
  }
  return { service };
}

/** HealthCheckResponse: `ServingStatus status = 1`. */
export function encodeHealthResponse(m: { status: number }): Buffer {
  return Buffer.from(protobuf.Writer.create().uint32(8).int32(m.status).finish());
}

/** The `grpc.health.v1.Health` service (Check only; Watch answers UNIMPLEMENTED). */
export const healthService: grpc.ServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    originalName: 'check',
    requestSerialize: (m: { service: string }) => Buffer.from(protobuf.Writer.create().uint32(10).string(m.service).finish()),
    requestDeserialize: decodeHealthRequest,
    responseSerialize: encodeHealthResponse,
    responseDeserialize: (b: Buffer) => {
      const r = protobuf.Reader.create(b);
      let status = 0;
      while (r.pos < r.len) {
        const tag = r.uint32();
        if (tag === 8) status = r.int32();
        else r.skipType(tag & 7);
      }
      return { status };
    },
  },
};
