//! Metrics through the local server, as a whole `tributary run` process on 127.0.0.1: `/__stats`
//! in krakend-metrics' shape with the counts of the requests sent, a real Prometheus server
//! (Debian's `prometheus`) scraping the OpenTelemetry exporter and reporting the requests per
//! endpoint and status through its query API, bounded series whatever paths clients send, and a
//! metrics port already taken stopping start-up with the key that asks for it. Also the Lambda
//! door's CloudWatch EMF lines, in process, checked against the EMF specification.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tributary_e2e::chaos::{self, Backend, response};
use tributary_e2e::lambda::{answers_and_logs, demo_config, emulator, event_files, events_dir, read_event};
use tributary_e2e::process::{GatewayProcess as Gateway, TempDir, free_port, tributary_bin};

/// At most this long for one HTTP exchange.
const LIMIT: Duration = Duration::from_secs(10);

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(addr: &SocketAddr, proc: &mut Proc, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = proc.0.try_wait() {
            panic!("{what} exited before listening on {addr}: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {addr} within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn get_json(addr: SocketAddr, target: &str) -> Value {
    let r = chaos::get(addr, target, LIMIT).await;
    assert_eq!(r.status, 200, "GET {target}: {}", r.text());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("GET {target}: not JSON ({e}): {}", r.text()))
}

fn config(backend: &Backend, failing: &Backend, telemetry: &str) -> String {
    format!(
        r#"{{"version": 3, "timeout": "3s", "host": ["{ok}"],
            "extra_config": {{ {telemetry} }},
            "endpoints": [
              {{"endpoint": "/users/{{id}}", "backend": [{{"url_pattern": "/users/{{id}}"}}]}},
              {{"endpoint": "/orders", "method": "POST", "backend": [{{"url_pattern": "/orders"}}]}},
              {{"endpoint": "/broken", "backend": [{{"host": ["{bad}"], "url_pattern": "/broken"}}]}}
            ]}}"#,
        ok = backend.url(),
        bad = failing.url()
    )
}

async fn backends() -> (Backend, Backend) {
    let ok = Backend::json(r#"{"id": 1}"#).await;
    let bad = Backend::fixed(response("HTTP/1.1 500 Internal Server Error", &[], b"{}")).await;
    (ok, bad)
}

/// Sends `n` requests of `method target`; returns how many got each status.
async fn send(addr: SocketAddr, method: &str, target: &str, n: usize) -> BTreeMap<u16, u64> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let req =
            format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        match chaos::exchange(addr, req.as_bytes(), LIMIT).await {
            Some(chaos::Outcome::Reply(r)) => *seen.entry(r.status).or_default() += 1,
            other => panic!("{method} {target}: {other:?}"),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_answers_in_krakend_shape_with_the_counts_of_the_requests_sent() {
    let (ok, bad) = backends().await;
    let stats = free_port();
    let gw = Gateway::start(&config(
        &ok,
        &bad,
        &format!(r#""telemetry/metrics": {{"listen_address": "127.0.0.1:{stats}"}}"#),
    ));
    let users = send(gw.addr, "GET", "/users/7", 7).await;
    let orders = send(gw.addr, "POST", "/orders", 3).await;
    let broken = send(gw.addr, "GET", "/broken", 2).await;
    assert_eq!(users, BTreeMap::from([(200, 7)]));
    assert_eq!(orders, BTreeMap::from([(200, 3)]));
    let broken_status = *broken.keys().next().expect("a status");
    assert_eq!(broken.len(), 1, "{broken:?}");

    let r = chaos::get(local(stats), "/__stats", LIMIT).await;
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    let text = r.text();
    let doc: serde_json::Map<String, Value> = serde_json::from_slice(&r.body).expect("a JSON object");
    // expvar's layout: flat dotted keys, sorted (serde_json keeps the order read).
    let keys: Vec<&String> = doc.keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "keys are not sorted:\n{text}");
    assert!(doc.values().all(|v| v.is_number() || v.is_array()), "not flat:\n{text}");
    assert!(doc["cmdline"].is_array());

    let n = |k: &str| doc.get(k).and_then(Value::as_i64).unwrap_or_else(|| panic!("no {k} in:\n{text}"));
    // The router layer: endpoints named as lura hands them to gin (`{id}` → `:id`).
    assert_eq!(n("krakend.router.response./users/:id.status.200.count"), 7);
    assert_eq!(n("krakend.router.response./users/:id.status"), 0);
    assert_eq!(n("krakend.router.response./users/:id.time.count"), 7);
    assert_eq!(n("krakend.router.response./users/:id.size.count"), 7);
    assert_eq!(n("krakend.router.response./orders.status.200.count"), 3);
    assert_eq!(n(&format!("krakend.router.response./broken.status.{broken_status}.count")), 2);
    assert_eq!(n("krakend.router.connected"), 12);
    assert_eq!(n("krakend.router.disconnected"), 12);
    // The pipe layer, by completeness and error, every combination present.
    assert_eq!(n("krakend.proxy.requests.layer.pipe.name./users/:id.complete.true.error.false"), 7);
    assert_eq!(n("krakend.proxy.requests.layer.pipe.name./users/:id.complete.false.error.true"), 0);
    assert_eq!(n("krakend.proxy.latency.layer.pipe.name./users/:id.complete.true.error.false.count"), 7);
    assert_eq!(n("krakend.proxy.requests.layer.pipe.name./broken.complete.false.error.true"), 2);
    // The backend layer, in the same registry, named by lura's rewritten url_pattern.
    assert_eq!(n("krakend.proxy.requests.layer.backend.name./users/{{.Id}}.complete.true.error.false"), 7);
    assert_eq!(n("krakend.proxy.requests.layer.backend.name./broken.complete.false.error.true"), 2);
    // A latency histogram in nanoseconds, with go-metrics' fields.
    let time = "krakend.router.response./users/:id.time";
    for field in [
        "min",
        "max",
        "mean",
        "std-dev",
        "50-percentile",
        "75-percentile",
        "95-percentile",
        "99-percentile",
        "999-percentile",
    ] {
        assert!(doc[&format!("{time}.{field}")].is_number(), "{field}");
    }
    let (min, max, p50) = (
        doc[&format!("{time}.min")].as_f64().unwrap(),
        doc[&format!("{time}.max")].as_f64().unwrap(),
        doc[&format!("{time}.50-percentile")].as_f64().unwrap(),
    );
    assert!(min > 1_000.0 && min <= p50 && p50 <= max && max < 10e9, "{min} {p50} {max}");

    // gin's redirect for a trailing slash, and nothing else is served there.
    assert_eq!(chaos::get(local(stats), "/__stats/", LIMIT).await.status, 301);
    assert_eq!(chaos::get(local(stats), "/metrics", LIMIT).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disabled_layers_are_left_out_and_collection_time_rolls_the_window() {
    let (ok, bad) = backends().await;
    let stats = free_port();
    let gw = Gateway::start(&config(
        &ok,
        &bad,
        &format!(
            r#""telemetry/metrics": {{"listen_address": "127.0.0.1:{stats}", "collection_time": "1s", "router_disabled": true, "backend_disabled": true}}"#
        ),
    ));
    send(gw.addr, "GET", "/users/1", 4).await;
    let doc = get_json(local(stats), "/__stats").await;
    let keys: Vec<&String> = doc.as_object().expect("an object").keys().collect();
    assert!(!keys.iter().any(|k| k.starts_with("krakend.router.response.")), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains(".layer.backend.")), "{keys:?}");
    let pipe = "krakend.proxy.requests.layer.pipe.name./users/:id.complete.true.error.false";
    assert_eq!(doc[pipe], 4);

    // Within a generous bound, a collection happens: the totals take the window's requests and
    // the next empty window leaves the latency histogram's count at zero.
    let latency = "krakend.proxy.latency.layer.pipe.name./users/:id.complete.true.error.false.count";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let doc = get_json(local(stats), "/__stats").await;
        if doc["krakend.router.connected-total"] == 4 && doc[latency] == 0 {
            assert_eq!(doc[pipe], 4, "counters stay cumulative");
            assert_eq!(doc["krakend.router.connected"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "no collection within 20 s: {doc}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_disabled_collects_but_serves_no_stats() {
    let (ok, bad) = backends().await;
    let stats = free_port();
    let gw = Gateway::start(&config(
        &ok,
        &bad,
        &format!(r#""telemetry/metrics": {{"listen_address": "127.0.0.1:{stats}", "endpoint_disabled": true}}"#),
    ));
    assert_eq!(send(gw.addr, "GET", "/users/1", 1).await, BTreeMap::from([(200, 1)]));
    assert!(TcpStream::connect_timeout(&local(stats), Duration::from_secs(2)).is_err(), "/__stats is served");
}

/// Series identities (name and labels, no value) of a Prometheus text exposition.
fn series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').map_or(l, |(s, _)| s).to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_paths_and_header_values_never_create_new_series() {
    let (ok, bad) = backends().await;
    let (stats, prom) = (free_port(), free_port());
    let gw = Gateway::start(&config(
        &ok,
        &bad,
        &format!(
            r#""telemetry/metrics": {{"listen_address": "127.0.0.1:{stats}"}},
               "telemetry/opentelemetry": {{"exporters": {{"prometheus": [{{"name": "p", "port": {prom}, "host": "127.0.0.1"}}]}}}},
               "telemetry/opencensus": {{"exporters": {{"prometheus": {{"port": {oc}, "namespace": "krakend", "tag_path": true, "tag_method": true, "tag_statuscode": true}}}}}}"#,
            oc = free_port()
        ),
    ));
    // One of each kind first: a matched path, an unmatched one.
    send(gw.addr, "GET", "/users/1", 1).await;
    send(gw.addr, "GET", "/nothing/here", 1).await;
    let before_otel = series(&chaos::get(local(prom), "/metrics", LIMIT).await.text_full());
    let before_stats: BTreeSet<String> =
        get_json(local(stats), "/__stats").await.as_object().unwrap().keys().cloned().collect();
    for i in 0..150 {
        let r = fastrand::u64(..);
        send(gw.addr, "GET", &format!("/users/{r:x}{i}"), 1).await;
        send(gw.addr, "GET", &format!("/random/{r:x}/{i}?q={r}"), 1).await;
    }
    // Random header values (the Host, a client address, any header) on a matched path: none of
    // them is a label either.
    for i in 0..50 {
        let r = fastrand::u64(..);
        let req = format!(
            "GET /users/{i} HTTP/1.1\r\nHost: h{r:x}.example\r\nX-Forwarded-For: 10.{}.{}.{}\r\nUser-Agent: ua-{r:x}\r\nX-Random-{i}: {r}\r\nConnection: close\r\n\r\n",
            r % 256,
            (r >> 8) % 256,
            (r >> 16) % 256
        );
        match chaos::exchange(gw.addr, req.as_bytes(), LIMIT).await {
            Some(chaos::Outcome::Reply(reply)) => assert_eq!(reply.status, 200, "request {i}"),
            other => panic!("request {i}: {other:?}"),
        }
    }
    let after = chaos::get(local(prom), "/metrics", LIMIT).await.text_full();
    assert_eq!(series(&after), before_otel, "new series after random paths:\n{after}");
    let after_stats: BTreeSet<String> =
        get_json(local(stats), "/__stats").await.as_object().unwrap().keys().cloned().collect();
    assert_eq!(after_stats, before_stats);
    // And the counts did grow: the random requests are in the two series.
    assert!(after.contains(r#"http_route="/users/:id",otel_scope_name="io.krakend.krakend-otel",otel_scope_version="",url_scheme="http"} 201"#), "{after}");
    assert!(after.contains(r#"http_route="404 Not Found""#), "{after}");
}

trait FullText {
    fn text_full(&self) -> String;
}

impl FullText for chaos::Reply {
    fn text_full(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `tributary run` expected to fail at start: its exit status and standard error.
fn failed_start(config: &str) -> (std::process::ExitStatus, String) {
    let dir = TempDir::new("metrics-fail");
    let path = dir.path().join("krakend.json");
    std::fs::write(&path, config).expect("write the config");
    let mut child = Proc(
        Command::new(tributary_bin())
            .args(["run", "-c"])
            .arg(&path)
            .args(["-p", &free_port().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tributary"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait for tributary") {
            break s;
        }
        assert!(Instant::now() < deadline, "tributary kept running with a metrics port in use");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child.0.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
    (status, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_port_in_use_stops_start_up_with_an_error_naming_the_key() {
    let (ok, bad) = backends().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let port = taken.local_addr().expect("its address").port();

    let (status, err) = failed_start(&config(
        &ok,
        &bad,
        &format!(
            r#""telemetry/opentelemetry": {{"exporters": {{"prometheus": [{{"name": "p", "port": {port}, "host": "127.0.0.1"}}]}}}}"#
        ),
    ));
    assert!(!status.success(), "{status}");
    assert!(err.contains("extra_config.telemetry/opentelemetry.exporters.prometheus[0].port"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");

    let (status, err) =
        failed_start(&config(&ok, &bad, &format!(r#""telemetry/metrics": {{"listen_address": "127.0.0.1:{port}"}}"#)));
    assert!(!status.success(), "{status}");
    assert!(err.contains("extra_config.telemetry/metrics.listen_address"), "{err}");

    let (status, err) = failed_start(&config(
        &ok,
        &bad,
        &format!(r#""telemetry/opencensus": {{"exporters": {{"prometheus": {{"port": {port}}}}}}}"#),
    ));
    // OpenCensus's exporter listens on every interface: the port held on 127.0.0.1 clashes.
    assert!(!status.success(), "{status}");
    assert!(err.contains("extra_config.telemetry/opencensus.exporters.prometheus.port"), "{err}");
    drop(taken);
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus server
// ---------------------------------------------------------------------------------------------

/// Debian's `prometheus` on 127.0.0.1, scraping `target` every second, with its own storage.
struct PrometheusServer {
    addr: SocketAddr,
    _proc: Proc,
    _dir: TempDir,
}

impl PrometheusServer {
    async fn start(target: SocketAddr) -> PrometheusServer {
        let bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .expect("the `prometheus` binary (Debian package `prometheus`; scripts/test installs it)");
        let dir = TempDir::new("metrics-prom");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: tributary\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let mut proc = Proc(child);
        let addr = local(port);
        wait_for(&addr, &mut proc, "prometheus");
        // Prometheus listens before its storage is open, and answers every query 503 until then.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = chaos::get(addr, "/-/ready", LIMIT).await;
            if ready.status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "prometheus not ready within 30 s: {} {}", ready.status, ready.text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        PrometheusServer { addr, _proc: proc, _dir: dir }
    }

    /// An instant query's result: each series' labels and value.
    async fn query(&self, promql: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let target = format!("/api/v1/query?query={}", utf8_percent_encode(promql, NON_ALPHANUMERIC));
        let doc = get_json(self.addr, &target).await;
        assert_eq!(doc["status"], "success", "{doc}");
        doc["data"]["result"]
            .as_array()
            .expect("a vector")
            .iter()
            .map(|s| {
                let labels = s["metric"]
                    .as_object()
                    .expect("labels")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect();
                let value = s["value"][1].as_str().and_then(|v| v.parse().ok()).expect("a value");
                (labels, value)
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prometheus_server_counts_the_requests_sent_per_endpoint_and_status() {
    let (ok, bad) = backends().await;
    let exporter = free_port();
    let gw = Gateway::start(&config(
        &ok,
        &bad,
        &format!(
            r#""telemetry/opentelemetry": {{"service_name": "metrics-test", "exporters": {{"prometheus": [{{"name": "local", "port": {exporter}, "host": "127.0.0.1", "process_metrics": true}}]}}}}"#
        ),
    ));
    let prom = PrometheusServer::start(local(exporter)).await;
    let mut expected: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut tally = |route: &str, seen: BTreeMap<u16, u64>| {
        for (status, n) in seen {
            *expected.entry((route.to_owned(), status.to_string())).or_default() += n as f64;
        }
    };
    tally("/users/:id", send(gw.addr, "GET", "/users/42", 9).await);
    tally("/orders", send(gw.addr, "POST", "/orders", 4).await);
    tally("/broken", send(gw.addr, "GET", "/broken", 3).await);
    tally("404 Not Found", send(gw.addr, "GET", "/no/such/route", 2).await);
    assert_eq!(expected.len(), 4, "{expected:?}");

    let promql = r#"sum by (http_route, http_response_status_code) (http_server_duration_count{job="tributary"})"#;
    let deadline = Instant::now() + Duration::from_secs(60);
    let got = loop {
        let got: BTreeMap<(String, String), f64> = prom
            .query(promql)
            .await
            .into_iter()
            .map(|(l, v)| ((l["http_route"].clone(), l["http_response_status_code"].clone()), v))
            .collect();
        if got == expected || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(got, expected, "Prometheus' counts per endpoint and status");

    // The backend layers, with KrakenD's labels.
    let backend = prom
        .query(
            r#"sum by (http_route, krakend_endpoint_route, error) (krakend_backend_duration_count{job="tributary"})"#,
        )
        .await;
    let find = |route: &str| {
        backend
            .iter()
            .find(|(l, _)| l["http_route"] == route)
            .map(|(l, v)| (l["krakend_endpoint_route"].clone(), l["error"].clone(), *v))
    };
    assert_eq!(find("/users/:id"), Some(("/users/:id".to_owned(), "false".to_owned(), 9.0)));
    assert_eq!(find("/broken"), Some(("/broken".to_owned(), "true".to_owned(), 3.0)));
    // `process_metrics`: the gateway process' own figures, as the Go client's collector names them.
    let rss = prom.query(r#"process_resident_memory_bytes{job="tributary"}"#).await;
    assert!(rss.first().is_some_and(|(_, v)| *v > 1e6), "{rss:?}");
    let info = prom.query(r#"target_info{job="tributary"}"#).await;
    assert_eq!(info.first().map(|(l, _)| l["service_name"].as_str()), Some("metrics-test"));
}

// ---------------------------------------------------------------------------------------------
// CloudWatch EMF lines (Lambda)
// ---------------------------------------------------------------------------------------------

/// The units CloudWatch accepts for a metric (the EMF specification's `MetricUnit` pattern).
const EMF_UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one log line against every rule of the CloudWatch Embedded Metric Format
/// specification (and the limits AWS's EMF libraries enforce): the line is one JSON object;
/// `_aws` holds an integer millisecond `Timestamp` and a non-empty `CloudWatchMetrics` array and
/// nothing else; each directive holds exactly `Namespace` (1 to 255 characters of
/// `[a-zA-Z0-9._#:/-]`), `Dimensions` (at least one set, each at most 30 names of 1 to 255
/// characters, each naming a top-level member with a non-empty ASCII string value of at most 1024
/// characters) and `Metrics` (at most 100 definitions, each `Name` of 1 to 255 characters naming a
/// top-level member that is a number or an array of at most 100 numbers, an optional `Unit` among
/// CloudWatch's, an optional `StorageResolution` of 1 or 60, nothing else).
fn check_emf(line: &str) -> Result<serde_json::Map<String, Value>, String> {
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not one JSON value: {e}"))?;
    let root = root.as_object().ok_or("the root is not an object")?.clone();
    let aws = root.get("_aws").and_then(Value::as_object).ok_or("no `_aws` object")?;
    if let Some(extra) = aws.keys().find(|k| *k != "Timestamp" && *k != "CloudWatchMetrics") {
        return Err(format!("`_aws` has an extra member `{extra}`"));
    }
    let ts = aws.get("Timestamp").and_then(Value::as_u64).ok_or("`Timestamp` is not an integer")?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    // Within the 14 days back and 2 hours ahead that CloudWatch accepts: milliseconds, not seconds.
    if ts + 14 * 86_400_000 < now || ts > now + 7_200_000 {
        return Err(format!("`Timestamp` {ts} is not a millisecond time near now ({now})"));
    }
    let directives = aws.get("CloudWatchMetrics").and_then(Value::as_array).ok_or("no `CloudWatchMetrics` array")?;
    if directives.is_empty() {
        return Err("`CloudWatchMetrics` is empty".into());
    }
    let name_ok = |s: &str| !s.is_empty() && s.chars().count() <= 255;
    for d in directives {
        let d = d.as_object().ok_or("a directive is not an object")?;
        if let Some(extra) = d.keys().find(|k| !["Namespace", "Dimensions", "Metrics"].contains(&k.as_str())) {
            return Err(format!("a directive has an extra member `{extra}`"));
        }
        let ns = d.get("Namespace").and_then(Value::as_str).ok_or("no `Namespace` string")?;
        if !name_ok(ns) || !ns.chars().all(|c| c.is_ascii_alphanumeric() || "._#:/-".contains(c)) {
            return Err(format!("bad namespace {ns:?}"));
        }
        let sets = d.get("Dimensions").and_then(Value::as_array).ok_or("no `Dimensions` array")?;
        if sets.is_empty() {
            return Err("`Dimensions` has no dimension set".into());
        }
        for set in sets {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err(format!("a dimension set has {} dimensions (at most 30)", set.len()));
            }
            for dim in set {
                let dim = dim.as_str().ok_or("a dimension name is not a string")?;
                if !name_ok(dim) || dim.starts_with(':') {
                    return Err(format!("bad dimension name {dim:?}"));
                }
                let value = root
                    .get(dim)
                    .and_then(Value::as_str)
                    .ok_or(format!("dimension `{dim}` is not a top-level string"))?;
                if value.trim().is_empty() || !value.is_ascii() || value.len() > 1024 {
                    return Err(format!("bad value {value:?} for dimension `{dim}`"));
                }
            }
        }
        let metrics = d.get("Metrics").and_then(Value::as_array).ok_or("no `Metrics` array")?;
        if metrics.len() > 100 {
            return Err(format!("{} metric definitions (at most 100)", metrics.len()));
        }
        for m in metrics {
            let m = m.as_object().ok_or("a metric definition is not an object")?;
            if let Some(extra) = m.keys().find(|k| !["Name", "Unit", "StorageResolution"].contains(&k.as_str())) {
                return Err(format!("a metric definition has an extra member `{extra}`"));
            }
            let name = m.get("Name").and_then(Value::as_str).ok_or("a metric without a `Name` string")?;
            if !name_ok(name) {
                return Err(format!("bad metric name {name:?}"));
            }
            match root.get(name) {
                Some(v) if v.is_number() => {}
                Some(Value::Array(vs)) if vs.len() <= 100 && vs.iter().all(Value::is_number) => {}
                other => return Err(format!("metric `{name}` is not a top-level number: {other:?}")),
            }
            if let Some(unit) = m.get("Unit") {
                let unit = unit.as_str().ok_or("a `Unit` is not a string")?;
                if !EMF_UNITS.contains(&unit) {
                    return Err(format!("unknown unit {unit:?}"));
                }
            }
            if let Some(r) = m.get("StorageResolution")
                && r != 1
                && r != 60
            {
                return Err(format!("bad storage resolution {r}"));
            }
        }
    }
    Ok(root)
}

#[test]
fn the_emf_checker_rejects_what_the_specification_forbids() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let good = format!(
        r#"{{"_aws":{{"Timestamp":{now},"CloudWatchMetrics":[{{"Namespace":"N","Dimensions":[["A"]],"Metrics":[{{"Name":"M","Unit":"Count"}}]}}]}},"A":"x","M":1}}"#
    );
    check_emf(&good).expect("the specification's shape");
    let bad = [
        good.replace(r#""A":"x","#, r#""B":{"A":"x"},"#), // a nested dimension target
        good.replace(r#""M":1"#, r#""M":"1""#),           // a metric that is not a number
        good.replace(r#""Unit":"Count""#, r#""Unit":"Requests""#), // not a CloudWatch unit
        good.replace(&now.to_string(), &(now / 1000).to_string()), // seconds, not milliseconds
        good.replace(r#"[["A"]]"#, "[]"),                 // no dimension set
        good.replace(r#"[["A"]]"#, &format!("[[{}]]", vec![r#""A""#; 31].join(","))), // 31 dimensions
        good.replace(r#""Namespace":"N""#, r#""Namespace":"N","Extra":1"#),
        format!("{good} trailing"),
    ];
    for b in &bad {
        assert!(check_emf(b).is_err(), "accepted: {b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_lambda_invocation_writes_valid_emf_lines_with_its_counts() {
    let backend = tributary_functions::demo::start_backend(0).await.expect("start the demo backend");
    let mut config: Value = serde_json::from_str(&demo_config(&backend)).expect("JSON");
    config["extra_config"] = serde_json::json!({
        "tributary/emf": {"namespace": "Tributary/Test", "dimensions": [["Endpoint", "Status"], ["Endpoint", "Backend"]]}
    });
    // How many backends each endpoint calls, from the config itself.
    let backends: BTreeMap<String, usize> = config["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["endpoint"].as_str().unwrap().to_owned(), e["backend"].as_array().unwrap().len()))
        .collect();
    let gateway = tributary_core::Gateway::from_json(&config.to_string()).expect("a valid config");

    let names = event_files();
    assert!(names.len() >= 5, "{names:?}");
    let mut requests = 0u64;
    for name in &names {
        let event = read_event(name);
        let request = lambda_http::request::from_str(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut out: Vec<u8> = Vec::new();
        let resp = tokio::time::timeout(LIMIT, tributary_functions::lambda::handle_with(&gateway, request, &mut out))
            .await
            .unwrap_or_else(|_| panic!("{name}: no answer within {LIMIT:?}"))
            .expect("infallible");
        let out = String::from_utf8(out).expect("UTF-8");
        assert!(out.ends_with('\n'), "{name}: {out}");
        let lines: Vec<serde_json::Map<String, Value>> =
            out.lines().map(|l| check_emf(l).unwrap_or_else(|e| panic!("{name}: {e}\n{l}"))).collect();
        let (request_line, backend_lines) = lines.split_first().expect("a request line");
        requests += request_line["Requests"].as_u64().unwrap();
        assert_eq!(request_line["Requests"], 1, "{name}");
        assert_eq!(request_line["Status"], resp.status().as_u16().to_string(), "{name}");
        assert!(request_line["Latency"].as_f64().unwrap() > 0.0, "{name}");
        let directive = &request_line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Tributary/Test");
        assert_eq!(directive["Dimensions"], serde_json::json!([["Endpoint", "Status"], ["Endpoint"]]), "{name}");
        assert_eq!(resp.status(), 200, "{name}: the sample events all succeed");
        let endpoint = request_line["Endpoint"].as_str().unwrap();
        let expected_calls = backends.get(endpoint).unwrap_or_else(|| panic!("{name}: endpoint {endpoint:?}"));
        assert_eq!(backend_lines.len(), *expected_calls, "{name}: one line per backend exchange");
        let incomplete = resp.headers().get("x-krakend-completed").is_some_and(|v| v == "false");
        assert_eq!(request_line["Incomplete"], u8::from(incomplete), "{name}");
        for b in backend_lines {
            assert_eq!(b["Endpoint"], endpoint);
            assert_eq!(b["BackendRequests"], 1);
            assert_eq!(b["BackendErrors"], 0, "{name}: {b:?}");
            assert!(b["Status"].as_str().unwrap().starts_with('2'), "{name}: {b:?}");
            assert!(b["Backend"].as_str().unwrap().starts_with('/'));
            let d = &b["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
            assert_eq!(d, &serde_json::json!([["Endpoint", "Status", "Backend"], ["Endpoint", "Backend"]]));
        }
    }
    assert_eq!(requests, names.len() as u64);
}

/// A function URL event for `GET path`.
fn url_event(path: &str) -> String {
    serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "abc.lambda-url.eu-west-1.on.aws"},
        "requestContext": {"accountId": "1", "apiId": "abc", "domainName": "abc.lambda-url.eu-west-1.on.aws",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"},
            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0},
        "isBase64Encoded": false
    })
    .to_string()
}

/// Invokes the Lambda door in process; returns what it wrote as EMF.
async fn invoke(gateway: &tributary_core::Gateway, path: &str) -> String {
    let request = lambda_http::request::from_str(&url_event(path)).expect("an event");
    let mut out = Vec::new();
    tributary_functions::lambda::handle_with(gateway, request, &mut out).await.expect("infallible");
    String::from_utf8(out).expect("UTF-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_backend_is_counted_in_its_emf_line_and_no_config_means_no_lines() {
    let (ok, bad) = backends().await;
    // Defaults: a metrics output configured, no `tributary/emf`.
    let gw = tributary_core::Gateway::from_json(&config(&ok, &bad, r#""telemetry/metrics": {}"#)).unwrap();
    let out = invoke(&gw, "/broken").await;
    let lines: Vec<_> = out.lines().map(|l| check_emf(l).unwrap_or_else(|e| panic!("{e}\n{l}"))).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Tributary");
    assert_eq!(lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["Endpoint", "Status"]]));
    assert_eq!(lines[0]["Endpoint"], "/broken");
    assert_eq!(lines[1]["BackendErrors"], 1, "{out}");
    assert_eq!(lines[1]["Status"], "500");
    // A path no endpoint serves: one line, under its status, never the raw path.
    let out = invoke(&gw, "/random/abc123").await;
    let line = check_emf(out.trim_end()).unwrap();
    assert_eq!(line["Endpoint"], "404 Not Found");
    assert!(!out.contains("abc123"), "{out}");
    // No metrics configured: nothing written.
    let quiet = tributary_core::Gateway::from_json(&config(&ok, &bad, "")).unwrap();
    assert_eq!(invoke(&quiet, "/users/1").await, "");
    // Turned off explicitly.
    let off = tributary_core::Gateway::from_json(&config(
        &ok,
        &bad,
        r#""telemetry/metrics": {}, "tributary/emf": {"disabled": true}"#,
    ))
    .unwrap();
    assert_eq!(invoke(&off, "/users/1").await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_runtime_api_the_gateway_binary_writes_emf_lines_with_the_invocation_s_request_id() {
    let backend = tributary_functions::demo::start_backend(0).await.expect("start the demo backend");
    let mut config: Value = serde_json::from_str(&demo_config(&backend)).expect("JSON");
    config["extra_config"] = serde_json::json!({"telemetry/metrics": {}});
    let dir = TempDir::new("metrics-emf");
    let config_path = dir.write("krakend.json", config.to_string());
    let events: Vec<PathBuf> =
        ["furl-get.json", "apigw-v1-get.json", "furl-post-json.json"].iter().map(|e| events_dir().join(e)).collect();
    let mut cmd = emulator(&config_path, &["--timeout", "15"], &events);
    cmd.env("RUST_LOG", "warn").env_remove("AWS_LAMBDA_LOG_LEVEL").env_remove("AWS_LAMBDA_LOG_FORMAT");
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run the Runtime API emulator"))
        .await
        .expect("the emulator's thread");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "emulator failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let (answers, _) = answers_and_logs(&stdout);
    assert_eq!(answers.len(), 3, "{stdout}");
    let emf: Vec<serde_json::Map<String, Value>> = stdout
        .lines()
        .filter(|l| l.contains("\"_aws\""))
        .map(|l| check_emf(l).unwrap_or_else(|e| panic!("{e}\n{l}")))
        .collect();
    // One request line per invocation, carrying its request id and its status.
    for a in &answers {
        let id = a["request_id"].as_str().expect("a request id");
        let mine: Vec<_> = emf.iter().filter(|l| l["requestId"] == id).collect();
        let requests: Vec<_> = mine.iter().filter(|l| l.contains_key("Requests")).collect();
        assert_eq!(requests.len(), 1, "{id}: {stdout}");
        assert_eq!(requests[0]["Status"], a["answer"]["statusCode"].to_string(), "{stdout}");
        assert!(mine.iter().filter(|l| l.contains_key("BackendRequests")).count() >= 1, "{stdout}");
    }
    let endpoints: BTreeSet<&str> =
        emf.iter().filter(|l| l.contains_key("Requests")).map(|l| l["Endpoint"].as_str().unwrap()).collect();
    assert_eq!(endpoints, BTreeSet::from(["/users/{id}", "/orders"]));
}
