//! The gateway holds up against clients, backends and configs that try to make it lie, leak or
//! fall over: the client IP as gin finds it, the headers a backend may never get from a client,
//! backend bodies bounded after decoding, placeholders kept inside their path segment, and
//! `security/http` applied in KrakenD's middleware order. Through the local server on real
//! sockets, and through the Lambda adapter where the rule applies there.

use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tributary_core::Gateway;
use tributary_e2e::chaos::{Backend, Outcome, Reply, Served, exchange, response};
use tributary_e2e::doors::lambda_get;
use tributary_e2e::process::GatewayProcess;
use tributary_e2e::record::{Recorder, Seen};

/// Longest wait for one answer: generous on purpose (slow CI); it only catches hangs.
const LIMIT: Duration = Duration::from_secs(10);

/// Sends `GET target` with the given header lines (no `Host` added) and reads the answer.
async fn get(served: &Served, target: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = format!("GET {target} HTTP/1.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    match exchange(served.addr, request.as_bytes(), LIMIT).await {
        Some(Outcome::Reply(reply)) => reply,
        other => panic!("GET {target}: no answer: {other:?}"),
    }
}

/// The one request `recorder` got since `before` requests.
fn only_new(recorder: &Recorder, before: usize) -> Seen {
    let seen = recorder.seen();
    assert_eq!(seen.len(), before + 1, "the backend should get exactly one request: {seen:?}");
    seen[before].clone()
}

/// A config with `GET /ip` on `recorder` and `router` as the router's extra config.
fn ip_config(recorder: &Recorder, router: Value) -> String {
    json!({
        "version": 3,
        "extra_config": {"router": router},
        "endpoints": [{"endpoint": "/ip", "backend": [{"host": [recorder.url()], "url_pattern": "/ip"}]}]
    })
    .to_string()
}

/// The `X-Forwarded-For` the backend got for `GET /ip` with the client's own headers.
async fn forwarded_for(served: &Served, recorder: &Recorder, headers: &[(&str, &str)]) -> String {
    let before = recorder.seen().len();
    let mut all = vec![("Host", "api.example.com")];
    all.extend_from_slice(headers);
    let reply = get(served, "/ip", &all).await;
    assert_eq!(reply.status, 200, "body {}", reply.text());
    only_new(recorder, before).all("x-forwarded-for").join(" | ")
}

// ---------- the client IP (gin's ClientIP) ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_forwarded_by_client_ip_false_the_backend_gets_the_peer_address() {
    let recorder = Recorder::start(r#"{"ok":true}"#).await;
    let config = ip_config(&recorder, json!({"forwarded_by_client_ip": false}));
    let served = Served::start(&config).await;
    let xff = forwarded_for(&served, &recorder, &[("X-Forwarded-For", "6.6.6.6"), ("X-Real-IP", "7.7.7.7")]).await;
    assert_eq!(xff, "127.0.0.1");

    // Lambda: the peer is the request context's source IP.
    let gateway = Gateway::from_json(&config).expect("config");
    let before = recorder.seen().len();
    let resp =
        lambda_get(&gateway, "/ip", &[("Host", "api.example.com"), ("X-Forwarded-For", "6.6.6.6")], "203.0.113.9")
            .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(only_new(&recorder, before).all("x-forwarded-for"), ["203.0.113.9"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_the_client_ip_is_the_left_most_forwarded_address_as_in_krakend() {
    let recorder = Recorder::start(r#"{"ok":true}"#).await;
    let served = Served::start(&ip_config(&recorder, json!({}))).await;
    assert_eq!(forwarded_for(&served, &recorder, &[("X-Forwarded-For", "6.6.6.6, 10.0.0.1")]).await, "6.6.6.6");
    assert_eq!(forwarded_for(&served, &recorder, &[("X-Real-IP", "7.7.7.7")]).await, "7.7.7.7");
    assert_eq!(forwarded_for(&served, &recorder, &[("X-Forwarded-For", "not-an-ip")]).await, "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxies_decide_whose_forwarded_headers_count() {
    let recorder = Recorder::start(r#"{"ok":true}"#).await;
    // The peer (127.0.0.1) is not trusted: its headers are ignored.
    let served = Served::start(&ip_config(&recorder, json!({"trusted_proxies": ["10.0.0.0/8"]}))).await;
    assert_eq!(forwarded_for(&served, &recorder, &[("X-Forwarded-For", "6.6.6.6")]).await, "127.0.0.1");
    drop(served);

    // Trusted peer: the header is walked from the right, stopping at the first untrusted address.
    let router = json!({"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]});
    let served = Served::start(&ip_config(&recorder, router)).await;
    assert_eq!(forwarded_for(&served, &recorder, &[("X-Forwarded-For", "6.6.6.6, 10.1.2.3")]).await, "6.6.6.6");
    assert_eq!(
        forwarded_for(&served, &recorder, &[("X-Forwarded-For", "6.6.6.6, 8.8.8.8, 10.1.2.3")]).await,
        "8.8.8.8"
    );
    drop(served);

    // `remote_ip_headers` replaces the default pair.
    let router = json!({"remote_ip_headers": ["X-Client"]});
    let served = Served::start(&ip_config(&recorder, router)).await;
    let xff = forwarded_for(&served, &recorder, &[("X-Forwarded-For", "6.6.6.6"), ("X-Client", "5.5.5.5")]).await;
    assert_eq!(xff, "5.5.5.5");
}

/// `GET /limited` with a new `X-Forwarded-For` each time: the statuses.
async fn limited_statuses(config: &str) -> Vec<u16> {
    let served = Served::start(config).await;
    let mut statuses = Vec::new();
    for fake in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
        let reply = get(&served, "/limited", &[("Host", "api.example.com"), ("X-Forwarded-For", fake)]).await;
        statuses.push(reply.status);
    }
    statuses
}

fn limited_config(backend: &Backend, router: Value) -> String {
    json!({
        "version": 3,
        "extra_config": {"router": router},
        "endpoints": [{
            "endpoint": "/limited",
            "extra_config": {"qos/ratelimit/router": {"client_max_rate": 1, "every": "1h", "strategy": "ip"}},
            "backend": [{"host": [backend.url()], "url_pattern": "/"}]
        }]
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_client_ip_limit_counts_the_peer_when_forwarded_headers_are_not_trusted() {
    let backend = Backend::json(r#"{"ok":true}"#).await;
    // KrakenD's default trusts the header: every new value is a new client (and a warning says so).
    let default = limited_config(&backend, json!({}));
    assert_eq!(limited_statuses(&default).await, [200, 200, 200]);
    let warnings = Gateway::from_json(&default).expect("config").warnings().to_vec();
    assert!(
        warnings
            .iter()
            .any(|w| w.to_string().contains("qos/ratelimit/router.strategy")
                && w.to_string().contains("trusted_proxies")),
        "{warnings:?}"
    );
    for router in [json!({"forwarded_by_client_ip": false}), json!({"trusted_proxies": ["10.0.0.0/8"]})] {
        let config = limited_config(&backend, router.clone());
        assert_eq!(limited_statuses(&config).await, [200, 429, 429], "router {router}");
        let warnings = Gateway::from_json(&config).expect("config").warnings().to_vec();
        assert!(!warnings.iter().any(|w| w.to_string().contains("ratelimit")), "router {router}: {warnings:?}");
    }
}

#[test]
fn a_trusted_proxy_that_is_not_an_address_is_a_config_error_naming_its_path() {
    for bad in ["10.0.0.0/33", "10.0.0", "proxy.internal", "10.0.0.0/08"] {
        let config = json!({"version": 3, "extra_config": {"router": {"trusted_proxies": ["10.0.0.1", bad]}},
                            "endpoints": []});
        let err = Gateway::from_json(&config.to_string()).expect_err(bad).to_string();
        assert!(err.contains("extra_config.router.trusted_proxies[1]"), "{bad}: {err}");
    }
}

// ---------- headers a backend never gets from a client ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_host_and_hop_by_hop_headers_never_reach_the_backend() {
    let recorder = Recorder::start(r#"{"ok":true}"#).await;
    for input in [
        json!(["Host", "X-Keep", "X-Hop", "Connection", "Transfer-Encoding", "Trailer", "Content-Length"]),
        json!(["*"]),
    ] {
        let config = json!({
            "version": 3,
            "endpoints": [{"endpoint": "/h", "input_headers": input,
                           "backend": [{"host": [recorder.url()], "url_pattern": "/h"}]}]
        })
        .to_string();
        let served = Served::start(&config).await;
        let before = recorder.seen().len();
        let request = "GET /h HTTP/1.1\r\nHost: internal-admin.local\r\nX-Keep: 1\r\nX-Hop: secret\r\n\
                       Connection: X-Hop\r\nTrailer: X-Keep\r\n\r\n";
        let reply = match exchange(served.addr, request.as_bytes(), LIMIT).await {
            Some(Outcome::Reply(reply)) => reply,
            other => panic!("no answer: {other:?}"),
        };
        assert_eq!(reply.status, 200, "input_headers {input}: body {}", reply.text());
        let seen = only_new(&recorder, before);
        assert_eq!(seen.all("host"), [recorder.backend.addr.to_string()], "input_headers {input}: {seen:?}");
        assert_eq!(seen.all("x-keep"), ["1"], "input_headers {input}: {seen:?}");
        for gone in ["x-hop", "trailer", "transfer-encoding"] {
            assert!(seen.all(gone).is_empty(), "input_headers {input}: {gone} reached the backend: {seen:?}");
        }
        assert!(!seen.all("connection").iter().any(|c| c.contains("X-Hop")), "{seen:?}");
        assert_eq!(seen.all("x-forwarded-host"), ["internal-admin.local"], "{seen:?}");

        // Lambda: the same headers in a function URL event.
        let gateway = Gateway::from_json(&config).expect("config");
        let before = recorder.seen().len();
        let headers = [("Host", "internal-admin.local"), ("X-Keep", "1"), ("X-Hop", "secret"), ("Connection", "X-Hop")];
        let resp = lambda_get(&gateway, "/h", &headers, "203.0.113.9").await;
        assert_eq!(resp.status(), 200);
        let seen = only_new(&recorder, before);
        assert_eq!(seen.all("host"), [recorder.backend.addr.to_string()], "lambda, input_headers {input}: {seen:?}");
        assert!(seen.all("x-hop").is_empty(), "lambda, input_headers {input}: {seen:?}");
    }
}

// ---------- backend bodies are bounded after decoding ----------

fn gzipped(data: &[u8]) -> Vec<u8> {
    gzipped_at(data, flate2::Compression::fast())
}

fn gzipped_at(data: &[u8], level: flate2::Compression) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), level);
    enc.write_all(data).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

/// A backend answering `body` with the given `Content-Encoding` (none when empty).
async fn encoded_backend(encoding: &str, body: Vec<u8>) -> Backend {
    let mut headers = vec![("Content-Type", "application/json")];
    if !encoding.is_empty() {
        headers.push(("Content-Encoding", encoding));
    }
    Backend::fixed(response("HTTP/1.1 200 OK", &headers, &body)).await
}

/// A JSON object of about `size` bytes.
fn json_of(size: usize) -> Vec<u8> {
    format!(r#"{{"pad":"{}"}}"#, "x".repeat(size.saturating_sub(10))).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_body_over_max_body_bytes_fails_that_backend() {
    let big = encoded_backend("", json_of(2000)).await;
    let big_gzip = encoded_backend("gzip", gzipped(&json_of(2000))).await;
    let big_deflate = encoded_backend("deflate", vec![b'x'; 2000]).await;
    let small = encoded_backend("", json_of(500)).await;
    let small_gzip = encoded_backend("gzip", gzipped(&json_of(500))).await;
    let one = |path: &str, b: &Backend, encoding: &str| json!({"endpoint": path, "backend": [{"host": [b.url()], "url_pattern": "/", "encoding": encoding}]});
    let config = json!({
        "version": 3,
        "extra_config": {"tributary/backend": {"max_body_bytes": 1000}},
        "endpoints": [
            one("/big", &big, "json"), one("/big-gzip", &big_gzip, "json"), one("/big-deflate", &big_deflate, "string"),
            one("/small", &small, "json"), one("/small-gzip", &small_gzip, "json"),
            {"endpoint": "/agg", "backend": [
                {"host": [big.url()], "url_pattern": "/", "group": "big"},
                {"host": [small.url()], "url_pattern": "/", "group": "small"}]}
        ]
    })
    .to_string();
    let served = Served::start(&config).await;
    let gateway = Gateway::from_json(&config).expect("config");
    for (path, status, completed) in [
        ("/big", 500, "false"),
        ("/big-gzip", 500, "false"),
        ("/big-deflate", 500, "false"),
        ("/small", 200, "true"),
        ("/small-gzip", 200, "true"),
        ("/agg", 200, "false"),
    ] {
        let reply = get(&served, path, &[("Host", "api.example.com")]).await;
        assert_eq!((reply.status, reply.completed()), (status, Some(completed)), "{path}: body {}", reply.text());
        let resp = lambda_get(&gateway, path, &[("Host", "api.example.com")], "203.0.113.9").await;
        assert_eq!(resp.status(), status, "lambda {path}");
        if path == "/agg" {
            let body: Value = serde_json::from_slice(&reply.body).expect("a JSON body");
            assert!(body.get("small").is_some() && body.get("big").is_none(), "{body}");
        }
    }
}

/// `members` gzip members of 1 MiB of zeros each, concatenated (a valid gzip body; Go's reader
/// and ours read every member): about 1 KB per MiB.
fn gzip_bomb(members: usize) -> Vec<u8> {
    let member = gzipped_at(&vec![0u8; 1 << 20], flate2::Compression::best());
    member.repeat(members)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_fails_its_backend_and_memory_stays_within_the_cap_plus_32_mb() {
    // 1 GiB of zeros in about 1 MB of gzip, and one member of 65 MiB (above the 64 MiB default cap)
    // whose trailer tells its size honestly.
    let bomb = gzip_bomb(1024);
    assert!(bomb.len() < 2 << 20, "the bomb is {} bytes", bomb.len());
    let many = encoded_backend("gzip", bomb).await;
    let one = encoded_backend("gzip", gzipped(&vec![0u8; 65 << 20])).await;
    let fine = encoded_backend("gzip", gzipped(&json_of(1 << 20))).await;
    let config = json!({
        "version": 3, "timeout": "20s",
        "endpoints": [
            {"endpoint": "/many", "backend": [{"host": [many.url()], "url_pattern": "/"}]},
            {"endpoint": "/one", "backend": [{"host": [one.url()], "url_pattern": "/"}]},
            {"endpoint": "/agg", "backend": [
                {"host": [many.url()], "url_pattern": "/", "group": "bomb"},
                {"host": [fine.url()], "url_pattern": "/", "group": "fine"}]}
        ]
    })
    .to_string();
    let mut gateway = GatewayProcess::start(&config);
    let addr = gateway.addr;
    for (path, status, completed) in [("/many", 500, "false"), ("/one", 500, "false"), ("/agg", 200, "false")] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let reply = match exchange(addr, request.as_bytes(), Duration::from_secs(60)).await {
            Some(Outcome::Reply(reply)) => reply,
            other => panic!("{path}: no answer: {other:?}"),
        };
        assert_eq!((reply.status, reply.completed()), (status, Some(completed)), "{path}: body {}", reply.text());
    }
    assert!(gateway.is_running());
    let peak = gateway.memory_kib("VmHWM");
    let limit = (64 + 32) * 1024;
    assert!(peak <= limit, "peak resident memory {peak} KiB, more than the 64 MiB cap + 32 MiB");
}

// ---------- placeholders stay inside their path segment ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequential_resp_field_that_is_a_dot_segment_is_not_followed() {
    let dots = Recorder::start(r#"{"id":".."}"#).await;
    let seven = Recorder::start(r#"{"id":7}"#).await;
    let users = Recorder::start(r#"{"name":"x"}"#).await;
    let endpoint = |path: &str, first: &Recorder| {
        json!({"endpoint": path, "extra_config": {"proxy": {"sequential": true}}, "backend": [
            {"host": [first.url()], "url_pattern": "/first"},
            {"host": [users.url()], "url_pattern": "/users/{resp0_id}/x", "group": "user"}]})
    };
    let config = json!({"version": 3, "endpoints": [endpoint("/dots", &dots), endpoint("/seven", &seven)]}).to_string();
    let served = Served::start(&config).await;
    let reply = get(&served, "/dots", &[("Host", "api.example.com")]).await;
    assert_eq!((reply.status, reply.completed()), (200, Some("false")), "body {}", reply.text());
    assert!(users.seen().is_empty(), "`/users/../x` reached the backend: {:?}", users.seen());
    let reply = get(&served, "/seven", &[("Host", "api.example.com")]).await;
    assert_eq!((reply.status, reply.completed()), (200, Some("true")), "body {}", reply.text());
    assert_eq!(users.seen().iter().map(|s| s.path.as_str()).collect::<Vec<_>>(), ["/users/7/x"]);

    let gateway = Gateway::from_json(&config).expect("config");
    let resp = lambda_get(&gateway, "/dots", &[("Host", "api.example.com")], "203.0.113.9").await;
    assert_eq!(resp.headers().get("x-krakend-completed").map(|v| v.as_bytes()), Some(b"false".as_slice()));
    assert_eq!(users.seen().len(), 1, "lambda: `/users/../x` reached the backend: {:?}", users.seen());
}

// ---------- security/http in KrakenD's middleware order ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_answers_any_host_while_endpoints_keep_allowed_hosts() {
    let backend = Backend::json(r#"{"ok":true}"#).await;
    let config = json!({
        "version": 3,
        "extra_config": {
            "security/http": {"allowed_hosts": ["api.example.com"], "frame_deny": true},
            "security/cors": {"allow_origins": ["*"]}
        },
        "endpoints": [{"endpoint": "/x", "backend": [{"host": [backend.url()], "url_pattern": "/"}]}]
    })
    .to_string();
    let served = Served::start(&config).await;
    let probe = get(&served, "/__health", &[("Host", "10.0.0.5"), ("Origin", "https://a.example")]).await;
    assert_eq!(probe.status, 200, "body {}", probe.text());
    assert_eq!(probe.header("x-frame-options"), None, "security/http does not wrap /__health");
    assert_eq!(probe.header("access-control-allow-origin"), Some("*"), "CORS wraps everything");
    let refused = get(&served, "/x", &[("Host", "10.0.0.5")]).await;
    assert_eq!((refused.status, refused.body.as_slice()), (400, b"Bad Host".as_slice()));
    let unknown = get(&served, "/nope", &[("Host", "10.0.0.5")]).await;
    assert_eq!(unknown.status, 400);
    let allowed = get(&served, "/x", &[("Host", "api.example.com")]).await;
    assert_eq!((allowed.status, allowed.header("x-frame-options")), (200, Some("DENY")));
    assert_eq!(backend.requests(), 1, "only the allowed host reached the backend");

    let gateway = Gateway::from_json(&config).expect("config");
    let resp = lambda_get(&gateway, "/__health", &[("Host", "10.0.0.5")], "203.0.113.9").await;
    assert_eq!(resp.status(), 200);
    let resp = lambda_get(&gateway, "/x", &[("Host", "10.0.0.5")], "203.0.113.9").await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_redirect_keeps_a_hostile_host_inside_the_location_host() {
    let backend = Backend::json(r#"{"ok":true}"#).await;
    let config = json!({
        "version": 3,
        "extra_config": {"security/http": {"ssl_redirect": true, "ssl_proxy_headers": {"X-Forwarded-Proto": "https"}}},
        "endpoints": [{"endpoint": "/x", "backend": [{"host": [backend.url()], "url_pattern": "/"}]}]
    })
    .to_string();
    let served = Served::start(&config).await;
    // The local server refuses a `Host` with `/` or `?` as Go's does; `%` passes and is escaped.
    let reply = get(&served, "/x?a=1", &[("Host", "evil.example/phish?")]).await;
    assert_eq!(reply.status, 400, "body {}", reply.text());
    let reply = get(&served, "/x?a=1", &[("Host", "a%2Fb.example")]).await;
    assert_eq!((reply.status, reply.header("location")), (301, Some("https://a%252Fb.example/x?a=1")));
    // The Lambda adapter refuses it too (lambda_http would read the path and query out of it).
    let gateway = Gateway::from_json(&config).expect("config");
    let resp = lambda_get(&gateway, "/x?a=1", &[("Host", "evil.example/phish?")], "203.0.113.9").await;
    assert_eq!(resp.status(), 400);
}

#[test]
fn enabling_the_echo_endpoint_warns_that_it_reflects_credentials() {
    let config = json!({"version": 3, "echo_endpoint": true, "endpoints": []}).to_string();
    let warnings = Gateway::from_json(&config).expect("config").warnings().to_vec();
    let echo = warnings.iter().map(ToString::to_string).find(|w| w.contains("echo_endpoint"));
    let echo = echo.unwrap_or_else(|| panic!("no echo warning in {warnings:?}"));
    assert!(echo.contains("Authorization") && echo.contains("cookies"), "{echo}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_body_trickled_one_byte_per_segment_costs_its_bytes_not_a_buffer_per_segment() {
    // Each segment the client reads is a frame cut out of one of hyper's read buffers: keeping
    // the frames until the body ends would cost kilobytes per byte the backend trickles.
    const CALLS: usize = 10;
    const BYTES: usize = 2000;
    let trickler = Backend::start(|mut stream, _head| async move {
        let _ = stream.set_nodelay(true);
        let body = json_of(BYTES);
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for byte in body {
            if stream.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tributary_e2e::chaos::finish(stream).await;
    })
    .await;
    let config = json!({
        "version": 3, "timeout": "60s",
        "endpoints": [{"endpoint": "/slow", "backend": [{"host": [trickler.url()], "url_pattern": "/"}]}]
    })
    .to_string();
    let gateway = GatewayProcess::start(&config);
    let addr = gateway.addr;
    let before = gateway.memory_kib("VmRSS");
    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            tokio::spawn(async move {
                let request = format!("GET /slow HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                exchange(addr, request.as_bytes(), Duration::from_secs(60)).await
            })
        })
        .collect();
    // Sampled while the bodies are about half in.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = gateway.memory_kib("VmRSS");
    for call in calls {
        match call.await.expect("the call's task") {
            Some(Outcome::Reply(reply)) => assert_eq!(reply.status, 200, "body {}", reply.text()),
            other => panic!("no answer: {other:?}"),
        }
    }
    let growth = during.saturating_sub(before);
    assert!(growth < 16 * 1024, "RSS grew by {growth} KiB while {CALLS} backend bodies trickled in");
}

#[test]
fn a_body_limit_written_on_a_backend_is_reported_as_ignored_there() {
    let config = json!({"version": 3, "endpoints": [{"endpoint": "/x", "backend": [{
        "host": ["http://127.0.0.1:8081"], "url_pattern": "/",
        "extra_config": {"tributary/backend": {"max_body_bytes": 10}}}]}]})
    .to_string();
    let warnings = Gateway::from_json(&config).expect("config").warnings().to_vec();
    assert!(
        warnings.iter().any(|w| w.to_string().contains("endpoints[0].backend[0].extra_config.tributary/backend")),
        "{warnings:?}"
    );
}
