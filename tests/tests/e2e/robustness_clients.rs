//! Robustness against misbehaving clients (malformed, oversized, slow or half-sent requests,
//! dangerous path parameters): a raw `TcpStream` client sends exactly the bytes each test chooses
//! to the local server on 127.0.0.1; the gateway must answer like KrakenD (or close cleanly where
//! stated), never hang, keep serving others, and never let a dangerous path parameter reach a
//! backend.

use http::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tributary_core::GatewayRequest;
use tributary_e2e::chaos::{Backend, Outcome, Reply, Served, exchange, read_response, short};

/// The good backend's answer.
const GOOD_BODY: &str = r#"{"fine":true}"#;

/// Time limit for one exchange: generous, it only catches hangs.
const LIMIT: Duration = Duration::from_secs(5);

/// `/x` and `/x/{p}` (GET) and `/post` (POST) on `good`; `/users/{id}` on `users` at `/base/{id}`.
fn config(good: &Backend, users: &Backend) -> String {
    json!({
        "version": 3,
        "endpoints": [
            {"endpoint": "/x", "timeout": "1s",
             "backend": [{"host": [good.url()], "url_pattern": "/x"}]},
            {"endpoint": "/x/{p}", "timeout": "1s",
             "backend": [{"host": [good.url()], "url_pattern": "/x/{p}"}]},
            {"endpoint": "/post", "method": "POST", "timeout": "1s",
             "backend": [{"host": [good.url()], "url_pattern": "/post"}]},
            {"endpoint": "/users/{id}", "timeout": "1s",
             "backend": [{"host": [users.url()], "url_pattern": "/base/{id}"}]}
        ]
    })
    .to_string()
}

/// A gateway with a good backend behind every endpoint (one for `/users/{id}`, one for the rest).
struct Setup {
    good: Backend,
    users: Backend,
    served: Served,
}

async fn setup() -> Setup {
    let good = Backend::json(GOOD_BODY).await;
    let users = Backend::json(r#"{"user":true}"#).await;
    let served = Served::start(&config(&good, &users)).await;
    Setup { good, users, served }
}

/// Sends raw request bytes and returns what came back (panics on a hang).
async fn raw(served: &Served, request: &[u8]) -> Outcome {
    exchange(served.addr, request, LIMIT)
        .await
        .unwrap_or_else(|| panic!("no answer and no close within {LIMIT:?} for {}", short(request)))
}

/// `GET target` with a `Host` header, as raw bytes.
fn get_bytes(target: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra_headers}Connection: close\r\n\r\n").into_bytes()
}

/// A complete response, or a panic naming what happened instead.
fn reply(outcome: Outcome, what: &str) -> Reply {
    match outcome {
        Outcome::Reply(reply) => reply,
        other => panic!("{what}: no response: {other:?}"),
    }
}

/// `/x` still answers 200/true with the good body, promptly.
async fn assert_still_serves(served: &Served) {
    let started = Instant::now();
    let reply = served.get("/x", LIMIT).await;
    assert_eq!(
        (reply.status, reply.completed(), reply.body.as_slice()),
        (200, Some("true"), GOOD_BODY.as_bytes()),
        "a normal request is no longer served; body {}",
        reply.text()
    );
    assert!(started.elapsed() < Duration::from_secs(3), "a normal request took {:?}", started.elapsed());
}

#[tokio::test]
async fn bad_percent_encoding_in_path_is_400() {
    let s = setup().await;
    let mut problems = Vec::new();
    for target in ["/x/%zz", "/x/%", "/x/a%2", "/x/%g1", "/x%zz"] {
        match raw(&s.served, &get_bytes(target, "")).await {
            Outcome::Reply(r) if r.status == 400 => {}
            other => problems.push(format!("{target}: want 400, got {other:?}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(s.good.requests(), 0, "a malformed path reached the backend");
    assert_still_serves(&s.served).await;
}

#[tokio::test]
async fn request_line_not_http_is_400_or_closed() {
    let s = setup().await;
    let garbage: [&[u8]; 5] = [
        b"HELLO\r\n\r\n",
        b"this is not http\r\n\r\n",
        b"GET\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"\xff\xfe\xfd GET /x HTTP/1.1\r\n\r\n",
    ];
    let mut problems = Vec::new();
    for request in garbage {
        match raw(&s.served, request).await {
            Outcome::Reply(r) if r.status == 400 => {}
            Outcome::Closed => {}
            other => problems.push(format!("{}: want 400 or a clean close, got {other:?}", short(request))),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_still_serves(&s.served).await;
}

#[tokio::test]
async fn url_of_100_kb_is_answered() {
    // KrakenD answers 200 (the URL is well within Go's 1 MB header limit; the query is not
    // forwarded). Tributary must answer with a status and never hang; a 4xx is tolerated here
    // (a 5xx or a close is not). Observed on 2026-11-22: Tributary answers 414 URI Too Long with
    // an empty body and no X-Krakend headers, from hyper's fixed 65,534-byte request-target
    // limit (a 60 KB URL is still 200, a 70 KB one is 414).
    let s = setup().await;
    let target = format!("/x?q={}", "a".repeat(100 * 1024));
    let r = reply(raw(&s.served, &get_bytes(&target, "")).await, "100 KB URL");
    if r.status == 200 {
        assert_eq!(r.completed(), Some("true"));
        assert_eq!(r.body, GOOD_BODY.as_bytes());
    } else {
        assert!(
            (400..500).contains(&r.status),
            "100 KB URL: want 200 (KrakenD) or at worst a 4xx, got {} {}",
            r.status,
            r.text()
        );
        eprintln!("NOTE: a 100 KB URL got {} (KrakenD answers 200)", r.status);
    }

    // Below hyper's limit a long URL is served normally.
    let target = format!("/x?q={}", "a".repeat(60 * 1024));
    let r = reply(raw(&s.served, &get_bytes(&target, "")).await, "60 KB URL");
    assert_eq!(
        (r.status, r.completed(), r.body.as_slice()),
        (200, Some("true"), GOOD_BODY.as_bytes()),
        "60 KB URL; body {}",
        r.text()
    );
    assert_still_serves(&s.served).await;
}

#[tokio::test]
async fn header_value_of_64_kb_is_200() {
    let s = setup().await;
    let header = format!("X-Big: {}\r\n", "v".repeat(64 * 1024));
    let r = reply(raw(&s.served, &get_bytes("/x", &header)).await, "64 KB header");
    assert_eq!(
        (r.status, r.completed(), r.body.as_slice()),
        (200, Some("true"), GOOD_BODY.as_bytes()),
        "64 KB header value; body {}",
        r.text()
    );
}

#[tokio::test]
async fn five_hundred_headers_is_200() {
    let s = setup().await;
    let headers: String = (0..500).map(|i| format!("X-Many-{i:03}: value-{i}\r\n")).collect();
    let r = reply(raw(&s.served, &get_bytes("/x", &headers)).await, "500 headers");
    assert_eq!(
        (r.status, r.completed(), r.body.as_slice()),
        (200, Some("true"), GOOD_BODY.as_bytes()),
        "500 headers; body {}",
        r.text()
    );
}

/// Sends a POST claiming `length` body bytes, writes 10, half-closes, and reads the answer.
async fn short_body_then_half_close(served: &Served, length: &str) -> Option<Outcome> {
    tokio::time::timeout(Duration::from_secs(3), async {
        let mut stream = TcpStream::connect(served.addr).await.expect("connect");
        let head = format!(
            "POST /post HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {length}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("write head");
        stream.write_all(b"{\"a\":1234}").await.expect("write body");
        stream.shutdown().await.expect("half-close");
        read_response(&mut stream).await
    })
    .await
    .ok()
}

#[tokio::test]
async fn body_shorter_than_content_length_then_half_close_is_answered_quickly() {
    // KrakenD answers 500/false at once; a 4xx/5xx or a clean close is accepted. Observed on
    // 2026-11-22: Tributary answers 400 (empty body, from the local server's body read) for both.
    let s = setup().await;
    for length in ["100", "10737418240"] {
        let started = Instant::now();
        match short_body_then_half_close(&s.served, length).await {
            None => {
                panic!("Content-Length {length}, 10 bytes sent: no answer and no close within 3 s")
            }
            Some(Outcome::Reply(r)) => assert!(
                (400..600).contains(&r.status),
                "Content-Length {length}, 10 bytes sent: want a 4xx/5xx, got {} {}",
                r.status,
                r.text()
            ),
            Some(Outcome::Closed) => {}
            Some(Outcome::Broken(e)) => {
                panic!("Content-Length {length}, 10 bytes sent: broken response: {e}")
            }
        }
        assert!(started.elapsed() < Duration::from_secs(2), "Content-Length {length}: took {:?}", started.elapsed());
    }
    assert_still_serves(&s.served).await;
}

#[tokio::test]
async fn slow_header_trickle_and_200_idle_connections_do_not_block_others() {
    let s = setup().await;
    let addr = s.served.addr;

    // One connection trickling its request head, a byte every 100 ms.
    let trickle = tokio::spawn(async move {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            return;
        };
        for byte in b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" {
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    // 200 idle connections: half say nothing, half send a partial head.
    let mut idle = Vec::with_capacity(200);
    for i in 0..200 {
        let mut stream = tokio::time::timeout(LIMIT, TcpStream::connect(addr))
            .await
            .expect("connect within the limit")
            .expect("connect");
        if i % 2 == 1 {
            stream.write_all(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.expect("partial head");
        }
        idle.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A normal request on a new connection, and a few more, are still answered promptly.
    for _ in 0..3 {
        assert_still_serves(&s.served).await;
    }
    trickle.abort();
    drop(idle);
}

/// Path parameters that must be rejected with 400 before any backend is called (Tributary is
/// stricter than KrakenD here: KrakenD forwards `..`/`%2e%2e` and answers 500 for NUL/CR/LF).
#[tokio::test]
async fn dangerous_path_parameters_are_400_and_never_reach_the_backend() {
    let s = setup().await;
    let targets = [
        "/users/..",
        "/users/%2e%2e",
        "/users/%2E%2E",
        "/users/.",
        "/users/%2e",
        "/users/%00",
        "/users/a%00b",
        "/users/a%0d%0ab",
        "/users/a%0Ab",
        "/users/a%0Db",
    ];
    let mut problems = Vec::new();
    for target in targets {
        match raw(&s.served, &get_bytes(target, "")).await {
            Outcome::Reply(r) if r.status == 400 => {}
            Outcome::Reply(r) => problems.push(format!(
                "{target} (socket): want 400, got {} completed={:?} body {}",
                r.status,
                r.completed(),
                r.text()
            )),
            other => problems.push(format!("{target} (socket): want 400, got {other:?}")),
        }
        let answer = tokio::time::timeout(LIMIT, s.served.gateway.handle(GatewayRequest::new(Method::GET, target)))
            .await
            .unwrap_or_else(|_| panic!("{target}: no in-process answer within {LIMIT:?}"));
        if answer.status != 400 {
            problems.push(format!(
                "{target} (in process): want 400, got {} body {}",
                answer.status,
                short(&answer.body)
            ));
        }
    }
    let reached = s.users.request_lines();
    if !reached.is_empty() || s.users.connections() != 0 {
        problems.push(format!(
            "the backend must receive nothing; it got {} connection(s), request lines {reached:?}",
            s.users.connections()
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The endpoint itself works.
    let r = s.served.get("/users/john", LIMIT).await;
    assert_eq!((r.status, r.completed()), (200, Some("true")), "{}", r.text());
}

#[tokio::test]
async fn double_encoded_slash_parameter_is_400_encoded_url_params() {
    let s = setup().await;
    let r = reply(raw(&s.served, &get_bytes("/users/a%252Fb", "")).await, "/users/a%252Fb");
    assert_eq!(r.status, 400, "body {}", r.text());
    assert_eq!(r.body, b"error: encoded url params", "body");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"), "content type");
    assert_eq!(r.completed(), None, "no X-Krakend-Completed on this 400");

    let answer =
        tokio::time::timeout(LIMIT, s.served.gateway.handle(GatewayRequest::new(Method::GET, "/users/a%252Fb")))
            .await
            .expect("in-process answer in time");
    assert_eq!(answer.status, 400, "in process");
    assert_eq!(answer.body.as_ref(), b"error: encoded url params", "in process");

    assert_eq!(s.users.connections(), 0, "the backend must receive nothing");
}

#[tokio::test]
async fn encoded_slash_parameter_is_404() {
    let s = setup().await;
    let r = reply(raw(&s.served, &get_bytes("/users/a%2Fb", "")).await, "/users/a%2Fb");
    assert_eq!(r.status, 404, "body {}", r.text());
    let answer = tokio::time::timeout(LIMIT, s.served.gateway.handle(GatewayRequest::new(Method::GET, "/users/a%2Fb")))
        .await
        .expect("in-process answer in time");
    assert_eq!(answer.status, 404, "in process");
    assert_eq!(s.users.connections(), 0, "the backend must receive nothing");
}

#[tokio::test]
async fn encoded_space_parameter_reaches_the_backend_reencoded() {
    let s = setup().await;
    let r = reply(raw(&s.served, &get_bytes("/users/john%20doe", "")).await, "/users/john%20doe");
    assert_eq!(
        (r.status, r.completed(), r.body.as_slice()),
        (200, Some("true"), br#"{"user":true}"#.as_slice()),
        "body {}",
        r.text()
    );
    assert_eq!(s.users.request_lines(), vec!["GET /base/john%20doe HTTP/1.1".to_owned()], "the backend's request line");
}
