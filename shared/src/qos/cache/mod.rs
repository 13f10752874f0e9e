//! The backend HTTP cache of `qos/http-cache`: KrakenD's krakend-httpcache, which wraps the
//! backend client in krakendio/httpcache (a fork of gregjones/httpcache), a private RFC 7234 cache
//! kept in memory.
//!
//! The rules, as the Go transport applies them:
//! * Only `GET` and `HEAD` requests without a `Range` header use the cache. The key is the URL for
//!   `GET` and `"METHOD URL"` otherwise. Any other request deletes its own key first (for a `POST`
//!   that is `"POST URL"`, under which nothing is ever stored, so a `POST` leaves the `GET` entry
//!   alone; a `GET` with `Range` does delete the `GET` entry).
//! * A stored entry is used only when every header named in its `Vary` has the same first value in
//!   the new request as in the request that stored it (kept in a fake `X-Varied-<name>` response
//!   header, which callers see too). There is one entry per key: a request for another variant
//!   goes to the backend and its answer replaces the entry.
//! * Freshness: request `no-cache` bypasses the entry; response `no-cache` makes it stale;
//!   request `only-if-cached` makes it fresh (and without an entry answers `504` without a call).
//!   Otherwise a response without a valid RFC 1123 `Date` is stale; its lifetime is the response
//!   `max-age`, else `Expires - Date`, else zero; request `max-age` replaces the lifetime,
//!   `min-fresh` adds to the age, `max-stale` subtracts from it (bare `max-stale`: fresh). Fresh
//!   when lifetime > age. Delta-seconds are read as Go's `ParseDuration(value + "s")`.
//! * Fresh: answered from the cache without calling the backend. Stale: the request gets
//!   `If-None-Match` (from `ETag`) and `If-Modified-Since` (from `Last-Modified`); a `304` to a
//!   `GET` refreshes the entry (its end-to-end headers replace the stored ones) and the stored
//!   answer is returned.
//! * On a transport error or a `5xx` for a `GET` with an entry, the entry is returned instead if
//!   `stale-if-error` allows it (response directive, overridden by the request's; bare: always;
//!   `=N`: while the entry's age is under N seconds). Otherwise a transport error or a non-`200`
//!   deletes the entry (the error is returned; an answer is then stored as usual).
//! * Storing: any answer (any status) to a cacheable request is stored unless the request or the
//!   response has `Cache-Control: no-store` (then the key is deleted). A `GET` answer stored with
//!   `Content-Encoding: gzip` loses that header (the body is kept as received).
//!
//! Where Tributary differs, on purpose:
//! * Memory is always bounded. KrakenD bounds a bucket only when both `max_items` and `max_size`
//!   are set (LRU); otherwise it grows without limit. Tributary then applies
//!   [`DEFAULT_MAX_ITEMS`] and [`DEFAULT_MAX_SIZE`] with the same LRU rules.
//! * Age is the response's age when stored (wall clock minus `Date`, or its `Age` header when
//!   larger) plus the time it has been held, measured on the tokio clock (so tests can pause it);
//!   Go computes `now - Date` each time. The two agree unless the wall clock jumps.
//! * A `304` does not overwrite the stored `Content-Length`.
//! * Redirects are followed below the cache, so the final answer is stored under the first URL
//!   (Go's client caches each hop under its own URL).

pub(crate) mod parse;
mod store;
#[cfg(test)]
mod tests;

use crate::config::HttpCacheConfig;
use crate::transport::{HttpClient, RawResponse};
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, DATE, IF_MODIFIED_SINCE, IF_NONE_MATCH, VARY};
use http::{HeaderMap, HeaderName, Method, StatusCode};
use parse::{CacheControl, first, go_seconds, parse_rfc1123};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use store::Store;
use tokio::time::Instant;

/// Entries a bucket holds at most when the config does not set both `max_items` and `max_size`.
pub(crate) const DEFAULT_MAX_ITEMS: u64 = 10_000;
/// Bytes a bucket holds at most when the config does not set both `max_items` and `max_size`.
pub(crate) const DEFAULT_MAX_SIZE: u64 = 64 * 1024 * 1024;

impl HttpCacheConfig {
    /// The LRU bounds KrakenD would apply: both set and non-zero.
    fn explicit_bounds(&self) -> Option<(usize, usize)> {
        match (self.max_items, self.max_size) {
            (Some(items), Some(size)) if items > 0 && size > 0 => Some((to_usize(items), to_usize(size))),
            _ => None,
        }
    }

    /// The bounds Tributary applies.
    fn bounds(&self) -> (usize, usize) {
        self.explicit_bounds().unwrap_or((to_usize(DEFAULT_MAX_ITEMS), to_usize(DEFAULT_MAX_SIZE)))
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// One stored answer.
pub(super) struct Entry {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// The response's `Cache-Control`.
    cc: CacheControl,
    /// The response's `Date`, Unix seconds (`None`: missing or not RFC 1123, so never fresh).
    date: Option<i64>,
    /// Age in nanoseconds when stored; may be negative when `Date` is in the future (as in Go).
    initial_age: i64,
    stored_at: Instant,
    /// Bytes counted against the bucket's bound.
    size: usize,
}

impl Entry {
    fn new(resp: &RawResponse, cc: CacheControl, carried: Option<(Instant, i64)>) -> Entry {
        let date = Some(first(&resp.headers, "date")).filter(|d| !d.is_empty()).and_then(parse_rfc1123);
        let (stored_at, initial_age) = match carried {
            Some(c) => c,
            None => (Instant::now(), date.map_or(0, |d| initial_age(d, &resp.headers))),
        };
        Entry {
            status: resp.status,
            headers: resp.headers.clone(),
            body: resp.body.clone(),
            cc,
            date,
            initial_age,
            stored_at,
            size: serialized_size(resp),
        }
    }

    /// Current age in nanoseconds.
    fn age(&self, now: Instant) -> i64 {
        let held = i64::try_from(now.saturating_duration_since(self.stored_at).as_nanos()).unwrap_or(i64::MAX);
        self.initial_age.saturating_add(held)
    }

    fn to_raw(&self) -> RawResponse {
        RawResponse { status: self.status, headers: self.headers.clone(), body: self.body.clone() }
    }
}

const NANOS: i64 = 1_000_000_000;

/// Wall clock minus `Date` (Go's `time.Since(date)` at storage), or the `Age` header when larger
/// (RFC 7234 4.2.3 corrected initial age).
fn initial_age(date: i64, headers: &HeaderMap) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
    let apparent = i64::try_from(now - i128::from(date) * i128::from(NANOS)).unwrap_or(i64::MAX);
    let age_header = std::str::from_utf8(first(headers, "age"))
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .map(|s| s.parse::<i64>().map_or(i64::MAX, |a| a.saturating_mul(NANOS)));
    match age_header {
        Some(a) if a > apparent => a,
        _ => apparent,
    }
}

/// Length of the response as Go's `httputil.DumpResponse` would write it (status line,
/// headers, blank line, body): what krakend/lru counts against `max_size`.
fn serialized_size(resp: &RawResponse) -> usize {
    let status_line = "HTTP/1.1 ".len() + 3 + 1 + resp.status.canonical_reason().map_or(0, str::len) + 2;
    let headers: usize = resp.headers.iter().map(|(n, v)| n.as_str().len() + 2 + v.len() + 2).sum();
    status_line + headers + 2 + resp.body.len()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    Fresh,
    Stale,
    /// The request's `no-cache`: go to the backend without validators.
    Transparent,
}

/// Go's `getFreshness`.
fn freshness(entry: &Entry, req_cc: &CacheControl, now: Instant) -> Freshness {
    if req_cc.has("no-cache") {
        return Freshness::Transparent;
    }
    if entry.cc.has("no-cache") {
        return Freshness::Stale;
    }
    if req_cc.has("only-if-cached") {
        return Freshness::Fresh;
    }
    let Some(date) = entry.date else {
        return Freshness::Stale;
    };
    let mut age = entry.age(now);
    let mut lifetime = match entry.cc.get("max-age") {
        Some(v) => go_seconds(v).unwrap_or(0),
        None => {
            let expires = first(&entry.headers, "expires");
            if expires.is_empty() {
                0
            } else {
                parse_rfc1123(expires).map_or(0, |e| e.saturating_sub(date).saturating_mul(NANOS))
            }
        }
    };
    if let Some(v) = req_cc.get("max-age") {
        lifetime = go_seconds(v).unwrap_or(0);
    }
    if let Some(d) = req_cc.get("min-fresh").and_then(go_seconds) {
        age = age.saturating_add(d);
    }
    if let Some(v) = req_cc.get("max-stale") {
        if v.is_empty() {
            return Freshness::Fresh;
        }
        if let Some(d) = go_seconds(v) {
            age = age.saturating_sub(d);
        }
    }
    if lifetime > age { Freshness::Fresh } else { Freshness::Stale }
}

/// Go's `canStaleOnError`: `stale-if-error` from the response, then the request's.
fn can_stale_on_error(entry: &Entry, req_cc: &CacheControl, now: Instant) -> bool {
    let mut lifetime = -1;
    for cc in [&entry.cc, req_cc] {
        if let Some(v) = cc.get("stale-if-error") {
            if v.is_empty() {
                return true;
            }
            match go_seconds(v) {
                Some(l) => lifetime = l,
                None => return false,
            }
        }
    }
    lifetime >= 0 && entry.date.is_some() && lifetime > entry.age(now)
}

/// The names listed in every `Vary` line, split on `,` and trimmed (empty names kept).
fn vary_names(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(VARY)
        .iter()
        .flat_map(|v| String::from_utf8_lossy(v.as_bytes()).split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>())
        .collect()
}

fn varied_name(name: &str) -> String {
    format!("x-varied-{name}")
}

/// Go's `varyMatches`.
fn vary_matches(stored: &HeaderMap, req: &HeaderMap) -> bool {
    vary_names(stored).iter().filter(|n| !n.is_empty()).all(|n| first(req, n) == first(stored, &varied_name(n)))
}

/// Adds `If-None-Match` / `If-Modified-Since` from the stored validators (replacing the caller's),
/// unless the request carries `ETag` / `Last-Modified` itself (Go's test, kept as is).
fn add_validators(stored: &HeaderMap, req: &mut HeaderMap) {
    if let Some(etag) = stored.get("etag").filter(|v| !v.is_empty())
        && first(req, "etag").is_empty()
    {
        req.insert(IF_NONE_MATCH, etag.clone());
    }
    if let Some(lm) = stored.get("last-modified").filter(|v| !v.is_empty())
        && first(req, "last-modified").is_empty()
    {
        req.insert(IF_MODIFIED_SINCE, lm.clone());
    }
}

/// The stored answer with the 304's end-to-end headers replacing its own (all values of each
/// name; `Content-Length` kept), and the age to carry over when the 304 has no `Date`.
fn refreshed(entry: &Entry, not_modified: &RawResponse) -> (RawResponse, Option<(Instant, i64)>) {
    const HOP_BY_HOP: [&str; 8] = [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    ];
    let connection = String::from_utf8_lossy(first(&not_modified.headers, "connection")).to_ascii_lowercase();
    let listed: Vec<&str> = connection.split(',').filter(|s| !s.trim_matches(' ').is_empty()).collect();
    let mut headers = entry.headers.clone();
    for name in not_modified.headers.keys() {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || listed.contains(&n) || *name == CONTENT_LENGTH {
            continue;
        }
        headers.remove(name);
        for v in not_modified.headers.get_all(name) {
            headers.append(name.clone(), v.clone());
        }
    }
    let carried =
        if not_modified.headers.contains_key(DATE) { None } else { Some((entry.stored_at, entry.initial_age)) };
    (RawResponse { status: entry.status, headers, body: entry.body.clone() }, carried)
}

/// A bucket of cached backend answers. Cheap to clone (handles share the bucket); thread-safe.
#[derive(Clone)]
pub(crate) struct HttpCache {
    store: Arc<Mutex<Store>>,
}

static SHARED: OnceLock<HttpCache> = OnceLock::new();
static SHARED_LRU: OnceLock<HttpCache> = OnceLock::new();

impl HttpCache {
    /// A bucket of its own, bounded as [`HttpCacheConfig`] describes (`shared` is not read here).
    pub(crate) fn new(cfg: &HttpCacheConfig) -> HttpCache {
        let (items, bytes) = cfg.bounds();
        HttpCache { store: Arc::new(Mutex::new(Store::new(items, bytes))) }
    }

    /// The process-wide bucket for `shared: true` backends (create lazily with a OnceLock; bounded too).
    ///
    /// As in KrakenD there are two: one for configs with both `max_items` and `max_size`, created
    /// with the bounds of the first such config asked for, and one for the others (bounded by the
    /// defaults in Tributary, unbounded in KrakenD).
    pub(crate) fn shared(cfg: &HttpCacheConfig) -> HttpCache {
        match cfg.explicit_bounds() {
            Some((items, bytes)) => {
                SHARED_LRU.get_or_init(|| HttpCache { store: Arc::new(Mutex::new(Store::new(items, bytes))) }).clone()
            }
            None => SHARED.get_or_init(|| HttpCache::new(&HttpCacheConfig::default())).clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    /// Entries and bytes currently held (for tests and metrics).
    pub(crate) fn usage(&self) -> (usize, usize) {
        self.lock().usage()
    }

    /// Sends through the cache: serves fresh entries without calling `send`, revalidates stale ones, stores cacheable answers.
    pub(crate) async fn send(
        &self,
        client: &HttpClient,
        method: &Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<RawResponse, String> {
        let is_get = *method == Method::GET;
        let key = if is_get { url.to_owned() } else { format!("{method} {url}") };
        let cacheable = (is_get || *method == Method::HEAD) && first(&headers, "range").is_empty();
        let req_cc = CacheControl::parse(&headers);
        if !cacheable {
            self.lock().delete(&key);
            let resp = if req_cc.has("only-if-cached") {
                gateway_timeout()
            } else {
                client.send(method, url, &headers, body).await?
            };
            self.lock().delete(&key);
            return Ok(resp);
        }

        let cached = self.lock().get(&key);
        let mut headers = headers;
        let mut carried = None;
        let mut resp = match cached {
            Some(entry) => {
                if vary_matches(&entry.headers, &headers) {
                    match freshness(&entry, &req_cc, Instant::now()) {
                        Freshness::Fresh => return Ok(entry.to_raw()),
                        Freshness::Stale => add_validators(&entry.headers, &mut headers),
                        Freshness::Transparent => {}
                    }
                }
                let result = client.send(method, url, &headers, body).await;
                match result {
                    Ok(r) if is_get && r.status == StatusCode::NOT_MODIFIED => {
                        let (r, c) = refreshed(&entry, &r);
                        carried = c;
                        r
                    }
                    result => {
                        let failed = result.as_ref().map_or(true, |r| r.status.as_u16() >= 500);
                        if failed && is_get && can_stale_on_error(&entry, &req_cc, Instant::now()) {
                            return Ok(entry.to_raw());
                        }
                        if result.as_ref().map_or(true, |r| r.status != StatusCode::OK) {
                            self.lock().delete(&key);
                        }
                        result?
                    }
                }
            }
            None if req_cc.has("only-if-cached") => gateway_timeout(),
            None => client.send(method, url, &headers, body).await?,
        };

        let resp_cc = CacheControl::parse(&resp.headers);
        if req_cc.has("no-store") || resp_cc.has("no-store") {
            self.lock().delete(&key);
            return Ok(resp);
        }
        for name in vary_names(&resp.headers) {
            let value = headers.get(name.as_str()).filter(|v| !v.is_empty()).cloned();
            if let (Some(value), Ok(fake)) = (value, HeaderName::from_bytes(varied_name(&name).as_bytes())) {
                resp.headers.insert(fake, value);
            }
        }
        if is_get && first(&resp.headers, "content-encoding") == b"gzip" {
            resp.headers.remove(CONTENT_ENCODING);
        }
        let entry = Entry::new(&resp, resp_cc, carried);
        self.lock().set(&key, entry);
        Ok(resp)
    }
}

/// Go's `newGatewayTimeoutResponse` for `only-if-cached` without a usable entry.
fn gateway_timeout() -> RawResponse {
    RawResponse { status: StatusCode::GATEWAY_TIMEOUT, headers: HeaderMap::new(), body: Bytes::new() }
}
