#!/usr/bin/python3
"""An independent ext_proc processor on Debian's python3-grpcio (C-core gRPC), for tollgate's tests.

Stubs are generated at test time (see ../python-processor.ts) and found through PYTHONPATH.
Usage: processor.py --port 0 --scenario NAME. The first stdout line is the bound port.
Every phase gets a correct reply for the body mode announced in protocol_config, except in the
`empty-reply` scenario, which answers unhandled phases with an empty ProcessingResponse on purpose
(like Google's service-extensions Python examples do).
"""
import argparse
import signal
import sys
from concurrent import futures

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as epg
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2 as pm

FULL_DUPLEX = pm.ProcessingMode.FULL_DUPLEX_STREAMED
SCENARIOS = ("headers", "buffered-rewrite", "immediate", "duplex-echo", "duplex-upper", "empty-reply")


def set_header(mutation, key, value):
    opt = mutation.set_headers.add()
    opt.header.key = key
    opt.header.raw_value = value.encode("latin-1")
    opt.append_action = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD


def headers_reply(phase, add=None):
    resp = ep.ProcessingResponse()
    hr = getattr(resp, phase)
    hr.SetInParent()
    if add:
        set_header(hr.response.header_mutation, add[0], add[1])
    return resp


def body_reply(phase, msg, full_duplex, transform):
    resp = ep.ProcessingResponse()
    br = getattr(resp, phase)
    br.SetInParent()
    if full_duplex:
        chunk = br.response.body_mutation.streamed_response
        chunk.body = transform(msg.body)
        chunk.end_of_stream = msg.end_of_stream
    return resp


def trailers_reply(phase):
    resp = ep.ProcessingResponse()
    getattr(resp, phase).SetInParent()
    return resp


class Processor(epg.ExternalProcessorServicer):
    def __init__(self, scenario):
        self.scenario = scenario

    def Process(self, request_iterator, context):
        modes = {"request": pm.ProcessingMode.NONE, "response": pm.ProcessingMode.NONE}
        first = True
        for req in request_iterator:
            if first and req.HasField("protocol_config"):
                modes["request"] = req.protocol_config.request_body_mode
                modes["response"] = req.protocol_config.response_body_mode
            first = False
            reply = self.answer(req.WhichOneof("request"), req, modes)
            if reply is not None:
                yield reply
                if reply.WhichOneof("response") == "immediate_response":
                    return

    def answer(self, phase, req, modes):
        s = self.scenario
        msg = getattr(req, phase)
        if phase == "request_headers":
            if s == "immediate":
                resp = ep.ProcessingResponse()
                resp.immediate_response.status.code = 403
                resp.immediate_response.body = b"blocked by python"
                set_header(resp.immediate_response.headers, "content-type", "text/plain")
                return resp
            if s in ("headers", "empty-reply"):
                return headers_reply(phase, ("x-py-request", "1"))
            return headers_reply(phase)
        if phase == "response_headers":
            if s in ("headers", "empty-reply"):
                return headers_reply(phase, ("x-py-response", "1"))
            return headers_reply(phase)
        if s == "empty-reply":
            return ep.ProcessingResponse()
        if phase in ("request_body", "response_body"):
            direction = phase.split("_")[0]
            fd = modes[direction] == FULL_DUPLEX
            if s == "buffered-rewrite" and phase == "request_body" and not fd:
                resp = ep.ProcessingResponse()
                common = resp.request_body.response
                new_body = msg.body.upper()
                common.body_mutation.body = new_body
                set_header(common.header_mutation, "content-length", str(len(new_body)))
                return resp
            upper = s == "duplex-upper"
            return body_reply(phase, msg, fd, (lambda b: b.upper()) if upper else (lambda b: b))
        if phase in ("request_trailers", "response_trailers"):
            return trailers_reply(phase)
        return ep.ProcessingResponse()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--scenario", choices=SCENARIOS, default="headers")
    args = ap.parse_args()
    # Each bidi stream holds a worker thread for its lifetime: size the pool for many concurrent exchanges.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=512),
        options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
    )
    epg.add_ExternalProcessorServicer_to_server(Processor(args.scenario), server)
    port = server.add_insecure_port("127.0.0.1:%d" % args.port)
    if port == 0:
        print("cannot bind 127.0.0.1:%d" % args.port, file=sys.stderr, flush=True)
        sys.exit(1)
    server.start()
    print(port, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0) and sys.exit(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
