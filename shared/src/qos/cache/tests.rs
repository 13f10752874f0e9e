//! Cache tests against real hyper backends on 127.0.0.1 that count their hits, with tokio's
//! paused clock for expiry.

use super::*;
use crate::transport::HttpClient;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

type Handler = dyn Fn(&Request<Incoming>, usize) -> Option<Response<Full<Bytes>>> + Send + Sync;

/// A backend on its own thread and runtime (real clock), so the test runtime's paused clock has
/// no timers to jump to while it waits for answers.
struct Backend {
    base: String,
    hits: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Backend {
    /// `handler(request, hit number from 1)`; `None` closes the connection without an answer.
    fn start(
        handler: impl Fn(&Request<Incoming>, usize) -> Option<Response<Full<Bytes>>> + Send + Sync + 'static,
    ) -> Self {
        let handler: Arc<Handler> = Arc::new(handler);
        let hits = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (h, s) = (hits.clone(), seen.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let stream = tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => match accepted { Ok((s, _)) => s, Err(_) => return },
                    };
                    let (handler, hits, seen) = (handler.clone(), h.clone(), s.clone());
                    let service = service_fn(move |req: Request<Incoming>| {
                        let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
                        seen.lock().unwrap().push(req.headers().clone());
                        let answer = handler(&req, n);
                        async move { answer.ok_or("closed by the test backend") }
                    });
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Backend { base, hits, seen, _stop: stop }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The request headers of hit `n` (from 1).
    fn request(&self, n: usize) -> HeaderMap {
        self.seen.lock().unwrap()[n - 1].clone()
    }
}

fn answer(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Option<Response<Full<Bytes>>> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    Some(b.body(Full::new(body.into())).unwrap())
}

/// A client without timers (no idle-pool sweeper, no connect timeout), see [`Backend`].
fn client() -> HttpClient {
    HttpClient::without_timers()
}

fn hdrs(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    h
}

async fn get(cache: &HttpCache, c: &HttpClient, url: &str) -> RawResponse {
    cache.send(c, &Method::GET, url, HeaderMap::new(), None).await.unwrap()
}

fn text(r: &RawResponse) -> &str {
    std::str::from_utf8(&r.body).unwrap()
}

fn own() -> HttpCache {
    HttpCache::new(&HttpCacheConfig::default())
}

/// An RFC 1123 date for Unix seconds `t`.
fn http_date(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][usize::try_from(days.rem_euclid(7)).unwrap()];
    let mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        [usize::try_from(m - 1).unwrap()];
    format!("{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT", secs / 3600, secs % 3600 / 60, secs % 60)
}

fn wall_secs() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

#[test]
fn http_date_round_trips_through_the_parser() {
    for t in [0, 784_111_777, 951_782_400, 1_700_000_000, wall_secs()] {
        assert_eq!(parse_rfc1123(http_date(t).as_bytes()), Some(t), "{}", http_date(t));
    }
}

#[tokio::test(start_paused = true)]
async fn a_fresh_response_is_served_from_the_cache() {
    let b = Backend::start(|_, n| answer(200, &[("cache-control", "max-age=600")], format!("{{\"n\":{n}}}")));
    let (cache, c) = (own(), client());
    let url = b.url("/a?x=1");
    assert_eq!(text(&get(&cache, &c, &url).await), "{\"n\":1}");
    tokio::time::advance(Duration::from_secs(500)).await;
    let second = get(&cache, &c, &url).await;
    assert_eq!((second.status, text(&second)), (StatusCode::OK, "{\"n\":1}"));
    assert_eq!(b.hits(), 1);
    let (items, bytes) = cache.usage();
    assert_eq!(items, 1);
    assert!(bytes > "{\"n\":1}".len(), "{bytes}");
    // Another query string is another key.
    get(&cache, &c, &b.url("/a?x=2")).await;
    assert_eq!((b.hits(), cache.usage().0), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn a_stale_response_is_revalidated_and_a_304_refreshes_it() {
    const LAST_MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    let b = Backend::start(|req, n| {
        if req.headers().get("if-none-match").is_some_and(|v| v == "\"v1\"") {
            return answer(304, &[("cache-control", "max-age=600"), ("x-version", &n.to_string())], "");
        }
        answer(
            200,
            &[
                ("cache-control", "max-age=600"),
                ("etag", "\"v1\""),
                ("last-modified", LAST_MODIFIED),
                ("x-version", "1"),
            ],
            "one",
        )
    });
    let (cache, c) = (own(), client());
    let url = b.url("/r");
    assert_eq!(text(&get(&cache, &c, &url).await), "one");
    assert_eq!(b.hits(), 1);

    tokio::time::advance(Duration::from_secs(601)).await;
    let revalidated = get(&cache, &c, &url).await;
    assert_eq!(b.hits(), 2);
    let sent = b.request(2);
    assert_eq!(sent.get("if-none-match").unwrap(), "\"v1\"");
    assert_eq!(sent.get("if-modified-since").unwrap(), LAST_MODIFIED);
    assert_eq!(revalidated.status, StatusCode::OK);
    assert_eq!(text(&revalidated), "one");
    assert_eq!(revalidated.headers.get("x-version").unwrap(), "2", "the 304's headers replace the stored ones");
    assert_eq!(revalidated.headers.get("etag").unwrap(), "\"v1\"");

    // Refreshed: fresh again for max-age.
    tokio::time::advance(Duration::from_secs(300)).await;
    let again = get(&cache, &c, &url).await;
    assert_eq!((b.hits(), text(&again)), (2, "one"));
    assert_eq!(again.headers.get("x-version").unwrap(), "2");

    tokio::time::advance(Duration::from_secs(301)).await;
    get(&cache, &c, &url).await;
    assert_eq!(b.hits(), 3);
    assert_eq!(cache.usage().0, 1);
}

#[tokio::test(start_paused = true)]
async fn a_stale_response_replaced_by_a_new_200() {
    let b = Backend::start(|_, n| {
        answer(200, &[("cache-control", "max-age=60"), ("etag", &format!("\"{n}\""))], n.to_string())
    });
    let (cache, c) = (own(), client());
    let url = b.url("/r");
    get(&cache, &c, &url).await;
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(text(&get(&cache, &c, &url).await), "2");
    assert_eq!(b.request(2).get("if-none-match").unwrap(), "\"1\"");
    assert_eq!(text(&get(&cache, &c, &url).await), "2");
    assert_eq!(b.hits(), 2);
}

#[tokio::test(start_paused = true)]
async fn no_freshness_information_means_stale_but_stored() {
    // hyper adds `Date`; without max-age or Expires the lifetime is zero.
    let b = Backend::start(|_, n| answer(200, &[("etag", "\"e\"")], n.to_string()));
    let (cache, c) = (own(), client());
    let url = b.url("/plain");
    get(&cache, &c, &url).await;
    get(&cache, &c, &url).await;
    assert_eq!(b.hits(), 2);
    assert_eq!(b.request(2).get("if-none-match").unwrap(), "\"e\"");
    assert_eq!(cache.usage().0, 1);
}

#[tokio::test(start_paused = true)]
async fn expires_gives_freshness_relative_to_date() {
    let b = Backend::start(|_, n| {
        let now = wall_secs();
        let (date, expires) = (http_date(now), http_date(now + 600));
        answer(200, &[("date", &date), ("expires", &expires)], n.to_string())
    });
    let (cache, c) = (own(), client());
    let url = b.url("/e");
    get(&cache, &c, &url).await;
    tokio::time::advance(Duration::from_secs(598)).await;
    get(&cache, &c, &url).await;
    assert_eq!(b.hits(), 1);
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(text(&get(&cache, &c, &url).await), "2");
    // max-age wins over Expires.
    let b2 = Backend::start(|_, n| {
        let expires = http_date(wall_secs() + 600);
        answer(200, &[("cache-control", "max-age=0"), ("expires", &expires)], n.to_string())
    });
    get(&cache, &c, &b2.url("/e")).await;
    get(&cache, &c, &b2.url("/e")).await;
    assert_eq!(b2.hits(), 2);
}

#[tokio::test(start_paused = true)]
async fn no_store_is_never_stored() {
    let b = Backend::start(|req, n| {
        let cc = if req.uri().path() == "/ns" { "no-store, max-age=600" } else { "max-age=600" };
        answer(200, &[("cache-control", cc)], n.to_string())
    });
    let (cache, c) = (own(), client());
    get(&cache, &c, &b.url("/ns")).await;
    get(&cache, &c, &b.url("/ns")).await;
    assert_eq!(b.hits(), 2);
    assert_eq!(cache.usage(), (0, 0));

    // A request `no-store` is not stored either, and deletes what was there.
    let url = b.url("/ok");
    let no_store = hdrs(&[("cache-control", "no-store")]);
    cache.send(&c, &Method::GET, &url, no_store.clone(), None).await.unwrap();
    assert_eq!((b.hits(), cache.usage()), (3, (0, 0)));
    get(&cache, &c, &url).await;
    assert_eq!(cache.usage().0, 1);
    // A fresh entry is still served to a no-store request (freshness comes first).
    let r = cache.send(&c, &Method::GET, &url, no_store, None).await.unwrap();
    assert_eq!((text(&r), b.hits()), ("4", 4));
}

#[tokio::test(start_paused = true)]
async fn request_no_cache_goes_to_the_backend_without_validators() {
    let b = Backend::start(|_, n| answer(200, &[("cache-control", "max-age=600"), ("etag", "\"e\"")], n.to_string()));
    let (cache, c) = (own(), client());
    let url = b.url("/nc");
    get(&cache, &c, &url).await;
    let r = cache.send(&c, &Method::GET, &url, hdrs(&[("cache-control", "no-cache")]), None).await.unwrap();
    assert_eq!((text(&r), b.hits()), ("2", 2));
    assert!(b.request(2).get("if-none-match").is_none());
    // The new answer replaced the entry.
    assert_eq!(text(&get(&cache, &c, &url).await), "2");
    assert_eq!(b.hits(), 2);
}

#[tokio::test(start_paused = true)]
async fn response_no_cache_is_always_revalidated() {
    let b = Backend::start(|req, n| {
        if req.headers().contains_key("if-none-match") {
            return answer(304, &[], "");
        }
        answer(200, &[("cache-control", "no-cache, max-age=600"), ("etag", "\"e\"")], n.to_string())
    });
    let (cache, c) = (own(), client());
    let url = b.url("/nc");
    get(&cache, &c, &url).await;
    let r = get(&cache, &c, &url).await;
    assert_eq!((r.status, text(&r), b.hits()), (StatusCode::OK, "1", 2));
}

#[tokio::test(start_paused = true)]
async fn post_is_not_cached_and_deletes_only_its_own_key() {
    let b = Backend::start(|_, n| answer(200, &[("cache-control", "max-age=600")], n.to_string()));
    let (cache, c) = (own(), client());
    let url = b.url("/p");
    get(&cache, &c, &url).await;
    for _ in 0..2 {
        cache.send(&c, &Method::POST, &url, HeaderMap::new(), Some(Bytes::from_static(b"{}"))).await.unwrap();
    }
    assert_eq!(b.hits(), 3);
    assert_eq!(cache.usage().0, 1);
    // KrakenD deletes the key `POST <url>`, under which nothing is stored: the GET entry stays.
    assert_eq!(text(&get(&cache, &c, &url).await), "1");
    assert_eq!(b.hits(), 3);

    // HEAD is cached under its own key.
    for _ in 0..2 {
        let r = cache.send(&c, &Method::HEAD, &url, HeaderMap::new(), None).await.unwrap();
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!((b.hits(), cache.usage().0), (4, 2));

    // A GET with Range is not cached and does delete the GET key.
    let ranged = hdrs(&[("range", "bytes=0-0")]);
    cache.send(&c, &Method::GET, &url, ranged.clone(), None).await.unwrap();
    cache.send(&c, &Method::GET, &url, ranged, None).await.unwrap();
    assert_eq!((b.hits(), cache.usage().0), (6, 1));
    assert_eq!(text(&get(&cache, &c, &url).await), "7");
}

#[tokio::test(start_paused = true)]
async fn vary_keeps_variants_apart() {
    let b = Backend::start(|req, n| {
        let lang = req.headers().get("accept-language").map_or("none", |v| v.to_str().unwrap()).to_owned();
        answer(200, &[("cache-control", "max-age=600"), ("vary", "Accept-Language")], format!("{lang}-{n}"))
    });
    let (cache, c) = (own(), client());
    let url = b.url("/v");
    let send = |lang: &'static str| {
        let (cache, c, url) = (cache.clone(), c.clone(), url.clone());
        async move { cache.send(&c, &Method::GET, &url, hdrs(&[("accept-language", lang)]), None).await.unwrap() }
    };
    let en = send("en").await;
    assert_eq!(text(&en), "en-1");
    assert_eq!(en.headers.get("x-varied-accept-language").unwrap(), "en", "KrakenD's marker is visible");
    assert_eq!(text(&send("en").await), "en-1");
    assert_eq!(b.hits(), 1);
    // Another variant is never answered from the stored one...
    assert_eq!(text(&send("fr").await), "fr-2");
    assert_eq!(text(&send("fr").await), "fr-2");
    assert_eq!(b.hits(), 2);
    // ...and, as in httpcache, replaces it: one entry per URL.
    assert_eq!(cache.usage().0, 1);
    assert_eq!(text(&send("en").await), "en-3");
    assert_eq!(text(&get(&cache, &c, &url).await), "none-4");
    assert_eq!(b.hits(), 4);
}

#[tokio::test(start_paused = true)]
async fn lru_evicts_the_least_recently_used_over_max_items() {
    let b =
        Backend::start(|req, n| answer(200, &[("cache-control", "max-age=600")], format!("{}-{n}", req.uri().path())));
    let cache = HttpCache::new(&HttpCacheConfig { shared: false, max_items: Some(2), max_size: Some(1 << 20) });
    let c = client();
    get(&cache, &c, &b.url("/a")).await;
    get(&cache, &c, &b.url("/b")).await;
    get(&cache, &c, &b.url("/a")).await; // touches /a
    assert_eq!(b.hits(), 2);
    get(&cache, &c, &b.url("/c")).await; // evicts /b
    assert_eq!((b.hits(), cache.usage().0), (3, 2));
    assert_eq!(text(&get(&cache, &c, &b.url("/a")).await), "/a-1");
    assert_eq!(text(&get(&cache, &c, &b.url("/c")).await), "/c-3");
    assert_eq!(b.hits(), 3);
    assert_eq!(text(&get(&cache, &c, &b.url("/b")).await), "/b-4");
    assert_eq!(cache.usage().0, 2);
}

#[tokio::test(start_paused = true)]
async fn the_byte_bound_holds_and_oversized_answers_are_not_stored() {
    let b = Backend::start(|req, _| {
        let size = if req.uri().path() == "/big" { 5_000 } else { 300 };
        answer(200, &[("cache-control", "max-age=600")], vec![b'x'; size])
    });
    let cache = HttpCache::new(&HttpCacheConfig { shared: false, max_items: Some(1_000), max_size: Some(1_000) });
    let c = client();
    for i in 0..10 {
        get(&cache, &c, &b.url(&format!("/s{i}"))).await;
        let (items, bytes) = cache.usage();
        assert!(bytes <= 1_000 && items <= 2, "{items} items, {bytes} bytes");
        assert!(items >= 1);
    }
    // The most recent one is still there.
    get(&cache, &c, &b.url("/s9")).await;
    assert_eq!(b.hits(), 10);
    let before = cache.usage();
    let big = get(&cache, &c, &b.url("/big")).await;
    assert_eq!(big.body.len(), 5_000);
    assert_eq!(cache.usage(), before);
    get(&cache, &c, &b.url("/big")).await;
    assert_eq!(b.hits(), 12);
}

#[test]
fn bounds_default_unless_both_are_set() {
    let limits = |cfg: &HttpCacheConfig| HttpCache::new(cfg).lock().limits();
    let default = (10_000, 64 * 1024 * 1024);
    assert_eq!(limits(&HttpCacheConfig::default()), default);
    assert_eq!(limits(&HttpCacheConfig { max_items: Some(5), ..Default::default() }), default);
    assert_eq!(limits(&HttpCacheConfig { max_items: Some(5), max_size: Some(0), ..Default::default() }), default);
    assert_eq!(limits(&HttpCacheConfig { max_items: Some(5), max_size: Some(99), ..Default::default() }), (5, 99));
    let shared = HttpCacheConfig { shared: true, ..Default::default() };
    assert_eq!(HttpCache::shared(&shared).lock().limits(), default);
    let cfg: HttpCacheConfig = serde_json::from_str(r#"{"shared": true, "max_items": 3, "max_size": 1000}"#).unwrap();
    assert!(cfg.shared && cfg.max_items == Some(3) && cfg.max_size == Some(1000));
}

#[tokio::test(start_paused = true)]
async fn shared_buckets_are_shared_between_handles() {
    let b = Backend::start(|_, n| answer(200, &[("cache-control", "max-age=600")], n.to_string()));
    let c = client();
    let cfg = HttpCacheConfig { shared: true, ..Default::default() };
    let (one, two) = (HttpCache::shared(&cfg), HttpCache::shared(&cfg));
    let url = b.url("/shared");
    assert_eq!(text(&get(&one, &c, &url).await), "1");
    assert_eq!(text(&get(&two, &c, &url).await), "1");
    assert_eq!(b.hits(), 1);
    // An own bucket does not see it, nor does the shared LRU bucket of bounded configs.
    assert_eq!(text(&get(&HttpCache::new(&cfg), &c, &url).await), "2");
    let bounded = HttpCacheConfig { shared: true, max_items: Some(100), max_size: Some(1 << 20) };
    let (three, four) = (HttpCache::shared(&bounded), HttpCache::shared(&bounded));
    assert_eq!(text(&get(&three, &c, &url).await), "3");
    assert_eq!(text(&get(&four, &c, &url).await), "3");
    assert_eq!(b.hits(), 3);
    // Clones share too.
    let own = own();
    get(&own, &c, &b.url("/clone")).await;
    get(&own.clone(), &c, &b.url("/clone")).await;
    assert_eq!(b.hits(), 4);
}

#[tokio::test(start_paused = true)]
async fn stale_if_error_serves_the_stale_answer_when_the_backend_fails() {
    // mode 0: 200; 1: 500; 2: connection closed without an answer.
    let mode = Arc::new(AtomicUsize::new(0));
    let m = mode.clone();
    let b = Backend::start(move |req, n| match m.load(Ordering::SeqCst) {
        0 if req.uri().path() == "/sie" => {
            answer(200, &[("cache-control", "max-age=1, stale-if-error=3600")], format!("ok-{n}"))
        }
        0 => answer(200, &[("cache-control", "max-age=1")], format!("ok-{n}")),
        1 => answer(500, &[], "boom"),
        _ => None,
    });
    let (cache, c) = (own(), client());
    let url = b.url("/sie");
    let plain = b.url("/plain");
    get(&cache, &c, &url).await;
    get(&cache, &c, &plain).await;
    tokio::time::advance(Duration::from_secs(2)).await;

    mode.store(1, Ordering::SeqCst);
    let r = get(&cache, &c, &url).await;
    assert_eq!((r.status, text(&r)), (StatusCode::OK, "ok-1"));
    mode.store(2, Ordering::SeqCst);
    let r = cache.send(&c, &Method::GET, &url, HeaderMap::new(), None).await.unwrap();
    assert_eq!((r.status, text(&r)), (StatusCode::OK, "ok-1"));
    assert_eq!(cache.usage().0, 2);

    // Without stale-if-error: the failure is returned and the entry goes (the 500 is then stored).
    mode.store(1, Ordering::SeqCst);
    let r = get(&cache, &c, &plain).await;
    assert_eq!((r.status, text(&r)), (StatusCode::INTERNAL_SERVER_ERROR, "boom"));
    mode.store(2, Ordering::SeqCst);
    assert!(cache.send(&c, &Method::GET, &plain, HeaderMap::new(), None).await.is_err());
    assert_eq!(cache.usage().0, 1, "a transport error deletes the entry");

    // A request's stale-if-error=0 overrides the response's.
    let zero = hdrs(&[("cache-control", "stale-if-error=0")]);
    assert!(cache.send(&c, &Method::GET, &url, zero, None).await.is_err());
    assert_eq!(cache.usage().0, 0);

    // The window counts from Date: after it, the error comes through.
    mode.store(0, Ordering::SeqCst);
    get(&cache, &c, &url).await;
    tokio::time::advance(Duration::from_secs(3601)).await;
    mode.store(1, Ordering::SeqCst);
    assert_eq!(get(&cache, &c, &url).await.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test(start_paused = true)]
async fn only_if_cached_without_an_entry_is_a_504_without_a_call() {
    let b = Backend::start(|_, n| answer(200, &[("cache-control", "max-age=1")], n.to_string()));
    let (cache, c) = (own(), client());
    let url = b.url("/oic");
    let oic = hdrs(&[("cache-control", "only-if-cached")]);
    let r = cache.send(&c, &Method::GET, &url, oic.clone(), None).await.unwrap();
    assert_eq!((r.status, b.hits()), (StatusCode::GATEWAY_TIMEOUT, 0));
    // With an entry, however stale, it is served.
    get(&cache, &c, &url).await;
    tokio::time::advance(Duration::from_secs(100)).await;
    let r = cache.send(&c, &Method::GET, &url, oic, None).await.unwrap();
    assert_eq!((r.status, text(&r), b.hits()), (StatusCode::OK, "1", 1));
}

#[tokio::test(start_paused = true)]
async fn request_directives_adjust_freshness() {
    let b = Backend::start(|_, n| answer(200, &[("cache-control", "max-age=600")], n.to_string()));
    let (cache, c) = (own(), client());
    let url = b.url("/d");
    get(&cache, &c, &url).await;
    tokio::time::advance(Duration::from_secs(100)).await;
    let with = |v: &str| hdrs(&[("cache-control", v)]);
    // Request max-age replaces the lifetime.
    let r = cache.send(&c, &Method::GET, &url, with("max-age=50"), None).await.unwrap();
    assert_eq!(text(&r), "2");
    // min-fresh adds to the age (the new entry is fresh for 600 s).
    let r = cache.send(&c, &Method::GET, &url, with("min-fresh=601"), None).await.unwrap();
    assert_eq!(text(&r), "3");
    // max-stale accepts stale answers.
    tokio::time::advance(Duration::from_secs(700)).await;
    let r = cache.send(&c, &Method::GET, &url, with("max-stale"), None).await.unwrap();
    assert_eq!(text(&r), "3");
    let r = cache.send(&c, &Method::GET, &url, with("max-stale=800"), None).await.unwrap();
    assert_eq!(text(&r), "3");
    assert_eq!(text(&get(&cache, &c, &url).await), "4");
}

#[tokio::test(start_paused = true)]
async fn concurrent_senders_share_one_bucket() {
    let b = Backend::start(|req, _| answer(200, &[("cache-control", "max-age=600")], req.uri().path().to_owned()));
    let (cache, c) = (own(), client());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (cache, c, url) = (cache.clone(), c.clone(), b.url(&format!("/k{}", i % 5)));
        tasks.push(tokio::spawn(async move { get(&cache, &c, &url).await.body }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), format!("/k{}", i % 5));
    }
    assert_eq!(cache.usage().0, 5);
    for i in 0..5 {
        get(&cache, &c, &b.url(&format!("/k{i}"))).await;
    }
    assert!(b.hits() <= 20);
    let before = b.hits();
    get(&cache, &c, &b.url("/k0")).await;
    assert_eq!(b.hits(), before);
}
