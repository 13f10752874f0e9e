//! Robustness against misbehaving backends (invalid or cut bodies, resets, hangs, redirect
//! loops, malformed HTTP): raw TCP chaos backends on 127.0.0.1 write exactly the bytes each test
//! chooses, and the gateway (over the local server on a real socket, and in process where cheap)
//! must give KrakenD's answer without panicking, hanging or losing data, and keep serving
//! afterwards.

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tributary_core::{GatewayRequest, GatewayResponse};
use tributary_e2e::chaos::{Backend, Reply, Served, finish, reset, response, short};

/// Margin added to an endpoint timeout when waiting for an answer: generous on purpose (slow CI);
/// it only catches hangs.
const MARGIN: Duration = Duration::from_secs(4);

/// The answer of the well-behaved backend behind `/ok`.
const GOOD_BODY: &str = r#"{"fine":true}"#;

/// A config with `/x` (GET, `timeout`) on the chaos backend(s) and `/ok` on a good backend.
fn config(chaos_hosts: &[String], timeout: &str, good: &Backend) -> String {
    let backends: Vec<Value> = chaos_hosts.iter().map(|host| json!({"host": [host], "url_pattern": "/x"})).collect();
    json!({
        "version": 3,
        "endpoints": [
            {"endpoint": "/x", "timeout": timeout, "backend": backends},
            {"endpoint": "/ok", "timeout": "2s",
             "backend": [{"host": [good.url()], "url_pattern": "/ok"}]}
        ]
    })
    .to_string()
}

fn parse_ms(timeout: &str) -> Duration {
    if let Some(ms) = timeout.strip_suffix("ms") {
        Duration::from_millis(ms.parse().expect("timeout in ms"))
    } else {
        let s = timeout.strip_suffix('s').expect("timeout in s or ms");
        Duration::from_secs(s.parse().expect("timeout in s"))
    }
}

fn header<'a>(response: &'a GatewayResponse, name: &str) -> Option<&'a str> {
    response.headers.get(name).and_then(|v| v.to_str().ok())
}

/// What one request to `/x` produced, over the socket and in process.
struct Seen {
    socket: Reply,
    socket_elapsed: Duration,
    in_process: Option<GatewayResponse>,
}

/// Starts the gateway in front of `chaos` (plus a good `/ok` backend), sends `GET /x` over a
/// real socket (and in process when `in_process`), checks status and `X-Krakend-Completed` on
/// both, then checks that `/ok` is still served normally.
async fn run(chaos: &[&Backend], timeout: &str, in_process: bool, want_status: u16, want_completed: &str) -> Seen {
    let good = Backend::json(GOOD_BODY).await;
    let hosts: Vec<String> = chaos.iter().map(|b| b.url()).collect();
    let served = Served::start(&config(&hosts, timeout, &good)).await;
    let limit = parse_ms(timeout) + MARGIN;

    let started = Instant::now();
    let socket = served.get("/x", limit).await;
    let socket_elapsed = started.elapsed();
    assert_eq!(
        (socket.status, socket.completed()),
        (want_status, Some(want_completed)),
        "over the socket: status/completed; body {}",
        socket.text()
    );

    let in_process = if in_process {
        let request = GatewayRequest::new(Method::GET, "/x");
        let answer = tokio::time::timeout(limit, served.gateway.handle(request))
            .await
            .unwrap_or_else(|_| panic!("in process: no answer within {limit:?}"));
        assert_eq!(
            (answer.status.as_u16(), header(&answer, "x-krakend-completed")),
            (want_status, Some(want_completed)),
            "in process: status/completed; body {}",
            short(&answer.body)
        );
        Some(answer)
    } else {
        None
    };

    assert_still_serves(&served).await;
    Seen { socket, socket_elapsed, in_process }
}

/// The gateway is not stuck: `/ok` answers 200/true with the good backend's body, promptly.
async fn assert_still_serves(served: &Served) {
    let reply = served.get("/ok", Duration::from_secs(5)).await;
    assert_eq!(
        (reply.status, reply.completed()),
        (200, Some("true")),
        "the gateway no longer serves a normal request; body {}",
        reply.text()
    );
    assert_eq!(reply.body, GOOD_BODY.as_bytes(), "normal request body");
}

fn json_body(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", short(bytes)))
}

/// A backend answering 200 `application/json` with `body` (correct `Content-Length`).
async fn json_backend(body: &[u8]) -> Backend {
    Backend::fixed(response("HTTP/1.1 200 OK", &[("Content-Type", "application/json")], body)).await
}

#[tokio::test]
async fn invalid_json_is_500() {
    let chaos = json_backend(br#"{"a": 1,, "b": }"#).await;
    run(&[&chaos], "1s", true, 500, "false").await;
}

#[tokio::test]
async fn json_cut_short_is_500() {
    // A valid HTTP message whose JSON payload stops in the middle.
    let chaos = json_backend(br#"{"a": [1, 2, {"b": "c"#).await;
    run(&[&chaos], "1s", true, 500, "false").await;
}

#[tokio::test]
async fn invalid_utf8_in_json_string_is_replaced() {
    // 0xFF and 0xFE are never valid; 0xE2 0x82 is a truncated 3-byte sequence: Go's decoder
    // replaces each bad byte with U+FFFD (two of them for the truncated sequence).
    let chaos = json_backend(b"{\"a\":\"x\xffy\xe2\x82z\",\"k\xfe\":1}").await;
    let seen = run(&[&chaos], "1s", true, 200, "true").await;
    let want = json!({"a": "x\u{FFFD}y\u{FFFD}\u{FFFD}z", "k\u{FFFD}": 1});
    assert_eq!(json_body(&seen.socket.body), want, "over the socket");
    let in_process = seen.in_process.expect("in-process answer");
    assert_eq!(json_body(&in_process.body), want, "in process");
}

#[tokio::test]
async fn body_of_50_mb_is_complete() {
    // {"items":["000000-xxx...","000001-xxx...",...]}: ~52.6 MB, compact, one key, strings of
    // [0-9a-z-] only, so the gateway's re-encoding is byte-identical.
    const ITEMS: usize = 52_500;
    let pad = "x".repeat(992);
    let mut body = Vec::with_capacity(ITEMS * 1003 + 16);
    body.extend_from_slice(b"{\"items\":[");
    for i in 0..ITEMS {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(format!("\"{i:06}-{pad}\"").as_bytes());
    }
    body.extend_from_slice(b"]}");
    assert!(body.len() > 50 * 1024 * 1024);
    let last = format!(",\"{:06}-{pad}\"]}}", ITEMS - 1);

    let chaos = json_backend(&body).await;
    let seen = run(&[&chaos], "10s", false, 200, "true").await;
    let got = &seen.socket.body;
    assert_eq!(got.len(), body.len(), "body length");
    assert!(
        got.ends_with(last.as_bytes()),
        "the body does not end with the last element: ...{}",
        String::from_utf8_lossy(&got[got.len().saturating_sub(100)..])
    );
    assert!(*got == body, "the body differs from the backend's");
}

#[tokio::test]
async fn fewer_bytes_than_content_length_is_500() {
    let chaos = Backend::start(|mut stream, _head| async move {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(br#"{"a":"only part of"#).await;
        finish(stream).await;
    })
    .await;
    run(&[&chaos], "1s", true, 500, "false").await;
}

#[tokio::test]
async fn connection_reset_is_500() {
    let chaos = Backend::start(|stream, _head| async move { reset(stream) }).await;
    run(&[&chaos], "1s", true, 500, "false").await;
}

#[tokio::test]
async fn never_answers_is_500_at_timeout() {
    let chaos = Backend::start(|stream, _head| async move {
        // Holds the connection open (until the backend is dropped) and never writes.
        std::future::pending::<()>().await;
        drop(stream);
    })
    .await;
    let seen = run(&[&chaos], "500ms", true, 500, "false").await;
    // Loose bounds only: not before half the timeout, and well within timeout + MARGIN (the
    // latter is already enforced by the request's own time limit).
    assert!(
        seen.socket_elapsed >= Duration::from_millis(250),
        "answered after {:?}, before the endpoint timeout could expire",
        seen.socket_elapsed
    );
}

#[tokio::test]
async fn trickle_one_byte_every_200ms_is_500_at_timeout() {
    let chaos = Backend::start(|mut stream, _head| async move {
        let body = format!("{{\"a\":\"{}\"}}", "y".repeat(40));
        let reply = response("HTTP/1.1 200 OK", &[("Content-Type", "application/json")], body.as_bytes());
        for byte in reply {
            if stream.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        finish(stream).await;
    })
    .await;
    let seen = run(&[&chaos], "600ms", true, 500, "false").await;
    assert!(
        seen.socket_elapsed >= Duration::from_millis(300),
        "answered after {:?}, before the endpoint timeout could expire",
        seen.socket_elapsed
    );
}

#[tokio::test]
async fn http_1_0_without_content_length_until_close_is_200() {
    let chaos = Backend::fixed(Bytes::from_static(
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1,\"b\":[true,null]}",
    ))
    .await;
    let seen = run(&[&chaos], "1s", true, 200, "true").await;
    let want = json!({"a": 1, "b": [true, null]});
    assert_eq!(json_body(&seen.socket.body), want, "over the socket");
    let in_process = seen.in_process.expect("in-process answer");
    assert_eq!(json_body(&in_process.body), want, "in process");
}

#[tokio::test]
async fn no_content_204_is_500() {
    let chaos = Backend::fixed(Bytes::from_static(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")).await;
    run(&[&chaos], "1s", true, 500, "false").await;
}

#[tokio::test]
async fn redirect_to_itself_forever_is_500() {
    let chaos = Backend::fixed(response("HTTP/1.1 302 Found", &[("Location", "/x")], b"")).await;
    run(&[&chaos], "2s", false, 500, "false").await;
    // Go (and KrakenD) give up after 10 redirects: 11 requests. Loosely: it followed some and
    // stopped.
    let hits = chaos.requests();
    assert!((2..=12).contains(&hits), "the backend received {hits} requests for one client request");
}

#[tokio::test]
async fn bad_chunk_size_is_500() {
    let chaos = Backend::fixed(Bytes::from_static(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
          Connection: close\r\n\r\nzz\r\n{\"a\":1}\r\n0\r\n\r\n",
    ))
    .await;
    run(&[&chaos], "1s", true, 500, "false").await;
}

#[tokio::test]
async fn reply_that_is_not_http_is_500() {
    let chaos =
        Backend::fixed(Bytes::from_static(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 this is not HTTP at all\r\n\r\n"))
            .await;
    run(&[&chaos], "1s", true, 500, "false").await;
}

#[tokio::test]
async fn a_thousand_response_headers_is_200() {
    let names: Vec<String> = (0..1000).map(|i| format!("X-Chaos-{i:04}")).collect();
    let headers: Vec<(&str, &str)> = std::iter::once(("Content-Type", "application/json"))
        .chain(names.iter().map(|n| (n.as_str(), "some-value")))
        .collect();
    let chaos = Backend::fixed(response("HTTP/1.1 200 OK", &headers, br#"{"a":1}"#)).await;
    let seen = run(&[&chaos], "1s", true, 200, "true").await;
    assert_eq!(json_body(&seen.socket.body), json!({"a": 1}));
}

#[tokio::test]
async fn one_good_backend_and_one_reset_is_partial_200() {
    let good_part = json_backend(br#"{"good":1}"#).await;
    let resets = Backend::start(|stream, _head| async move { reset(stream) }).await;
    let seen = run(&[&good_part, &resets], "1s", true, 200, "false").await;
    assert_eq!(json_body(&seen.socket.body), json!({"good": 1}), "over the socket");
    let in_process = seen.in_process.expect("in-process answer");
    assert_eq!(json_body(&in_process.body), json!({"good": 1}), "in process");
}

/// Every misbehaviour at once, several times each, on one gateway: afterwards a normal request
/// is still answered promptly (nothing got stuck: no leaked permit, lock or connection slot).
#[tokio::test]
async fn still_serves_after_concurrent_chaos() {
    let never = Backend::start(|stream, _head| async move {
        std::future::pending::<()>().await;
        drop(stream);
    })
    .await;
    let resets = Backend::start(|stream, _head| async move { reset(stream) }).await;
    let short_body = Backend::start(|mut stream, _head| async move {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"a\"").await;
        finish(stream).await;
    })
    .await;
    let not_http = Backend::fixed(Bytes::from_static(b"garbage\r\n\r\n")).await;
    let bad_chunk =
        Backend::fixed(Bytes::from_static(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n")).await;
    let loops = Backend::fixed(response("HTTP/1.1 307 Again", &[("Location", "/c")], b"")).await;
    let invalid = json_backend(b"{nope").await;
    let good = Backend::json(GOOD_BODY).await;

    let chaos = [&never, &resets, &short_body, &not_http, &bad_chunk, &loops, &invalid];
    let mut endpoints: Vec<Value> = chaos
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"endpoint": format!("/c{i}"), "timeout": "500ms",
                   "backend": [{"host": [b.url()], "url_pattern": "/c"}]})
        })
        .collect();
    endpoints.push(json!({"endpoint": "/ok", "timeout": "2s",
                          "backend": [{"host": [good.url()], "url_pattern": "/ok"}]}));
    let served = Served::start(&json!({"version": 3, "endpoints": endpoints}).to_string()).await;

    let mut requests = tokio::task::JoinSet::new();
    for round in 0..5 {
        for i in 0..chaos.len() {
            let addr = served.addr;
            requests.spawn(async move {
                let reply = tributary_e2e::chaos::get(addr, &format!("/c{i}"), Duration::from_secs(6)).await;
                (round, i, reply)
            });
        }
    }
    while let Some(done) = requests.join_next().await {
        let (round, i, reply) = done.expect("request task");
        assert_eq!(
            (reply.status, reply.completed()),
            (500, Some("false")),
            "round {round}, /c{i}: body {}",
            reply.text()
        );
    }

    let started = Instant::now();
    assert_still_serves(&served).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a normal request took {:?} after the chaos",
        started.elapsed()
    );
}
