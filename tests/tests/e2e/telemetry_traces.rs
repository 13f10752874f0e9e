//! Traces end to end: a client's W3C `traceparent` continued through the local server to every
//! backend (each call its own span), the spans exported with OTLP/HTTP JSON to a receiver that
//! decodes them with the official OpenTelemetry protobuf definitions
//! (`scripts/otlp_receiver.py`); a collector that is down, slow or refusing never holding a
//! request up; the registry's metrics exported with OTLP/HTTP JSON every reporting period to
//! the same receiver, decoded as `ExportMetricsServiceRequest`s; and X-Ray in Lambda: an invocation with active tracing sends its trace to every
//! backend with the call as `Parent` and one subsegment per call to a UDP daemon on 127.0.0.1.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tributary_core::telemetry::trace::TraceParent;
use tributary_core::telemetry::xray::{DAEMON_HEADER, XrayDaemon};
use tributary_core::{Gateway, GatewayRequest};
use tributary_e2e::chaos::{self, Backend, Outcome, Served, response};
use tributary_e2e::client::OutRequest;
use tributary_e2e::doors::function_url_event;
use tributary_e2e::lambda::emulator;
use tributary_e2e::process::{TempDir, workspace_root};
use tributary_e2e::record::Recorder;

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
const LIMIT: Duration = Duration::from_secs(10);

/// The OTLP receiver (Python, official protobuf definitions) on 127.0.0.1: its port, and its
/// output lines (one per decoded span, or an error) as they come.
struct Receiver {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    lines: mpsc::Receiver<Value>,
}

impl Receiver {
    fn start() -> Receiver {
        let mut child = Command::new("python3")
            .arg(workspace_root().join("scripts/otlp_receiver.py"))
            .args(["--timeout", "120"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run scripts/otlp_receiver.py (needs python3 and opentelemetry-proto: see scripts/test)");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("the receiver's stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|_| json!({"error": line}));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let first = lines.recv_timeout(Duration::from_secs(30)).expect("the receiver starts and names its port");
        let port = first["port"].as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or_else(|| panic!("{first}"));
        Receiver { child, stdin, port, lines }
    }

    /// Decoded spans until `done` says enough, at most 20 s; panics on a decoding error.
    fn spans_until(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let until = Instant::now() + Duration::from_secs(20);
        let mut spans = Vec::new();
        while !done(&spans) {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.get("span").is_some() => spans.push(line["span"].clone()),
                Ok(line) if line.get("metric").is_some() => {}
                Ok(line) => panic!("the receiver could not decode an export: {line}"),
                Err(_) => panic!("the spans did not arrive within 20 s; got {spans:#?}"),
            }
        }
        spans
    }
}

impl Receiver {
    /// Decoded metric data points until `done` says enough, at most 30 s; panics on a decoding
    /// error. Spans are skipped.
    fn metrics_until(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let until = Instant::now() + Duration::from_secs(30);
        let mut points = Vec::new();
        while !done(&points) {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.get("metric").is_some() => points.push(line["metric"].clone()),
                Ok(line) if line.get("span").is_some() => {}
                Ok(line) => panic!("the receiver could not decode an export: {line}"),
                Err(_) => panic!("the metrics did not arrive within 30 s; got {points:#?}"),
            }
        }
        points
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Closing its stdin stops the receiver; the kill is for one that hangs.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(backends: &[&Recorder], telemetry: Value) -> String {
    let backend: Vec<Value> = backends
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"host": [b.url()], "url_pattern": format!("/part/{i}"), "group": format!("g{i}")}))
        .collect();
    let mut extra = serde_json::Map::new();
    if !telemetry.is_null() {
        extra.insert("telemetry/opentelemetry".into(), telemetry);
    }
    json!({"version": 3, "timeout": "5s", "extra_config": extra, "endpoints": [
        {"endpoint": "/both/{id}", "backend": backend}
    ]})
    .to_string()
}

fn otlp(port: u16) -> Value {
    json!({"exporters": {"otlp": [{"name": "test", "host": "127.0.0.1", "port": port, "use_http": true}]}})
}

fn attr<'a>(span: &'a Value, key: &str) -> &'a Value {
    &span["attributes"][key]
}

/// The `traceparent` each backend received, parsed.
fn received(backend: &Recorder) -> Vec<TraceParent> {
    backend
        .seen()
        .iter()
        .map(|s| {
            let values = s.all("traceparent");
            assert_eq!(values.len(), 1, "exactly one traceparent: {values:?}");
            TraceParent::parse(values[0].as_bytes()).unwrap_or_else(|| panic!("a valid traceparent: {values:?}"))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn get_with(served: &Served, target: &str, headers: &[(&str, &str)]) -> chaos::Reply {
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", served.addr);
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    match chaos::exchange(served.addr, request.as_bytes(), LIMIT).await {
        Some(Outcome::Reply(r)) => r,
        other => panic!("GET {target}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_traceparent_gives_a_server_span_with_one_child_per_backend_call_each_named_in_its_traceparent() {
    let receiver = Receiver::start();
    let (a, b) = (Recorder::start(r#"{"a":1}"#).await, Recorder::start(r#"{"b":2}"#).await);
    let served = Served::start(&config(&[&a, &b], otlp(receiver.port))).await;
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    let reply =
        get_with(&served, "/both/7", &[("traceparent", &traceparent), ("tracestate", "congo=t61rcWkgMzE")]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let spans = receiver.spans_until(|s| s.len() >= 3);
    assert_eq!(spans.len(), 3, "one server span and one per backend call: {spans:#?}");
    let server: Vec<&Value> = spans.iter().filter(|s| s["kind"] == 2).collect();
    assert_eq!(server.len(), 1, "{spans:#?}");
    let server = server[0];
    assert_eq!(server["traceId"], CLIENT_TRACE, "the client's trace is continued");
    assert_eq!(server["parentSpanId"], CLIENT_SPAN, "the client's span is the server span's parent");
    assert_eq!(server["name"], "/both/7");
    assert_eq!(attr(server, "http.route"), "/both/{id}");
    assert_eq!(attr(server, "http.response.status_code"), 200);
    assert_eq!(attr(server, "http.request.method"), "GET");
    assert_eq!(server["status"], 1);
    assert_eq!(server["resource"]["service.name"], "KrakenD");
    let children: Vec<&Value> = spans.iter().filter(|s| s["kind"] == 3).collect();
    assert_eq!(children.len(), 2, "{spans:#?}");
    for child in &children {
        assert_eq!(child["traceId"], CLIENT_TRACE);
        assert_eq!(child["parentSpanId"], server["spanId"], "each backend call is a child of the server span");
        assert_eq!(attr(child, "http.response.status_code"), 200);
        assert_eq!(attr(child, "krakend.endpoint.route"), "/both/{id}");
        let start = child["start"].as_u64().expect("a start");
        let end = child["end"].as_u64().expect("an end");
        assert!(start >= server["start"].as_u64().unwrap() && end <= server["end"].as_u64().unwrap(), "{child}");
    }
    let child_ids: BTreeSet<String> = children.iter().map(|c| c["spanId"].as_str().unwrap().to_owned()).collect();
    assert_eq!(child_ids.len(), 2, "a new span id per call");

    // Each backend got a traceparent in the client's trace naming its own call's span.
    let mut parents = BTreeSet::new();
    for (backend, pattern) in [(&a, "/part/0"), (&b, "/part/1")] {
        let tps = received(backend);
        assert_eq!(tps.len(), 1);
        assert_eq!(hex(&tps[0].trace_id), CLIENT_TRACE);
        assert!(tps[0].sampled);
        let parent = hex(&tps[0].parent_id);
        let span =
            children.iter().find(|c| c["spanId"] == parent.as_str()).expect("the backend's parent is a call span");
        assert_eq!(span["name"], pattern, "the span names the backend it called");
        parents.insert(parent);
        assert_eq!(backend.seen()[0].all("tracestate"), vec!["congo=t61rcWkgMzE"], "tracestate goes on");
    }
    assert_eq!(parents, child_ids);

    // A malformed traceparent (uppercase hex) starts a new trace, recorded at the default rate.
    let bad = format!("00-{}-{CLIENT_SPAN}-01", CLIENT_TRACE.to_uppercase());
    let reply = get_with(&served, "/both/8", &[("traceparent", &bad), ("tracestate", "congo=t61rcWkgMzE")]).await;
    assert_eq!(reply.status, 200);
    let spans = receiver.spans_until(|s| s.len() >= 3);
    let server = spans.iter().find(|s| s["kind"] == 2).expect("a server span");
    assert_ne!(server["traceId"], CLIENT_TRACE);
    assert_eq!(server["parentSpanId"], "", "a new trace has no parent");
    for backend in [&a, &b] {
        let tp = received(backend)[1];
        assert_eq!(hex(&tp.trace_id), server["traceId"].as_str().unwrap(), "the backend is in the new trace");
        assert!(backend.seen()[1].all("tracestate").is_empty(), "the old tracestate is dropped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_rate_zero_backends_get_an_unsampled_context_and_only_a_sampled_client_trace_is_exported() {
    let receiver = Receiver::start();
    let a = Recorder::start(r#"{"a":1}"#).await;
    let mut telemetry = otlp(receiver.port);
    telemetry["trace_sample_rate"] = json!(0.0);
    let mut named: Value = serde_json::from_str(&config(&[&a], telemetry)).expect("JSON");
    named["name"] = json!("orders-gateway");
    let served = Served::start(&named.to_string()).await;
    // No client context at rate 0: not recorded, but the backend still gets a valid context
    // saying so.
    assert_eq!(get_with(&served, "/both/1", &[]).await.status, 200);
    let tp = received(&a)[0];
    assert!(!tp.sampled, "rate 0 records nothing");
    // A sampled client context wins over the rate.
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    assert_eq!(get_with(&served, "/both/2", &[("traceparent", &traceparent)]).await.status, 200);
    let spans = receiver.spans_until(|s| s.len() >= 2);
    assert!(
        spans.iter().all(|s| s["traceId"] == CLIENT_TRACE),
        "only the client's sampled trace is exported: {spans:#?}"
    );
    assert_eq!(spans[0]["resource"]["service.name"], "orders-gateway", "named after the config's `name`");
}

/// A collector that accepts connections and never answers (nor reads).
async fn silent_collector() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_slow_or_refusing_never_slows_or_fails_a_request() {
    let backend = Backend::json(r#"{"ok":true}"#).await;
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (slow, _silent) = silent_collector().await;
    let refusing = Backend::fixed(response("HTTP/1.1 503 Service Unavailable", &[], b"busy")).await;
    for (what, port, requests) in [("down", down, 300), ("refusing", refusing.addr.port(), 300), ("slow", slow, 2000)] {
        let config = json!({"version": 3, "timeout": "5s",
            "extra_config": {"telemetry/opentelemetry": otlp(port)},
            "endpoints": [{"endpoint": "/x", "backend": [{"host": [backend.url()], "url_pattern": "/"}]}]})
        .to_string();
        let gateway = Gateway::from_json(&config).expect("config");
        let started = Instant::now();
        for i in 0..requests {
            let mut req = GatewayRequest::new(http::Method::GET, "/x");
            req.headers.insert("traceparent", format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01").parse().unwrap());
            let resp = tokio::time::timeout(LIMIT, gateway.handle(req))
                .await
                .unwrap_or_else(|_| panic!("{what}: request {i} held up by the collector"));
            assert_eq!(resp.status, 200, "{what}: request {i}");
        }
        // Generous: only a request waiting on the collector's 10 s export timeout would pass it.
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: {requests} requests took {:?}",
            started.elapsed()
        );
        if what == "slow" {
            // The exporter is stuck on its first batch: the queue filled, and the rest was dropped.
            assert!(gateway.traces_dropped() > 0, "a full queue drops (memory stays bounded)");
            assert!(gateway.traces_dropped() < requests, "the queue took some");
        }
    }
}

/// A UDP "daemon" on 127.0.0.1: every datagram received within `wait`.
fn datagrams(socket: &UdpSocket, want: usize, wait: Duration) -> Vec<Vec<u8>> {
    let until = Instant::now() + wait;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while out.len() < want {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left)).expect("timeout");
        match socket.recv(&mut buf) {
            Ok(n) => out.push(buf[..n].to_vec()),
            Err(_) => break,
        }
    }
    out
}

fn lambda_request(path: &str, trace_header: &str) -> lambda_http::Request {
    let out = OutRequest {
        method: "GET".into(),
        target: path.into(),
        headers: vec![("Host".into(), "abc.lambda-url.us-east-1.on.aws".into())],
        body: None,
    };
    let request = lambda_http::request::from_str(&function_url_event(&out).expect("an event")).expect("an event");
    let mut context = lambda_http::Context::default();
    context.xray_trace_id = Some(trace_header.to_owned());
    lambda_http::RequestExt::with_lambda_context(request, context)
}

fn is_hex(v: &Value, len: usize) -> bool {
    v.as_str().is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_x_ray_daemon_that_is_down_costs_invocations_nothing() {
    // Nothing listens on the daemon's port: the kernel refuses the datagrams (ICMP port
    // unreachable, then ECONNREFUSED on the connected socket), and every answer is still whole.
    let closed = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let daemon = XrayDaemon::new(Some(addr));
    let a = Recorder::start(r#"{"a":1}"#).await;
    let gateway = Gateway::from_json(&config(&[&a], Value::Null)).expect("config");
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    for i in 0..20 {
        let call = tributary_functions::lambda::handle_with_xray(
            &gateway,
            || &daemon,
            lambda_request(&format!("/both/{i}"), header),
        );
        let Ok(Ok(resp)) = tokio::time::timeout(LIMIT, call).await else {
            panic!("invocation {i} did not answer within {LIMIT:?} with the daemon down");
        };
        assert_eq!(resp.status(), 200, "invocation {i}");
    }
    assert_eq!(a.seen().len(), 20, "every invocation reached the backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_lambda_a_sampled_invocation_sends_each_backend_call_as_a_subsegment_named_in_its_header() {
    let daemon_socket = UdpSocket::bind("127.0.0.1:0").expect("bind the daemon");
    let daemon = XrayDaemon::new(Some(daemon_socket.local_addr().expect("addr")));
    let (a, b) = (Recorder::start(r#"{"a":1}"#).await, Recorder::start(r#"{"b":2}"#).await);
    // No telemetry configured at all: X-Ray follows the invocation's own header.
    let gateway = Gateway::from_json(&config(&[&a, &b], Value::Null)).expect("config");
    let root = "1-5759e988-bd862e3fe1be46a994272793";
    let facade = "53995c3f42cd8ad8";
    let header = format!("Root={root};Parent={facade};Sampled=1");
    let Ok(resp) =
        tributary_functions::lambda::handle_with_xray(&gateway, || &daemon, lambda_request("/both/1", &header)).await;
    assert_eq!(resp.status(), 200);

    let docs: Vec<Value> = datagrams(&daemon_socket, 2, LIMIT)
        .iter()
        .map(|d| {
            assert!(d.starts_with(DAEMON_HEADER), "the daemon's header line first: {}", String::from_utf8_lossy(d));
            serde_json::from_slice(&d[DAEMON_HEADER.len()..]).expect("a JSON segment document")
        })
        .collect();
    assert_eq!(docs.len(), 2, "one subsegment per backend call: {docs:#?}");
    let mut ids = BTreeSet::new();
    for doc in &docs {
        assert_eq!(doc["type"], "subsegment", "{doc}");
        assert!(is_hex(&doc["id"], 16), "{doc}");
        assert_eq!(doc["trace_id"], root, "{doc}");
        assert_eq!(doc["parent_id"], facade, "the function's segment is the parent: {doc}");
        let name = doc["name"].as_str().expect("a name");
        assert!(!name.is_empty() && name.len() <= 200, "{doc}");
        let (start, end) =
            (doc["start_time"].as_f64().expect("start_time"), doc["end_time"].as_f64().expect("end_time"));
        assert!(start > 1.6e9 && end >= start, "epoch seconds: {doc}");
        assert_eq!(doc["namespace"], "remote");
        assert_eq!(doc["http"]["request"]["method"], "GET");
        let url = doc["http"]["request"]["url"].as_str().expect("a url");
        assert!(url.starts_with(&a.url()) || url.starts_with(&b.url()), "{doc}");
        assert_eq!(doc["http"]["response"]["status"], 200);
        assert!(doc.get("fault").is_none() && doc.get("in_progress").is_none(), "{doc}");
        ids.insert(doc["id"].as_str().unwrap().to_owned());
    }
    // Each backend received the trace with its own call's subsegment as Parent.
    let mut parents = BTreeSet::new();
    for backend in [&a, &b] {
        let seen = backend.seen();
        let values = seen[0].all("x-amzn-trace-id");
        assert_eq!(values.len(), 1, "{values:?}");
        let fields: Vec<&str> = values[0].split(';').collect();
        assert_eq!(fields[0], format!("Root={root}"));
        assert_eq!(fields[2], "Sampled=1");
        let parent = fields[1].strip_prefix("Parent=").expect("a Parent");
        parents.insert(parent.to_owned());
    }
    assert_eq!(parents, ids, "the ids the backends received are the subsegments' ids");

    // Not sampled: the decision travels on, and nothing is sent to the daemon.
    let header = format!("Root={root};Parent={facade};Sampled=0");
    let Ok(resp) =
        tributary_functions::lambda::handle_with_xray(&gateway, || &daemon, lambda_request("/both/2", &header)).await;
    assert_eq!(resp.status(), 200);
    for backend in [&a, &b] {
        assert_eq!(backend.seen()[1].all("x-amzn-trace-id"), vec![header.as_str()]);
    }
    assert!(
        datagrams(&daemon_socket, 1, Duration::from_millis(500)).is_empty(),
        "an unsampled invocation reports nothing"
    );
}

/// The `tributary` binary serving `config` on a free port of 127.0.0.1, its stderr (the log)
/// collected; killed on drop.
struct Tributary {
    addr: std::net::SocketAddr,
    child: Child,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _config: std::path::PathBuf,
}

impl Tributary {
    fn start(config: &str) -> Tributary {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("tributary-traces-{}-{n}.json", std::process::id()));
        std::fs::write(&path, config).expect("write the config");
        let port = tributary_e2e::process::free_port();
        let mut child = Command::new(tributary_e2e::process::tributary_bin())
            .args(["run", "-c"])
            .arg(&path)
            .args(["-p", &port.to_string()])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tributary");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < until, "tributary did not listen within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Tributary { addr, child, log, _config: path }
    }
}

impl Drop for Tributary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self._config);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_is_warned_about_once_per_interval_not_per_export() {
    let backend = Backend::json(r#"{"ok":true}"#).await;
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let config = json!({"version": 3, "timeout": "5s",
        "extra_config": {"telemetry/opentelemetry": otlp(down)},
        "endpoints": [{"endpoint": "/x", "backend": [{"host": [backend.url()], "url_pattern": "/"}]}]})
    .to_string();
    let gateway = Tributary::start(&config);
    // Three rounds more than a batch delay (1 s) apart: three failed exports.
    for _ in 0..3 {
        for _ in 0..5 {
            let reply = chaos::get(gateway.addr, "/x", LIMIT).await;
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let log = gateway.log.lock().expect("log lock").clone();
    let warnings: Vec<&String> = log.iter().filter(|l| l.contains("OTLP trace export")).collect();
    assert_eq!(warnings.len(), 1, "one warning for the interval, not one per failed export: {log:#?}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
    assert!(warnings[0].contains(&format!("127.0.0.1:{down}")), "it names the collector: {}", warnings[0]);
}

#[test]
fn through_the_runtime_api_a_sampled_invocation_reports_to_the_daemon_of_aws_xray_daemon_address() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
    let (a, b) = rt.block_on(async { (Recorder::start(r#"{"a":1}"#).await, Recorder::start(r#"{"b":2}"#).await) });
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("bind the daemon");
    let dir = TempDir::new("xray");
    let config_path = dir.write("krakend.json", config(&[&a, &b], Value::Null));
    let event = OutRequest {
        method: "GET".into(),
        target: "/both/1".into(),
        headers: vec![("Host".into(), "abc.lambda-url.us-east-1.on.aws".into())],
        body: None,
    };
    let event_path = dir.write("event.json", function_url_event(&event).expect("an event"));
    let root = "1-5759e988-bd862e3fe1be46a994272793";
    let header = format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1");
    let out = emulator(&config_path, &["--timeout", "15", "--trace-header", &header], &[event_path])
        .env("AWS_XRAY_DAEMON_ADDRESS", daemon.local_addr().expect("addr").to_string())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the Runtime API emulator");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "emulator failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("\"statusCode\": 200") || stdout.contains("\"statusCode\":200"), "{stdout}");
    let docs: Vec<Value> = datagrams(&daemon, 2, LIMIT)
        .iter()
        .map(|d| serde_json::from_slice(&d[DAEMON_HEADER.len()..]).expect("a segment document"))
        .collect();
    assert_eq!(docs.len(), 2, "{docs:#?}");
    let ids: BTreeSet<String> = docs.iter().map(|d| d["id"].as_str().expect("an id").to_owned()).collect();
    let parents: BTreeSet<String> = [&a, &b]
        .iter()
        .map(|r| {
            let seen = r.seen();
            let value = seen[0].all("x-amzn-trace-id")[0].to_owned();
            assert!(value.starts_with(&format!("Root={root};Parent=")) && value.ends_with(";Sampled=1"), "{value}");
            value.split(';').nth(1).and_then(|p| p.strip_prefix("Parent=")).expect("a Parent").to_owned()
        })
        .collect();
    assert_eq!(ids, parents);
    assert!(docs.iter().all(|d| d["trace_id"] == root && d["parent_id"] == "53995c3f42cd8ad8"), "{docs:#?}");
    drop(rt);
}

/// The points of metric `name` in the latest export that has it, keyed by the attributes
/// `keys` (as text).
fn latest(points: &[Value], name: &str, keys: &[&str]) -> std::collections::BTreeMap<Vec<String>, Value> {
    let of_name: Vec<&Value> = points.iter().filter(|p| p["name"] == name).collect();
    let Some(time) = of_name.iter().filter_map(|p| p["time"].as_u64()).max() else {
        return Default::default();
    };
    of_name
        .into_iter()
        .filter(|p| p["time"].as_u64() == Some(time))
        .map(|p| (keys.iter().map(|k| p["attributes"][*k].to_string()).collect(), p.clone()))
        .collect()
}

fn server_counts(points: &[Value]) -> std::collections::BTreeMap<Vec<String>, u64> {
    latest(points, "http.server.duration", &["http.route", "http.response.status_code", "http.request.method"])
        .into_iter()
        .map(|(k, p)| (k, p["count"].as_u64().unwrap_or(0)))
        .collect()
}

fn key(route: &str, status: u16, method: &str) -> Vec<String> {
    vec![json!(route).to_string(), status.to_string(), json!(method).to_string()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_metrics_carry_the_request_counts_per_route_and_status_every_reporting_period() {
    let receiver = Receiver::start();
    let ok = Backend::json(r#"{"ok":true}"#).await;
    let failing = Backend::fixed(response("HTTP/1.1 503 Service Unavailable", &[], b"busy")).await;
    let config = json!({"version": 3, "timeout": "5s", "name": "metrics-gateway",
    "extra_config": {"telemetry/opentelemetry": {
        "metric_reporting_period": 1,
        "exporters": {"otlp": [{"name": "test", "host": "127.0.0.1", "port": receiver.port, "use_http": true,
                                "disable_traces": true}]}}},
    "endpoints": [
        {"endpoint": "/a", "backend": [{"host": [ok.url()], "url_pattern": "/ok"}]},
        {"endpoint": "/b/{id}", "backend": [{"host": [failing.url()], "url_pattern": "/fail/{id}"}]}
    ]})
    .to_string();
    let gateway = Tributary::start(&config);
    let mut want = std::collections::BTreeMap::new();
    for (target, route, n) in [("/a", "/a", 5), ("/b/1", "/b/:id", 3), ("/nowhere", "", 2)] {
        for _ in 0..n {
            let reply = chaos::get(gateway.addr, target, LIMIT).await;
            let route = if route.is_empty() { format!("{} Not Found", reply.status) } else { route.to_owned() };
            *want.entry(key(&route, reply.status, "GET")).or_insert(0u64) += 1;
        }
    }
    assert_eq!(want.get(&key("/a", 200, "GET")), Some(&5), "{want:?}");
    assert_eq!(want.values().sum::<u64>(), 10);
    assert!(
        want.keys().any(|k| k[0] == "\"/b/:id\"" && k[1] != "200"),
        "the failing backend's endpoint fails: {want:?}"
    );

    let matched = receiver.metrics_until(|p| server_counts(p) == want);
    let export_time =
        |p: &[Value]| p.iter().filter(|m| m["name"] == "http.server.duration").filter_map(|m| m["time"].as_u64()).max();
    let first = export_time(&matched);
    // The rest of that export comes before any point of the next one.
    let mut seen = matched;
    seen.extend(receiver.metrics_until(|p| p.iter().any(|m| m["time"].as_u64() > first)));
    let points: Vec<Value> = seen.iter().filter(|m| m["time"].as_u64() == first).cloned().collect();
    // Cumulative: a later export repeats the totals (no request came in between).
    let mut later: Vec<Value> = seen.into_iter().filter(|m| m["time"].as_u64() > first).collect();
    let more = receiver.metrics_until(|p| server_counts(&[later.as_slice(), p].concat()) == want);
    later.extend(more);
    assert!(export_time(&later) > first, "a later export with the same totals");

    let server = latest(&points, "http.server.duration", &["http.route"]);
    let a = &server[&vec![json!("/a").to_string()]];
    assert_eq!(a["type"], "histogram");
    assert_eq!(a["temporality"], 2, "cumulative");
    assert_eq!(a["scope"], "io.krakend.krakend-otel");
    assert_eq!(a["resource"]["service.name"], "metrics-gateway");
    assert_eq!(a["attributes"]["url.scheme"], "http");
    assert_eq!(a["explicitBounds"][0], 0.01);
    assert_eq!(a["explicitBounds"].as_array().map(Vec::len), Some(20));
    assert!(a["sum"].as_f64().is_some_and(|s| s > 0.0), "{a}");
    assert!(a["start"].as_u64() < a["time"].as_u64(), "{a}");

    // The proxy and backend layers, per endpoint and per backend.
    let proxy = latest(&points, "krakend.proxy.duration", &["http.route"]);
    let proxy_count = |route: &str| -> u64 {
        let route = json!(route).to_string();
        proxy.iter().filter(|(k, _)| k[0] == route).map(|(_, p)| p["count"].as_u64().unwrap()).sum()
    };
    assert_eq!((proxy_count("/a"), proxy_count("/b/:id")), (5, 3), "{proxy:#?}");
    let started = latest(&points, "http.client.request.started.count", &["http.route", "http.response.status_code"]);
    let started: Vec<(Vec<String>, u64, bool)> = started
        .into_iter()
        .map(|(k, p)| (k, p["value"].as_u64().unwrap_or(0), p["monotonic"].as_bool().unwrap_or(false)))
        .collect();
    assert_eq!(
        started,
        vec![
            (vec![json!("/fail/:id").to_string(), "503".to_owned()], 3, true),
            (vec![json!("/ok").to_string(), "200".to_owned()], 5, true),
        ]
    );
    let client = latest(&points, "http.client.duration", &["krakend.endpoint.route"]);
    assert_eq!(client[&vec![json!("/a").to_string()]]["count"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_collector_that_is_down_or_silent_costs_requests_nothing_and_is_warned_about_once() {
    let backend = Backend::json(r#"{"ok":true}"#).await;
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (silent, _held) = silent_collector().await;
    let config = json!({"version": 3, "timeout": "5s",
        "extra_config": {"telemetry/opentelemetry": {
            "metric_reporting_period": 1,
            "exporters": {"otlp": [
                {"name": "down", "host": "127.0.0.1", "port": down, "use_http": true, "disable_traces": true},
                {"name": "silent", "host": "127.0.0.1", "port": silent, "use_http": true, "disable_traces": true}
            ]}}},
        "endpoints": [{"endpoint": "/x", "backend": [{"host": [backend.url()], "url_pattern": "/"}]}]})
    .to_string();
    let gateway = Tributary::start(&config);
    // Requests across three reporting periods: three failed exports to the down collector, one
    // export stuck on the silent one.
    let until = Instant::now() + Duration::from_millis(3500);
    let mut sent = 0;
    while Instant::now() < until {
        let reply = chaos::get(gateway.addr, "/x", LIMIT).await;
        assert_eq!(reply.status, 200, "request {sent}: {}", reply.text());
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sent > 20, "requests kept being answered: {sent}");
    let log = gateway.log.lock().expect("log lock").clone();
    let warnings: Vec<&String> =
        log.iter().filter(|l| l.contains("OTLP metric export") && l.contains(&format!("127.0.0.1:{down}"))).collect();
    assert_eq!(warnings.len(), 1, "one warning for the interval, not one per failed export: {log:#?}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
}
