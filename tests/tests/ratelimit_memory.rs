//! A million distinct clients against a per-client rate limit: the limiter's memory stays bounded.
//! Its own test binary, so the resident-memory reading is not shared with other tests.

use http::{HeaderValue, Method, StatusCode};
use tributary_core::{Gateway, GatewayRequest};

/// The stated bound: the limiter keeps at most 100,000 clients (about 10 MB); we allow 64 MB of
/// growth for it and the allocator's slack.
const MAX_GROWTH_BYTES: u64 = 64 * 1024 * 1024;
const CLIENTS: u32 = 1_000_000;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS line");
    kb * 1024
}

#[tokio::test(flavor = "current_thread")]
async fn a_million_distinct_clients_do_not_grow_memory_without_bound() {
    // Every client passes its own bucket, then the endpoint-wide bucket (one request per hour)
    // answers 503: each request creates a client bucket and no backend is ever called.
    let config = r#"{"version": 3, "endpoints": [{"endpoint": "/limited",
        "extra_config": {"qos/ratelimit/router": {"max_rate": 1, "every": "1h", "client_max_rate": 1,
                                                  "strategy": "header", "key": "X-User"}},
        "backend": [{"host": ["http://127.0.0.1:19"], "url_pattern": "/never"}]}]}"#;
    let gateway = Gateway::from_json(config).expect("valid config");
    // The endpoint-wide bucket starts full: spend its one token (the backend call fails fast).
    let _ = gateway.handle(request(u32::MAX)).await;
    let warm = 1000;
    for i in 0..warm {
        assert_eq!(gateway.handle(request(i)).await.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    let before = rss_bytes();
    for i in warm..CLIENTS {
        let status = gateway.handle(request(i)).await.status;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "client {i}");
    }
    let after = rss_bytes();
    let growth = after.saturating_sub(before);
    eprintln!("resident memory: {} MB before, {} MB after {CLIENTS} clients", before >> 20, after >> 20);
    assert!(growth < MAX_GROWTH_BYTES, "memory grew by {} MB", growth >> 20);
    // A known client is still limited by its own bucket: the first ones were forgotten at most.
    let mut same = request(CLIENTS - 1);
    same.headers.insert("x-user", HeaderValue::from_static("still-here"));
    let first = gateway.handle(same.clone()).await.status;
    let second = gateway.handle(same).await.status;
    assert_eq!((first, second), (StatusCode::SERVICE_UNAVAILABLE, StatusCode::TOO_MANY_REQUESTS));
}

fn request(i: u32) -> GatewayRequest {
    let mut r = GatewayRequest::new(Method::GET, "/limited");
    r.headers.insert("x-user", HeaderValue::from_str(&format!("client-{i}")).expect("ascii"));
    r
}
