#!/usr/bin/env python3
"""An OTLP/HTTP receiver for tests, on 127.0.0.1: every POST to /v1/traces (/v1/metrics) is
decoded with the official OpenTelemetry protobuf definitions (PyPI `opentelemetry-proto`) into an
`ExportTraceServiceRequest` (`ExportMetricsServiceRequest`), strictly (an unknown field, a wrong
type, an enum name instead of its number, an id of the wrong length, a 64-bit integer written as
a JSON number, a histogram whose buckets do not add up: the request is refused with 400 and an
error line).

OTLP's JSON differs from protobuf's standard JSON mapping in one way the stock parser cannot
take: `traceId`, `spanId` and `parentSpanId` are hex, not base64. They are turned into base64
first (as OTLP receivers do) and checked to be lowercase or uppercase hex of the right length:
a 32-character hex string is also valid base64, so parsing it unconverted would silently give
24 wrong bytes.

The stock parser also takes enum names (`"AGGREGATION_TEMPORALITY_CUMULATIVE"`) and 64-bit
integers as JSON numbers; OTLP's JSON wants enum numbers, and proto3's mapping writes 64-bit
integers as decimal strings, so both are refused before parsing.

Prints `{"port": n}` first, then one JSON line per decoded span (`{"span": ...}`), read back
from the protobuf message (not from the posted JSON): traceId, spanId, parentSpanId (hex), name,
kind (number), start/end (nanoseconds), attributes (key -> value), status code and message, and
the resource's attributes; and one line per decoded metric data point (`{"metric": ...}`): the
metric's name, unit, type (histogram or sum), temporality, monotonicity, the point's attributes,
start/time, and its values (count, sum, bucketCounts, explicitBounds; or the sum's value), with
the scope and the resource. Stops when stdin closes or after --timeout seconds.
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
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
ENUM_FIELDS = ("kind", "code", "aggregationTemporality")
# The 64-bit integer fields of the trace and metric messages: proto3's JSON mapping writes them
# as decimal strings (the stock parser would take numbers too).
INT64_FIELDS = (
    "startTimeUnixNano",
    "endTimeUnixNano",
    "timeUnixNano",
    "intValue",
    "asInt",
    "count",
    "bucketCounts",
    "zeroCount",
)
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
            if key in ENUM_FIELDS and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f"{path}.{key}: {value!r} is not an enum number")
            if key in INT64_FIELDS:
                values = value if isinstance(value, list) else [value]
                if not all(isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v) for v in values):
                    raise ValueError(f"{path}.{key}: {value!r} is not a 64-bit integer as a decimal string")
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


def points_of(request):
    for rm in request.resource_metrics:
        resource = {kv.key: any_value(kv.value) for kv in rm.resource.attributes}
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                base = {"name": m.name, "unit": m.unit, "type": kind, "scope": sm.scope.name, "resource": resource}
                if kind == "histogram":
                    for p in m.histogram.data_points:
                        buckets = list(p.bucket_counts)
                        bounds = list(p.explicit_bounds)
                        if len(buckets) != len(bounds) + 1:
                            raise ValueError(f"{m.name}: {len(buckets)} bucket counts for {len(bounds)} bounds")
                        if sum(buckets) != p.count:
                            raise ValueError(f"{m.name}: bucket counts {buckets} do not add up to {p.count}")
                        if any(a >= b for a, b in zip(bounds, bounds[1:])):
                            raise ValueError(f"{m.name}: bounds {bounds} are not increasing")
                        yield dict(
                            base,
                            temporality=int(m.histogram.aggregation_temporality),
                            attributes={kv.key: any_value(kv.value) for kv in p.attributes},
                            start=p.start_time_unix_nano,
                            time=p.time_unix_nano,
                            count=p.count,
                            sum=p.sum,
                            bucketCounts=buckets,
                            explicitBounds=bounds,
                        )
                elif kind == "sum":
                    for p in m.sum.data_points:
                        yield dict(
                            base,
                            temporality=int(m.sum.aggregation_temporality),
                            monotonic=m.sum.is_monotonic,
                            attributes={kv.key: any_value(kv.value) for kv in p.attributes},
                            start=p.start_time_unix_nano,
                            time=p.time_unix_nano,
                            value=getattr(p, p.WhichOneof("value") or "as_int"),
                        )
                else:
                    raise ValueError(f"{m.name}: unexpected metric type {kind}")


# What each path decodes into, and how its items are printed.
ROUTES = {
    "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest, spans_of, "span"),
    "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest, points_of, "metric"),
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
        if self.path not in ROUTES:
            emit({"error": f"unexpected path {self.path}"})
            return self.answer(404, {"message": "not found"})
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            emit({"error": f"unexpected content type {self.headers.get('Content-Type')}"})
            return self.answer(415, {"message": "want application/json"})
        try:
            doc = json.loads(raw)
            hex_ids_to_base64(doc)
            message, items_of, label = ROUTES[self.path]
            request = json_format.Parse(json.dumps(doc), message())
            items = list(items_of(request))
        except Exception as e:  # any decoding failure is the test's failure
            emit({"error": f"{type(e).__name__}: {e}"})
            return self.answer(400, {"message": str(e)})
        for item in items:
            emit({label: item})
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
