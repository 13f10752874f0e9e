//! Self-checks of the harness that do not involve the gateway: the mock backends, the raw client
//! and the config substitution behave like `run_cases.py`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tributary_e2e::case::{CaseRequest, Route};
use tributary_e2e::client::{OutRequest, send};
use tributary_e2e::mock::{Mocks, Subst, UNMATCHED, backend_names};
use tributary_e2e::runner::gateway_config;

fn routes(text: &str) -> Vec<Route> {
    serde_json::from_str(text).unwrap()
}

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: Option<&str>) -> OutRequest {
    OutRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: [("Host", "127.0.0.1")]
            .iter()
            .chain(headers)
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .chain(body.map(|b| ("Content-Length".to_owned(), b.len().to_string())))
            .collect(),
        body: body.map(|b| b.as_bytes().to_vec()),
    }
}

fn addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

#[tokio::test]
async fn mocks_answer_their_routes_and_418_anything_else() {
    let a = routes(
        r#"[
        {"method": "GET", "path": "/u/john doe", "query": "", "status": 200,
         "headers": {"Content-Type": "application/json", "Set-Cookie": ["a=1", "b=2"]},
         "body": {"z": 1, "a": [true, null]}},
        {"method": "POST", "path": "/p", "request_headers": {"X-A": "1", "X-Multi": ["x", "y"]},
         "request_headers_present": ["X-P"], "request_headers_absent": ["X-Gone"],
         "request_body": {"k": "v"}, "status": 201, "headers": {}, "body": "created"},
        {"method": "GET", "path": "/moved", "status": 301, "headers": {"Location": "http://BACKEND_b/x"}, "body": ""},
        {"method": "GET", "path": "/empty", "status": 204, "headers": {}, "body": "ignored"},
        {"method": "HEAD", "path": "/h", "status": 200, "headers": {}, "body": "12345"},
        {"method": "GET", "path": "/slow", "delay_ms": 200, "status": 200, "headers": {}, "body": null}
    ]"#,
    );
    let mut all = BTreeMap::new();
    all.insert("a".to_owned(), a);
    all.insert("b".to_owned(), Vec::new());
    let mocks = Mocks::start_routes(all).await.unwrap();
    let url_a = mocks.mocks[0].url.clone();
    let url_b = mocks.mocks[1].url.clone();
    let to_a = addr(&url_a);

    let ok = send(to_a, &request("GET", "/u/john%20doe", &[], None)).await.unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(&ok.body[..], br#"{"z":1,"a":[true,null]}"#, "members in document order");
    assert_eq!(ok.header_values("set-cookie"), Some(vec!["a=1".to_owned(), "b=2".to_owned()]));
    assert_eq!(ok.header_values("content-length"), Some(vec!["23".to_owned()]));

    let with_query = send(to_a, &request("GET", "/u/john%20doe?x=1", &[], None)).await.unwrap();
    assert_eq!(with_query.status, 418);
    assert_eq!(&with_query.body[..], UNMATCHED);

    let post_headers = [("X-A", "1"), ("X-Multi", "x"), ("x-multi", "y"), ("X-P", "")];
    let post = send(to_a, &request("POST", "/p", &post_headers, Some(r#"{"k":"v"}"#))).await.unwrap();
    assert_eq!((post.status, &post.body[..]), (201, &b"created"[..]));
    let joined = [("X-A", "1"), ("X-Multi", "x, y"), ("X-P", "")];
    let wrong = send(to_a, &request("POST", "/p", &joined, Some(r#"{"k":"v"}"#))).await.unwrap();
    assert_eq!(wrong.status, 418, "a list matches the separate values only");
    let gone = [("X-A", "1"), ("X-Multi", "x"), ("X-Multi", "y"), ("X-P", "1"), ("X-Gone", "1")];
    let wrong = send(to_a, &request("POST", "/p", &gone, Some(r#"{"k":"v"}"#))).await.unwrap();
    assert_eq!(wrong.status, 418);
    let body = send(to_a, &request("POST", "/p", &post_headers, Some(r#"{"k": "v"}"#))).await.unwrap();
    assert_eq!(body.status, 418, "the body is compared byte for byte");

    let moved = send(to_a, &request("GET", "/moved", &[], None)).await.unwrap();
    assert_eq!(moved.status, 301, "redirects are not followed");
    assert_eq!(moved.header_values("location"), Some(vec![format!("{url_b}/x")]));

    let empty = send(to_a, &request("GET", "/empty", &[], None)).await.unwrap();
    assert_eq!((empty.status, empty.body.len()), (204, 0));
    assert_eq!(empty.header_values("content-length"), None);

    let head = send(to_a, &request("HEAD", "/h", &[], None)).await.unwrap();
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header_values("content-length"), Some(vec!["5".to_owned()]));

    let started = Instant::now();
    let slow = send(to_a, &request("GET", "/slow", &[], None)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!((slow.status, slow.body.len()), (200, 0));

    let b = send(addr(&url_b), &request("GET", "/", &[], None)).await.unwrap();
    assert_eq!(b.status, 418);

    let log = mocks.log_lines(false);
    assert_eq!(log.len(), 5, "only the unmatched requests: {log:#?}");
    assert!(log[0].starts_with("mock a: GET /u/john%20doe?x=1 -> 418 (query"), "{log:#?}");
    assert!(log[1].contains("header X-Multi"), "{log:#?}");
    assert!(log[2].contains("headers that must be absent: [\"X-Gone\"]"), "{log:#?}");
    assert!(log[3].contains("-> 418 (body"), "{log:#?}");
    assert_eq!(log[4], "mock b: GET / -> 418 (no route for GET /)");
    assert_eq!(mocks.log_lines(true).len(), 11);
}

#[test]
fn substitution_replaces_whole_backend_names_and_sets_the_port() {
    let config =
        r#"{"port":8080,"host":["http://BACKEND_a","http://BACKEND_ab/x","http://BACKEND_a-b","http://BACKEND_"]}"#;
    assert_eq!(backend_names(config).into_iter().collect::<Vec<_>>(), vec!["a", "a-b", "ab"]);
    let mut urls = BTreeMap::new();
    urls.insert("a".to_owned(), "http://127.0.0.1:1".to_owned());
    urls.insert("ab".to_owned(), "http://127.0.0.1:2".to_owned());
    let text = gateway_config(config, &Subst::new(urls), 9999).unwrap();
    assert_eq!(
        text,
        r#"{"port":9999,"host":["http://127.0.0.1:1","http://127.0.0.1:2/x","http://BACKEND_a-b","http://BACKEND_"]}"#
    );
    let added = gateway_config(r#"{"version":3}"#, &Subst::default(), 1).unwrap();
    assert_eq!(added, r#"{"version":3,"port":1}"#);
}

#[test]
fn requests_carry_host_first_and_content_length_like_run_cases() {
    let req: CaseRequest =
        serde_json::from_str(r#"{"method": "POST", "path": "/p?q=1", "headers": {"X-A": ["1", "2"]}, "body": null}"#)
            .unwrap();
    let out = OutRequest::from_case(&req, 4242).unwrap();
    assert_eq!(
        String::from_utf8(out.to_bytes()).unwrap(),
        "POST /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:4242\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 0\r\n\r\n"
    );
    let req: CaseRequest =
        serde_json::from_str(r#"{"method": "GET", "path": "/", "headers": {"host": "example.com"}, "body": {"a": 1}}"#)
            .unwrap();
    let out = OutRequest::from_case(&req, 1).unwrap();
    assert_eq!(
        String::from_utf8(out.to_bytes()).unwrap(),
        "GET / HTTP/1.1\r\nhost: example.com\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
    );
    let get: CaseRequest = serde_json::from_str(r#"{"path": "/x", "headers": {}, "body": null}"#).unwrap();
    let out = OutRequest::from_case(&get, 1).unwrap();
    assert_eq!(out.headers, vec![("Host".to_owned(), "127.0.0.1:1".to_owned())]);
}
