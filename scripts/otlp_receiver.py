#!/usr/bin/env python3
"""An OTLP/HTTP trace receiver for tests, on 127.0.0.1: every POST to /v1/traces is decoded
with the official OpenTelemetry protobuf definitions (PyPI `opentelemetry-proto`) into an
`ExportTraceServiceRequest`, strictly (an unknown field, a wrong type, an enum name instead of
its number, an id of the wrong length: the request is refused with 400 and an error line).

OTLP's JSON differs from protobuf's standard JSON mapping in one way the stock parser cannot
take: `traceId`, `spanId` and `parentSpanId` are hex, not base64. They are turned into base64
first (as OTLP receivers do) and checked to be lowercase or uppercase hex of the right length:
a 32-character hex string is also valid base64, so parsing it unconverted would silently give
24 wrong bytes.

Prints `{"port": n}` first, then one JSON line per decoded span, read back from the protobuf
message (not from the posted JSON): traceId, spanId, parentSpanId (hex), name, kind (number),
start/end (nanoseconds), attributes (key -> value), status code and message, and the resource's
attributes. Stops when stdin closes or after --timeout seconds.
"""

import argparse
import base64
import binascii
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
HEX = re.compile(r"^[0-9a-fA-F]*$")
LOCK = threading.Lock()


def emit(obj):
    with LOCK:
        sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
        sys.stdout.flush()


def hex_ids_to_base64(node, path="$"):
    """Rewrites OTLP's hex ids into protobuf JSON's base64, checking each is hex of its size,
    and checks that enums (`kind`, `code`) are numbers, as OTLP requires."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key in ("kind", "code") and not isinstance(value, int):
                raise ValueError(f"{path}.{key}: {value!r} is not an enum number")
            if key in ID_FIELDS and isinstance(value, str):
                size = ID_FIELDS[key]
                if value == "" and key == "parentSpanId":
                    continue
                if not HEX.match(value) or len(value) != 2 * size:
                    raise ValueError(f"{path}.{key}: {value!r} is not {size} bytes of hex")
                node[key] = base64.b64encode(binascii.unhexlify(value)).decode()
            else:
                hex_ids_to_base64(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            hex_ids_to_base64(item, f"{path}[{i}]")


def any_value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def spans_of(request):
    for rs in request.resource_spans:
        resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                if len(s.trace_id) != 16 or len(s.span_id) != 8 or len(s.parent_span_id) not in (0, 8):
                    raise ValueError("an id has the wrong length after decoding")
                yield {
                    "traceId": s.trace_id.hex(),
                    "spanId": s.span_id.hex(),
                    "parentSpanId": s.parent_span_id.hex(),
                    "name": s.name,
                    "kind": int(s.kind),
                    "start": s.start_time_unix_nano,
                    "end": s.end_time_unix_nano,
                    "attributes": {kv.key: any_value(kv.value) for kv in s.attributes},
                    "status": int(s.status.code),
                    "statusMessage": s.status.message,
                    "scope": ss.scope.name,
                    "resource": resource,
                }


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path != "/v1/traces":
            emit({"error": f"unexpected path {self.path}"})
            return self.answer(404, {"message": "not found"})
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            emit({"error": f"unexpected content type {self.headers.get('Content-Type')}"})
            return self.answer(415, {"message": "want application/json"})
        try:
            doc = json.loads(raw)
            hex_ids_to_base64(doc)
            request = json_format.Parse(json.dumps(doc), trace_service_pb2.ExportTraceServiceRequest())
            spans = list(spans_of(request))
        except Exception as e:  # any decoding failure is the test's failure
            emit({"error": f"{type(e).__name__}: {e}"})
            return self.answer(400, {"message": str(e)})
        for span in spans:
            emit({"span": span})
        self.answer(200, {})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    emit({"port": server.server_address[1]})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait(args.timeout)
    server.shutdown()


if __name__ == "__main__":
    main()
