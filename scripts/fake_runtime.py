#!/usr/bin/env python3
"""A minimal fake AWS Lambda Runtime API on loopback (Python standard library only).

It serves the calls a custom runtime (`bootstrap`) makes:

  GET  /2018-06-01/runtime/invocation/next              -> the next queued event (long poll)
  POST /2018-06-01/runtime/invocation/{id}/response     -> recorded (buffered, or streamed when
                                                            sent with Lambda-Runtime-Function-
                                                            Response-Mode: streaming)
  POST /2018-06-01/runtime/invocation/{id}/error        -> recorded
  POST /2018-06-01/runtime/init/error                   -> recorded

Use it as a module (`FakeRuntime`, `function_url_event`, `lambda_env`) or from the command line,
which starts the runtime, runs a command against it with `AWS_LAMBDA_RUNTIME_API` set, sends each
event file in turn and prints every answer as one JSON line (a streamed answer as the buffered
shape a function URL would give: statusCode, headers, cookies, the body in base64, and
`"streamed": true` beside it):

  scripts/fake_runtime.py --event ev1.json [--event ev2.json] [--deadline-ms N] -- target/release/gateway
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:gateway"


@dataclass
class Invocation:
    request_id: str
    event: bytes
    sent_at: float | None = None  # perf_counter when the event was handed out
    done_at: float | None = None  # perf_counter when the response/error body was fully read
    kind: str | None = None  # "response" or "error"
    body: bytes = b""
    headers: dict = field(default_factory=dict)

    @property
    def streamed(self) -> bool:
        """Whether the function answered with Lambda's response streaming."""
        mode = next((v for k, v in self.headers.items() if k.lower() == "lambda-runtime-function-response-mode"), "")
        return mode.lower() == "streaming"

    def json(self):
        return json.loads(self.body or b"null")

    def streamed_parts(self) -> tuple[dict, bytes]:
        """A streamed answer's metadata prelude (statusCode, headers, cookies) and its body.

        The stream is the prelude as JSON, eight NUL bytes, then the body as raw bytes; JSON
        escapes NUL, so the first eight NULs end the prelude. A stream without them (a function
        that streamed a body alone) is all body, as Lambda then answers 200.
        """
        cut = self.body.find(b"\0" * 8)
        if cut < 0:
            return {}, self.body
        return json.loads(self.body[:cut]), self.body[cut + 8 :]

    def answer(self):
        """The answer in the buffered (payload format 2.0) shape, whichever way it came."""
        if not self.streamed:
            return self.json()
        prelude, body = self.streamed_parts()
        return {
            "statusCode": prelude.get("statusCode", 200),
            "headers": prelude.get("headers", {}),
            "cookies": prelude.get("cookies", []),
            "body": base64.b64encode(body).decode(),
            "isBase64Encoded": True,
        }


class FakeRuntime:
    """One Runtime API server on 127.0.0.1 (a free port unless given)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, deadline_ms: int = 30_000, trace_header: str | None = None
    ):
        self.deadline_ms = deadline_ms
        # Lambda-Runtime-Trace-Id of every invocation (default: a new unsampled root each time).
        self.trace_header = trace_header
        self.cond = threading.Condition()
        self.pending: list[Invocation] = []
        self.invocations: dict[str, Invocation] = {}
        self.first_next_at: float | None = None  # first GET /next: the end of init
        self.init_error: bytes | None = None
        self.closing = False
        runtime = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self, status: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}')
                with runtime.cond:
                    if runtime.first_next_at is None:
                        runtime.first_next_at = time.perf_counter()
                    while not runtime.pending and not runtime.closing:
                        runtime.cond.wait(0.5)
                    if runtime.closing:
                        self.close_connection = True
                        return
                    inv = runtime.pending.pop(0)
                    inv.sent_at = time.perf_counter()
                deadline = int(time.time() * 1000) + runtime.deadline_ms
                self._reply(
                    200,
                    inv.event,
                    {
                        "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                        "Lambda-Runtime-Trace-Id": runtime.trace_header
                        or f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                    },
                )

            def do_POST(self):
                body = self._read_body()
                now = time.perf_counter()
                parts = self.path[len(PREFIX) :].strip("/").split("/")
                if self.path.startswith(PREFIX) and parts == ["init", "error"]:
                    with runtime.cond:
                        runtime.init_error = body
                        runtime.cond.notify_all()
                    return self._reply(202, b'{"status":"OK"}')
                if (
                    self.path.startswith(PREFIX)
                    and len(parts) == 3
                    and parts[0] == "invocation"
                    and parts[2] in ("response", "error")
                ):
                    with runtime.cond:
                        inv = runtime.invocations.get(parts[1])
                        if inv is None:
                            return self._reply(400, b'{"errorType":"InvalidRequestID"}')
                        inv.kind, inv.body, inv.done_at = parts[2], body, now
                        inv.headers = dict(self.headers.items())
                        runtime.cond.notify_all()
                    return self._reply(202, b'{"status":"OK"}')
                return self._reply(404, b'{"errorType":"NotFound"}')

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                # A killed bootstrap drops its connections: not worth a traceback.
                if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    super().handle_error(request, client_address)

        self.server = Server((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def push(self, event, request_id: str | None = None) -> Invocation:
        raw = event if isinstance(event, bytes) else json.dumps(event).encode()
        inv = Invocation(request_id or str(uuid.uuid4()), raw)
        with self.cond:
            self.invocations[inv.request_id] = inv
            self.pending.append(inv)
            self.cond.notify_all()
        return inv

    def wait(self, inv: Invocation, timeout: float) -> bool:
        """Waits until `inv` is answered (or init failed); False on time-out."""
        end = time.monotonic() + timeout
        with self.cond:
            while inv.done_at is None and self.init_error is None:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))
            return inv.done_at is not None

    def close(self):
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


def function_url_event(method: str = "GET", path: str = "/", query: str = "", headers=None, body: bytes | None = None):
    """A payload-format-2.0 event as a function URL sends it."""
    now = time.time()
    hdrs = {
        "host": "abcdefghij.lambda-url.us-east-1.on.aws",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
        "user-agent": "bench/1.0",
        "accept": "*/*",
    }
    hdrs.update(headers or {})
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": hdrs,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": hdrs["host"],
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": hdrs["user-agent"],
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        params: dict[str, list[str]] = {}
        for pair in query.split("&"):
            k, _, v = pair.partition("=")
            params.setdefault(k, []).append(v)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()}
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return event


def lambda_env(runtime_api: str, base=None, **extra) -> dict:
    """The environment Lambda gives a `provided.al2023` function, pointed at `runtime_api`."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": "gateway",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/gateway",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
            "LAMBDA_TASK_ROOT": os.getcwd(),
            "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH": "true",
        }
    )
    env.update(extra)
    return env


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--event", action="append", default=[], help="event JSON file (repeatable); default: GET /__health")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer")
    ap.add_argument("--deadline-ms", type=int, default=30_000, help="each invocation's time budget (Lambda-Runtime-Deadline-Ms)")
    ap.add_argument("--trace-header", help="each invocation's Lambda-Runtime-Trace-Id (X-Ray), e.g. Root=...;Parent=...;Sampled=1")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- the bootstrap command")
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("give the command to run after --")
    events = [open(p, "rb").read() for p in args.event] or [json.dumps(function_url_event("GET", "/__health")).encode()]
    rt = FakeRuntime(deadline_ms=args.deadline_ms, trace_header=args.trace_header)
    proc = subprocess.Popen(cmd, env=lambda_env(rt.address))
    code = 0
    try:
        for raw in events:
            inv = rt.push(raw)
            if not rt.wait(inv, args.timeout):
                what = f"init error: {rt.init_error.decode(errors='replace')}" if rt.init_error else "no answer"
                print(json.dumps({"request_id": inv.request_id, "error": what}))
                code = 1
                break
            seconds = round(inv.done_at - inv.sent_at, 4) if inv.sent_at is not None else None
            line = {"request_id": inv.request_id, "kind": inv.kind, "seconds": seconds, "answer": inv.answer()}
            if inv.streamed:
                line["streamed"] = True
            print(json.dumps(line))
    finally:
        proc.kill()
        proc.wait()
        rt.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
