//! Bounded load against rate-limited endpoints over real sockets: the numbers of 200 and 503/429
//! answers follow the configured rate (bucket capacity plus rate times duration) within 10%.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tributary_e2e::chaos::{Backend, Served};

const RUN: Duration = Duration::from_secs(3);
const WORKERS: usize = 8;

/// Sends GETs from `WORKERS` clients for `RUN`; returns (ok, limited, other, elapsed seconds).
async fn hammer(served: &Served, target: &str, limited_status: u16) -> (usize, usize, usize, f64) {
    let ok = Arc::new(AtomicUsize::new(0));
    let limited = Arc::new(AtomicUsize::new(0));
    let other = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let (ok, limited, other) = (ok.clone(), limited.clone(), other.clone());
        let addr = served.addr;
        let target = target.replace("{w}", &w.to_string());
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < RUN {
                let reply = tributary_e2e::chaos::get(addr, &target, Duration::from_secs(5)).await;
                match reply.status {
                    200 => ok.fetch_add(1, Ordering::Relaxed),
                    s if s == limited_status => limited.fetch_add(1, Ordering::Relaxed),
                    _ => other.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    (ok.load(Ordering::Relaxed), limited.load(Ordering::Relaxed), other.load(Ordering::Relaxed), elapsed)
}

fn assert_within_10_percent(ok: usize, expected: f64, what: &str) {
    let low = expected * 0.9;
    let high = expected * 1.1;
    assert!((low..=high).contains(&(ok as f64)), "{what}: {ok} answers 200, expected {expected:.0} (±10%)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_limit_lets_through_capacity_plus_rate_times_duration() {
    let backend = Backend::start(|mut stream, _| async move {
        use tokio::io::AsyncWriteExt;
        let body =
            tributary_e2e::chaos::response("HTTP/1.1 200 OK", &[("Content-Type", "application/json")], b"{\"a\":1}");
        let _ = stream.write_all(&body).await;
        tributary_e2e::chaos::finish(stream).await;
    })
    .await;
    let rate = 40.0;
    let config = format!(
        r#"{{"version": 3, "endpoints": [{{"endpoint": "/limited",
            "extra_config": {{"qos/ratelimit/router": {{"max_rate": {rate}}}}},
            "backend": [{{"host": ["{}"], "url_pattern": "/a"}}]}}]}}"#,
        backend.url()
    );
    let served = Served::start(&config).await;
    let (ok, limited, other, secs) = hammer(&served, "/limited", 503).await;
    eprintln!("endpoint limit: {ok} x 200, {limited} x 503, {other} other in {secs:.2}s");
    assert_eq!(other, 0);
    assert!(limited > ok, "the load must exceed the limit to test it");
    assert_within_10_percent(ok, rate + rate * secs, "endpoint limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_limit_applies_to_each_client_separately() {
    let backend = Backend::start(|mut stream, _| async move {
        use tokio::io::AsyncWriteExt;
        let body =
            tributary_e2e::chaos::response("HTTP/1.1 200 OK", &[("Content-Type", "application/json")], b"{\"a\":1}");
        let _ = stream.write_all(&body).await;
        tributary_e2e::chaos::finish(stream).await;
    })
    .await;
    let rate = 10.0;
    let config = format!(
        r#"{{"version": 3, "endpoints": [{{"endpoint": "/c/{{client}}",
            "extra_config": {{"qos/ratelimit/router": {{"client_max_rate": {rate}, "client_capacity": 10,
                                                      "strategy": "param", "key": "client"}}}},
            "backend": [{{"host": ["{}"], "url_pattern": "/a"}}]}}]}}"#,
        backend.url()
    );
    let served = Served::start(&config).await;
    // Each worker is its own client: the total is WORKERS times one client's allowance.
    let (ok, limited, other, secs) = hammer(&served, "/c/client-{w}", 429).await;
    eprintln!("per-client limit: {ok} x 200, {limited} x 429, {other} other in {secs:.2}s");
    assert_eq!(other, 0);
    assert_within_10_percent(ok, WORKERS as f64 * (10.0 + rate * secs), "per-client limit");
}
