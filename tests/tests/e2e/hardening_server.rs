//! Hardening of the local server (`tributary run`) against clients, checked over real sockets on
//! 127.0.0.1 with raw `TcpStream` clients: the request read deadlines (`read_timeout`,
//! `read_header_timeout`, `idle_timeout`) as Go's `http.Server` applies them, the body limit
//! answered before any body byte is read, `Host` checks and absolute-form targets as Go's
//! `net/http` does them, and `CONNECT` answered once and closed. Every wait is bounded; the
//! bounds only catch hangs.

use serde_json::{Value, json};
use std::net::SocketAddr;

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tributary_e2e::chaos::{Backend, Outcome, Reply, Served, exchange, read_response, short};
use tributary_e2e::process::GatewayProcess;

/// The backend's answer.
const GOOD_BODY: &str = r#"{"fine":true}"#;
/// Time limit for one exchange: generous, it only catches hangs.
const LIMIT: Duration = Duration::from_secs(5);
/// The local server's body limit (`tributary_functions::server::MAX_BODY_BYTES`).
const MAX_BODY: usize = tributary_functions::server::MAX_BODY_BYTES;

/// `GET /x` and `POST /post` on `backend`, with `service` merged into the service level.
fn config(backend: &Backend, service: Value) -> String {
    let mut config = json!({
        "version": 3,
        "endpoints": [
            {"endpoint": "/x", "timeout": "2s",
             "backend": [{"host": [backend.url()], "url_pattern": "/x"}]},
            {"endpoint": "/post", "method": "POST", "timeout": "2s",
             "backend": [{"host": [backend.url()], "url_pattern": "/post"}]}
        ]
    });
    if let (Some(root), Some(extra)) = (config.as_object_mut(), service.as_object()) {
        for (k, v) in extra {
            root.insert(k.clone(), v.clone());
        }
    }
    config.to_string()
}

async fn serve(service: Value) -> (Backend, Served) {
    let backend = Backend::json(GOOD_BODY).await;
    let served = Served::start(&config(&backend, service)).await;
    (backend, served)
}

async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(LIMIT, TcpStream::connect(addr)).await.expect("connect in time").expect("connect")
}

/// Sends raw request bytes on a new connection and returns what came back (panics on a hang).
async fn raw(served: &Served, request: &[u8]) -> Outcome {
    exchange(served.addr, request, LIMIT)
        .await
        .unwrap_or_else(|| panic!("no answer and no close within {LIMIT:?} for {}", short(request)))
}

fn reply(outcome: Outcome, what: &str) -> Reply {
    match outcome {
        Outcome::Reply(reply) => reply,
        other => panic!("{what}: no response: {other:?}"),
    }
}

/// Everything the server sends until it closes the connection; `None` when it is still open
/// after `limit`. A reset counts as a close.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| received)
}

/// Writes `bytes` one at a time, one every `every`, until the server closes the connection (the
/// answer it sent by then is returned with the time that took) or `limit` passes (`None`).
async fn trickle_until_closed(
    stream: &mut TcpStream,
    bytes: &[u8],
    every: Duration,
    limit: Duration,
) -> Option<(Vec<u8>, Duration)> {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut next = 0;
    let mut tick = tokio::time::interval(every);
    let result = tokio::time::timeout(limit, async {
        loop {
            tokio::select! {
                read = stream.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => received.extend_from_slice(&chunk[..n]),
                },
                _ = tick.tick(), if next < bytes.len() => {
                    // A failed write means the server is gone; the read side says so next.
                    if stream.write_all(&bytes[next..=next]).await.is_ok() {
                        next += 1;
                    }
                }
            }
        }
    })
    .await;
    result.ok().map(|()| (received, started.elapsed()))
}

/// The status code of a raw response's first line (`HTTP/1.1 413 ...`).
fn first_status(raw: &[u8]) -> Option<u16> {
    let line = raw.split(|b| *b == b'\n').next()?;
    std::str::from_utf8(line).ok()?.split_whitespace().nth(1)?.parse().ok()
}

/// Parses every complete response in `raw`; the leftover bytes come back too.
fn responses(mut raw: &[u8]) -> (Vec<Reply>, Vec<u8>) {
    let mut out = Vec::new();
    loop {
        let mut storage = [httparse::EMPTY_HEADER; 64];
        let mut head = httparse::Response::new(&mut storage);
        let Ok(httparse::Status::Complete(len)) = head.parse(raw) else { break };
        let headers: Vec<(String, String)> = head
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
            .collect();
        let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        if raw.len() < len + length {
            break;
        }
        out.push(Reply { status: head.code.unwrap_or(0), headers, body: raw[len..len + length].to_vec() });
        raw = &raw[len + length..];
    }
    (out, raw.to_vec())
}

// ---------------------------------------------------------------------------------------------
// Item 4: read deadlines and the body limit
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn body_trickled_past_read_timeout_is_cut() {
    let (backend, served) = serve(json!({"read_timeout": "2s"})).await;
    let mut stream = connect(served.addr).await;
    stream
        .write_all(
            b"POST /post HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        )
        .await
        .expect("write the head");
    // 48 bytes of the 1,000 announced in 12 s: the body never completes on its own.
    let body = vec![b' '; 48];
    let cut = trickle_until_closed(&mut stream, &body, Duration::from_millis(250), Duration::from_secs(12)).await;
    let (answer, after) =
        cut.expect("a body trickled one byte every 250 ms is still open 12 s after a 2 s read_timeout");
    assert!(after >= Duration::from_millis(1500), "cut after {after:?}, before the 2 s read_timeout");
    if !answer.is_empty() {
        assert_eq!(first_status(&answer), Some(408), "the only answer allowed is 408: {}", short(&answer));
    }
    assert_eq!(backend.requests(), 0, "a request whose body never arrived reached the backend");
}

#[tokio::test]
async fn head_trickled_past_read_timeout_is_cut_when_read_header_timeout_is_unset() {
    let (backend, served) = serve(json!({"read_timeout": "2s"})).await;
    let mut stream = connect(served.addr).await;
    let head = format!("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {}\r\n\r\n", "a".repeat(100));
    let cut =
        trickle_until_closed(&mut stream, head.as_bytes(), Duration::from_millis(100), Duration::from_secs(8)).await;
    let (answer, after) =
        cut.expect("a head trickled one byte every 100 ms is still open 8 s after a 2 s read_timeout");
    assert!(after >= Duration::from_millis(1500), "cut after {after:?}, before the 2 s read_timeout");
    assert!(answer.is_empty(), "a timed-out head gets no answer (as Go): {}", short(&answer));
    assert_eq!(backend.requests(), 0);
}

#[tokio::test]
async fn read_header_timeout_bounds_the_head_alone() {
    let (_backend, served) = serve(json!({"read_header_timeout": "1s", "read_timeout": "30s"})).await;

    // A head trickled past 1 s is cut.
    let mut stream = connect(served.addr).await;
    let head = format!("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {}\r\n\r\n", "a".repeat(100));
    let cut =
        trickle_until_closed(&mut stream, head.as_bytes(), Duration::from_millis(100), Duration::from_secs(8)).await;
    assert!(cut.is_some(), "a head trickled past the 1 s read_header_timeout is still open after 8 s");

    // A body taking longer than 1 s is still read: the 30 s read_timeout covers it.
    let mut stream = connect(served.addr).await;
    stream
        .write_all(b"POST /post HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\n")
        .await
        .expect("write the head");
    let body = b"{\"a\":12}";
    let answered = trickle_until_closed(&mut stream, body, Duration::from_millis(250), LIMIT + LIMIT).await;
    let (answer, _) = answered.expect("a 2 s body under a 30 s read_timeout got no answer");
    assert_eq!(first_status(&answer), Some(200), "{}", short(&answer));
}

/// One keep-alive `GET /x` on `stream`, answered 200.
async fn keep_alive_get(stream: &mut TcpStream) {
    stream.write_all(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.expect("write a request");
    let outcome = tokio::time::timeout(LIMIT, read_response(stream)).await.expect("an answer in time");
    let r = reply(outcome, "keep-alive GET /x");
    assert_eq!((r.status, r.body.as_slice()), (200, GOOD_BODY.as_bytes()), "{}", r.text());
}

async fn idle_connection_is_closed(service: Value, what: &str) {
    let (_backend, served) = serve(service).await;
    let mut stream = connect(served.addr).await;
    keep_alive_get(&mut stream).await;
    // Reused well within the idle timeout, the connection still serves.
    tokio::time::sleep(Duration::from_millis(100)).await;
    keep_alive_get(&mut stream).await;
    let started = Instant::now();
    let rest = read_until_closed(&mut stream, Duration::from_secs(6))
        .await
        .unwrap_or_else(|| panic!("{what}: an idle keep-alive connection is still open 6 s later"));
    assert!(rest.is_empty(), "{what}: an idle connection is closed without a word: {}", short(&rest));
    assert!(started.elapsed() >= Duration::from_millis(500), "{what}: closed after {:?}", started.elapsed());
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_at_idle_timeout() {
    idle_connection_is_closed(json!({"idle_timeout": "1s", "read_header_timeout": "30s"}), "idle_timeout 1s").await;
}

#[tokio::test]
async fn idle_timeout_falls_back_to_read_timeout() {
    idle_connection_is_closed(json!({"read_timeout": "1s"}), "read_timeout 1s, no idle_timeout").await;
}

#[tokio::test]
async fn answer_read_slowly_is_not_cut_by_the_idle_timeout() {
    // Go starts the idle wait once the answer is written (only `write_timeout` bounds the write):
    // a client that pauses while reading a large answer must get all of it.
    const BIG: usize = 8 * 1024 * 1024;
    let body = vec![b'7'; BIG];
    let backend = Backend::fixed(tributary_e2e::chaos::response(
        "HTTP/1.1 200 OK",
        &[("Content-Type", "application/json")],
        &body,
    ))
    .await;
    let config = json!({
        "version": 3,
        "idle_timeout": "1s",
        "read_timeout": "1s",
        "endpoints": [{"endpoint": "/big", "timeout": "5s", "output_encoding": "no-op",
                       "backend": [{"host": [backend.url()], "url_pattern": "/big", "encoding": "no-op"}]}]
    });
    let served = Served::start(&config.to_string()).await;
    // A small receive buffer keeps most of the answer in the server while the client pauses.
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
    let mut stream =
        tokio::time::timeout(LIMIT, socket.connect(served.addr)).await.expect("connect in time").expect("connect");
    stream.write_all(b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.expect("write the request");
    let mut received = Vec::with_capacity(BIG + 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut read_some = async |received: &mut Vec<u8>, until: usize| {
        while received.len() < until {
            match tokio::time::timeout(LIMIT, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return false,
                Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
                Err(_) => panic!("no bytes within {LIMIT:?} after {} received", received.len()),
            }
        }
        true
    };
    assert!(read_some(&mut received, 1024 * 1024).await, "closed before the first MB");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let head = received.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |at| at + 4);
    let complete = read_some(&mut received, head + BIG).await;
    let (answers, _) = responses(&received);
    assert!(
        complete && answers.len() == 1 && answers[0].body.len() == BIG,
        "the answer was cut after {} bytes (a pause longer than idle_timeout while reading it)",
        received.len()
    );
    assert_eq!(answers[0].status, 200);
}

#[tokio::test]
async fn oversized_content_length_gets_413_before_the_body_is_read() {
    let (backend, served) = serve(json!({})).await;
    for expect in ["Expect: 100-continue\r\n", ""] {
        let mut stream = connect(served.addr).await;
        let head = format!(
            "POST /post HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{expect}\
             Content-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        stream.write_all(head.as_bytes()).await.expect("write the head");
        // No body byte is sent: the answer must not wait for one.
        let answer = read_until_closed(&mut stream, LIMIT)
            .await
            .unwrap_or_else(|| panic!("{expect:?}: no 413 and no close within {LIMIT:?}"));
        assert_eq!(
            first_status(&answer),
            Some(413),
            "{expect:?}: the first (and only) answer must be 413: {}",
            short(&answer)
        );
        let (answers, rest) = responses(&answer);
        assert_eq!(answers.len(), 1, "{expect:?}: one answer, then the close: {}", short(&answer));
        assert!(rest.is_empty(), "{expect:?}: bytes after the answer: {}", short(&rest));
        assert_eq!(
            answers[0].header("connection"),
            Some("close"),
            "{expect:?}: the 413 says Connection: close: {:?}",
            answers[0].headers
        );
    }
    assert_eq!(backend.requests(), 0);
}

#[tokio::test]
async fn content_length_at_the_limit_gets_100_continue() {
    let (_backend, served) = serve(json!({})).await;
    let mut stream = connect(served.addr).await;
    let head =
        format!("POST /post HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: {MAX_BODY}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("write the head");
    let mut first = vec![0u8; 64];
    let n = tokio::time::timeout(LIMIT, stream.read(&mut first)).await.expect("an answer in time").expect("read");
    assert!(first[..n].starts_with(b"HTTP/1.1 100 Continue"), "{}", short(&first[..n]));
}

// ---------------------------------------------------------------------------------------------
// Item 6: Host
// ---------------------------------------------------------------------------------------------

/// Checks a Go-style 400 from the door: text body, `Connection: close`, then the close.
async fn assert_go_400(served: &Served, request: &[u8], body: &str) {
    let mut stream = connect(served.addr).await;
    stream.write_all(request).await.expect("write the request");
    let answer = read_until_closed(&mut stream, LIMIT)
        .await
        .unwrap_or_else(|| panic!("{}: no answer and no close within {LIMIT:?}", short(request)));
    let (answers, rest) = responses(&answer);
    assert_eq!(answers.len(), 1, "{}: one answer, then the close: {}", short(request), short(&answer));
    let r = &answers[0];
    assert_eq!(r.status, 400, "{}: {}", short(request), short(&answer));
    assert_eq!(r.text(), body, "{}", short(request));
    // Go repeats the words on the status line: `HTTP/1.1 400 Bad Request: <why>`.
    let status_line = format!("HTTP/1.1 {}\r\n", body);
    assert!(answer.starts_with(status_line.as_bytes()), "{}: status line of {}", short(request), short(&answer));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"), "{}", short(request));
    assert_eq!(r.header("connection"), Some("close"), "{}", short(request));
    assert!(rest.is_empty(), "{}: bytes after the answer: {}", short(request), short(&rest));
}

#[tokio::test]
async fn two_host_headers_get_400_too_many_host_headers() {
    let (backend, served) = serve(json!({})).await;
    assert_go_400(
        &served,
        b"GET /x HTTP/1.1\r\nHost: a.example.com\r\nHost: b.example.com\r\n\r\n",
        "400 Bad Request: too many Host headers",
    )
    .await;
    // Two identical lines are two lines too.
    assert_go_400(
        &served,
        b"GET /x HTTP/1.1\r\nHost: a.example.com\r\nhost: a.example.com\r\n\r\n",
        "400 Bad Request: too many Host headers",
    )
    .await;
    assert_eq!(backend.requests(), 0);
}

#[tokio::test]
async fn http_1_1_request_without_host_gets_400_missing_host() {
    let (backend, served) = serve(json!({})).await;
    assert_go_400(&served, b"GET /x HTTP/1.1\r\n\r\n", "400 Bad Request: missing required Host header").await;
    // Go requires the header even when the target names a host.
    assert_go_400(&served, b"GET http://127.0.0.1/x HTTP/1.1\r\n\r\n", "400 Bad Request: missing required Host header")
        .await;
    assert_eq!(backend.requests(), 0);
}

#[tokio::test]
async fn malformed_host_header_gets_400() {
    let (backend, served) = serve(json!({})).await;
    for host in ["a b", "a/b", "user@example.com", "a\"b"] {
        let request = format!("GET /x HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_go_400(&served, request.as_bytes(), "400 Bad Request: malformed Host header").await;
    }
    assert_eq!(backend.requests(), 0);
}

#[tokio::test]
async fn http_1_0_request_without_host_is_served() {
    let (_backend, served) = serve(json!({})).await;
    let r = reply(raw(&served, b"GET /x HTTP/1.0\r\n\r\n").await, "HTTP/1.0 without Host");
    assert_eq!((r.status, r.body.as_slice()), (200, GOOD_BODY.as_bytes()), "{}", r.text());
    // An empty Host line is a Host line (Go accepts it).
    let r = reply(raw(&served, b"GET /x HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n").await, "empty Host");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn absolute_form_target_host_replaces_the_host_header() {
    let backend = Backend::json(GOOD_BODY).await;
    let mut cfg: Value = serde_json::from_str(&config(&backend, json!({}))).expect("config JSON");
    cfg["extra_config"] = json!({"security/http": {"allowed_hosts": ["api.example.com"]}});
    let served = Served::start(&cfg.to_string()).await;

    let r = reply(
        raw(&served, b"GET http://evil.com/x HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n").await,
        "absolute-form evil.com",
    );
    assert_eq!((r.status, r.body.as_slice()), (400, b"Bad Host".as_slice()), "the target's host decides: {}", r.text());
    assert_eq!(backend.requests(), 0, "a request for a host not allowed reached the backend");

    let r = reply(
        raw(&served, b"GET http://api.example.com/x?q=1 HTTP/1.1\r\nHost: evil.com\r\nConnection: close\r\n\r\n").await,
        "absolute-form api.example.com",
    );
    assert_eq!((r.status, r.body.as_slice()), (200, GOOD_BODY.as_bytes()), "{}", r.text());
    // Routed on the target's path; the backend gets the origin-form path.
    assert_eq!(backend.request_lines(), vec!["GET /x HTTP/1.1".to_owned()]);

    // The origin form keeps using the Host header.
    let r = reply(
        raw(&served, b"GET /x HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n").await,
        "origin-form",
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

// ---------------------------------------------------------------------------------------------
// Item 7: CONNECT
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn connect_is_answered_once_and_the_connection_closed() {
    let (backend, served) = serve(json!({})).await;
    for tail in ["", "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", "hello, tunnel"] {
        let request = format!("CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n{tail}");
        let mut stream = connect(served.addr).await;
        stream.write_all(request.as_bytes()).await.expect("write the request");
        let answer = read_until_closed(&mut stream, LIMIT)
            .await
            .unwrap_or_else(|| panic!("CONNECT + {tail:?}: no answer and no close within {LIMIT:?}"));
        let (answers, rest) = responses(&answer);
        assert_eq!(answers.len(), 1, "CONNECT + {tail:?}: exactly one answer: {}", short(&answer));
        assert!(rest.is_empty(), "CONNECT + {tail:?}: bytes after the answer: {}", short(&rest));
        let r = &answers[0];
        assert_eq!(r.status, 400, "CONNECT + {tail:?}: {}", short(&answer));
        assert_eq!(r.header("connection"), Some("close"), "CONNECT + {tail:?}: {:?}", r.headers);
    }
    assert_eq!(backend.connections(), 0, "bytes after a CONNECT were served as a request");
}

// ---------------------------------------------------------------------------------------------
// Item 4 under load, in the real binary: memory held by stalled bodies returns after the cut
// ---------------------------------------------------------------------------------------------

const MB: u64 = 1024 * 1024;
const CLIENTS: usize = 100;
const SENT_PER_CLIENT: usize = 15 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_stalled_15_mb_bodies_are_cut_at_read_timeout_and_their_memory_returns() {
    let backend = Backend::json(GOOD_BODY).await;
    // Long enough for the 100 clients to send 1.5 GB to a debug build on a busy machine; every
    // client must be cut by it, not by anything else.
    let read_timeout = Duration::from_secs(15);
    // mimalloc hands freed pages back to the system lazily, on the thread that owns them, which
    // may stay idle for minutes on a busy host; at once, RSS shows what is still held.
    let server = GatewayProcess::start_with_env(
        &config(&backend, json!({"read_timeout": format!("{}s", read_timeout.as_secs())})),
        &[("MIMALLOC_PURGE_DELAY", "0")],
    );
    let addr = server.addr;
    let rss = || server.memory_kib("VmRSS") * 1024;

    // Up, and warmed by a few requests.
    let started = Instant::now();
    loop {
        if let Some(Outcome::Reply(r)) =
            exchange(addr, b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", LIMIT).await
            && r.status == 200
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "`tributary run` did not serve within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..10 {
        let _ = exchange(addr, b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", LIMIT).await;
    }
    let before = rss();

    // 100 clients announce 16 MB, send 15 MB, then stall; each waits for the server to cut it.
    let load_started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::channel::<()>(CLIENTS);
    for _ in 0..CLIENTS {
        let sent_tx = sent_tx.clone();
        clients.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
            let head = format!(
                "POST /post HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: {MAX_BODY}\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await.map_err(|e| format!("head: {e}"))?;
            let block = vec![b' '; 256 * 1024];
            for _ in 0..SENT_PER_CLIENT / block.len() {
                stream.write_all(&block).await.map_err(|e| format!("body: {e}"))?;
            }
            let _ = sent_tx.send(()).await;
            read_until_closed(&mut stream, Duration::from_secs(120)).await.ok_or("not cut within 120 s".to_owned())
        });
    }
    drop(sent_tx);

    // Peak: once every client has written its 15 MB (the socket buffers hold little of it).
    let mut written = 0;
    while written < CLIENTS {
        match tokio::time::timeout(Duration::from_secs(120), sent_rx.recv()).await {
            Ok(Some(())) => written += 1,
            Ok(None) => break,
            Err(_) => panic!("only {written} of {CLIENTS} clients sent their 15 MB within 120 s"),
        }
    }
    let sent_in = load_started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = rss();

    // Every client is cut.
    let mut problems = Vec::new();
    while let Some(joined) = clients.join_next().await {
        match joined {
            Ok(Ok(answer)) if answer.is_empty() || first_status(&answer) == Some(408) => {}
            Ok(Ok(answer)) => problems.push(format!("unexpected answer {}", short(&answer))),
            Ok(Err(e)) => problems.push(e),
            Err(e) => problems.push(format!("client task: {e}")),
        }
    }
    let cut_after = load_started.elapsed();
    assert!(written == CLIENTS, "only {written} of {CLIENTS} clients sent their 15 MB: {problems:?}");
    assert!(problems.is_empty(), "{} of {CLIENTS} clients: {:?}", problems.len(), &problems[..problems.len().min(5)]);
    // Each deadline counts from its accept, after `load_started`: none may come sooner.
    assert!(
        cut_after >= read_timeout,
        "the last client was cut {cut_after:?} after the start, before the read timeout"
    );

    // The memory returns (mimalloc gives pages back lazily: keep the server a little busy and poll).
    let bound = before + 64 * MB;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut after = rss();
    while after > bound && Instant::now() < deadline {
        let _ = exchange(addr, b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", LIMIT).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = rss();
    }
    eprintln!(
        "{CLIENTS} clients sent 15 MB each in {sent_in:?}, all cut {cut_after:?} after the start; \
         RSS: before {} MB, peak with the stalled bodies {} MB, after the cut {} MB",
        before / MB,
        peak / MB,
        after / MB
    );
    assert!(after <= bound, "RSS after the cut {} MB, above {} MB before + 64 MB", after / MB, before / MB);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_one_byte_per_segment_costs_its_bytes_not_a_buffer_per_segment() {
    // Each arriving segment is a frame cut out of one of hyper's read buffers (8 KiB or more):
    // keeping the frames would cost kilobytes per byte trickled.
    const TRICKLERS: usize = 10;
    const BYTES: usize = 2000;
    let backend = Backend::json(GOOD_BODY).await;
    let server = GatewayProcess::start(&config(&backend, json!({"read_timeout": "60s"})));
    let addr = server.addr;
    for _ in 0..5 {
        let _ = exchange(addr, b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", LIMIT).await;
    }
    let before = server.memory_kib("VmRSS");
    let mut streams = Vec::new();
    for _ in 0..TRICKLERS {
        let stream = connect(addr).await;
        stream.set_nodelay(true).expect("TCP_NODELAY");
        streams.push(stream);
    }
    let head = format!("POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n", BYTES + 1);
    for s in &mut streams {
        s.write_all(head.as_bytes()).await.expect("head");
    }
    for _ in 0..BYTES {
        for s in &mut streams {
            s.write_all(b" ").await.expect("a body byte");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = server.memory_kib("VmRSS");
    // 20,000 segments held as frames would be 80 MB or more; as bytes they are 20 KB.
    let growth = during.saturating_sub(before);
    assert!(growth < 16 * 1024, "RSS grew by {growth} KiB while {TRICKLERS} bodies of {BYTES} bytes trickled in");
    for mut s in streams {
        s.write_all(b"{").await.expect("the last byte");
        let reply = reply(tokio::time::timeout(LIMIT, read_response(&mut s)).await.expect("an answer in time"), "POST");
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}
