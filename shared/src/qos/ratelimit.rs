//! Rate limits as krakend-ratelimit v3 applies them: an endpoint-wide bucket (503), per-client
//! buckets keyed by IP, header or parameter (429), and per-backend buckets (`rate limit exceded`).
//!
//! The bucket is KrakenD's own algorithm, written out by hand rather than taken from `governor`:
//! KrakenD refills in whole intervals and, when a refill would overflow, fills the bucket and
//! lets the request through without taking a token. Clients and tests see those exact counts.

use crate::config::RateLimitRouterConfig;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// One token bucket (KrakenD's `TokenBucket`).
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    tokens: u64,
    capacity: u64,
    interval: Duration,
    last_refill: Instant,
}

impl Bucket {
    pub(crate) fn new(rate_per_sec: f64, capacity: u64, now: Instant) -> Self {
        let interval = if rate_per_sec > 0.0 { Duration::from_secs_f64(1.0 / rate_per_sec) } else { Duration::MAX };
        let capacity = capacity.max(1);
        Bucket { tokens: capacity, capacity, interval, last_refill: now }
    }

    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        if self.tokens > 0 {
            self.tokens -= 1;
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last_refill);
        let n = if self.interval.is_zero() { u128::MAX } else { elapsed.as_nanos() / self.interval.as_nanos().max(1) };
        if n == 0 {
            return false;
        }
        let n64 = u64::try_from(n).unwrap_or(u64::MAX);
        self.last_refill += self.interval.saturating_mul(u32::try_from(n64).unwrap_or(u32::MAX));
        if self.tokens.saturating_add(n64) > self.capacity {
            // KrakenD's quirk: an overflowing refill fills the bucket and does not take a token.
            self.tokens = self.capacity;
        } else {
            self.tokens += n64 - 1;
        }
        true
    }

    /// True when the bucket would be full now, i.e. it is as good as a new one and can be dropped.
    fn is_refilled(&self, now: Instant) -> bool {
        if self.tokens >= self.capacity {
            return true;
        }
        let missing = u32::try_from(self.capacity - self.tokens).unwrap_or(u32::MAX);
        now.saturating_duration_since(self.last_refill) >= self.interval.saturating_mul(missing)
    }
}

/// Rate in tokens per second from `max_rate` per `every` (every < `min_every` counts as `min_every`).
pub(crate) fn rate_per_sec(max_rate: f64, every: Option<Duration>, min_every: Duration) -> f64 {
    let every = every.filter(|e| !e.is_zero()).unwrap_or(Duration::from_secs(1)).max(min_every);
    max_rate / every.as_secs_f64()
}

/// KrakenD's default capacity: the rate truncated, at least 1.
pub(crate) fn default_capacity(rate_per_sec: f64) -> u64 {
    if rate_per_sec < 1.0 { 1 } else { rate_per_sec as u64 }
}

/// How a client is identified (`strategy` and `key`).
#[derive(Debug, Clone)]
pub(crate) enum ClientKey {
    /// The client IP; with `key`, the first address of that header when it parses as an IP.
    Ip(Option<http::HeaderName>),
    Header(http::HeaderName),
    /// An endpoint parameter, by its index in the endpoint's parameters.
    Param(usize),
}

/// A set of per-client buckets, bounded in memory: when a shard is full, buckets that have
/// refilled (equivalent to new ones) are dropped first, then the oldest-inserted ones.
pub(crate) struct ClientBuckets {
    shards: Vec<Mutex<HashMap<Box<str>, Bucket>>>,
    per_shard: usize,
    rate: f64,
    capacity: u64,
    hasher: std::collections::hash_map::RandomState,
}

/// Default bound on tracked clients per limiter: about 100 bytes each, so ~10 MB at most.
pub(crate) const DEFAULT_MAX_CLIENTS: usize = 100_000;
const SHARDS: usize = 64;

impl ClientBuckets {
    pub(crate) fn new(rate: f64, capacity: u64, max_clients: usize) -> Self {
        ClientBuckets {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: max_clients.div_ceil(SHARDS).max(1),
            rate,
            capacity,
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    pub(crate) fn allow(&self, key: &str, now: Instant) -> bool {
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % self.shards.len()];
        // A poisoned lock only means another request panicked mid-update; the map is still usable.
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = map.get_mut(key) {
            return b.allow(now);
        }
        if map.len() >= self.per_shard {
            map.retain(|_, b| !b.is_refilled(now));
            if map.len() >= self.per_shard {
                // Still full of active clients: forget an eighth of them (they restart full).
                let drop: Vec<Box<str>> = map.keys().take((self.per_shard / 8).max(1)).cloned().collect();
                for k in drop {
                    map.remove(&k);
                }
            }
        }
        let mut b = Bucket::new(self.rate, self.capacity, now);
        let allowed = b.allow(now);
        map.insert(key.into(), b);
        allowed
    }

    /// Clients currently tracked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len()).sum()
    }
}

/// The compiled `qos/ratelimit/router` of an endpoint.
pub(crate) struct RouterLimiter {
    pub endpoint: Option<Mutex<Bucket>>,
    pub clients: Option<(ClientKey, ClientBuckets)>,
}

pub(crate) enum Verdict {
    Allowed,
    /// 429: the client's bucket is empty (or the client has no key).
    ClientLimited,
    /// 503: the endpoint's bucket is empty.
    EndpointLimited,
}

impl RouterLimiter {
    /// Compiles the namespace; `params` are the endpoint's parameter names. Returns the limiter
    /// (None when nothing is limited) and a warning for an unusable client strategy.
    pub(crate) fn compile(cfg: &RateLimitRouterConfig, params: &[String]) -> (Option<RouterLimiter>, Option<String>) {
        let now = Instant::now();
        let every = cfg.every.map(|d| d.value);
        let rate = rate_per_sec(cfg.max_rate, every, Duration::from_secs(1));
        let endpoint = (cfg.max_rate > 0.0).then(|| {
            let capacity = cfg.capacity.filter(|c| *c > 0).unwrap_or_else(|| default_capacity(rate));
            Mutex::new(Bucket::new(rate, capacity, now))
        });
        let mut warning = None;
        let clients = if cfg.client_max_rate > 0.0 {
            let client_rate = rate_per_sec(cfg.client_max_rate, every, Duration::from_secs(1));
            // KrakenD's quirk: without an endpoint rate the per-client burst is 1.
            let default_cap = if rate < 1.0 { 1 } else { client_rate as u64 };
            let capacity = cfg.client_capacity.filter(|c| *c > 0).unwrap_or(default_cap);
            let header = |k: &str| http::HeaderName::from_bytes(k.as_bytes()).ok();
            let key = match (cfg.strategy.as_deref(), cfg.key.as_deref()) {
                (Some("ip"), k) => Some(ClientKey::Ip(k.filter(|k| !k.is_empty()).and_then(header))),
                (Some("header"), Some(k)) => header(k).map(ClientKey::Header),
                (Some("param"), Some(k)) => params.iter().position(|p| p == k).map(ClientKey::Param),
                _ => None,
            };
            match key {
                Some(key) => Some((key, ClientBuckets::new(client_rate, capacity, DEFAULT_MAX_CLIENTS))),
                None => {
                    warning = Some(format!(
                        "client rate limit disabled: strategy `{}` with key `{}` cannot identify clients (use `ip`, `header` with a header name, or `param` with an endpoint parameter)",
                        cfg.strategy.as_deref().unwrap_or(""),
                        cfg.key.as_deref().unwrap_or("")
                    ));
                    None
                }
            }
        } else {
            None
        };
        if endpoint.is_none() && clients.is_none() {
            return (None, warning);
        }
        (Some(RouterLimiter { endpoint, clients }), warning)
    }

    /// Client limiter first, then the endpoint-wide one (KrakenD's order).
    pub(crate) fn check(&self, client_key: Option<&str>, now: Instant) -> Verdict {
        if let Some((_, buckets)) = &self.clients {
            match client_key.filter(|k| !k.is_empty()) {
                Some(k) if buckets.allow(k, now) => {}
                _ => return Verdict::ClientLimited,
            }
        }
        if let Some(b) = &self.endpoint
            && !b.lock().unwrap_or_else(|e| e.into_inner()).allow(now)
        {
            return Verdict::EndpointLimited;
        }
        Verdict::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_starts_full_and_refills_in_whole_intervals() {
        let start = Instant::now();
        let mut b = Bucket::new(2.0, 2, start); // one token every 500 ms
        assert!(b.allow(start));
        assert!(b.allow(start));
        assert!(!b.allow(start));
        tokio::time::advance(Duration::from_millis(499)).await;
        assert!(!b.allow(Instant::now()));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(b.allow(Instant::now()));
        assert!(!b.allow(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_overflowing_refill_fills_the_bucket_without_taking_a_token() {
        let start = Instant::now();
        let mut b = Bucket::new(1.0, 2, start);
        assert!(b.allow(start) && b.allow(start));
        tokio::time::advance(Duration::from_secs(10)).await;
        let now = Instant::now();
        assert!(b.allow(now)); // refill overflowed: full (2) and this one was free
        assert!(b.allow(now) && b.allow(now));
        assert!(!b.allow(now));
    }

    #[test]
    fn rates_scale_with_every_and_capacity_defaults_to_the_rate() {
        let r = rate_per_sec(1.0, Some(Duration::from_secs(60)), Duration::from_secs(1));
        assert!((r - 1.0 / 60.0).abs() < 1e-12);
        assert_eq!(default_capacity(r), 1);
        assert_eq!(default_capacity(rate_per_sec(10.0, None, Duration::from_secs(1))), 10);
        // `every` below one second counts as one second for router limits.
        assert_eq!(rate_per_sec(5.0, Some(Duration::from_millis(100)), Duration::from_secs(1)), 5.0);
    }

    #[tokio::test(start_paused = true)]
    async fn per_client_buckets_are_independent() {
        let c = ClientBuckets::new(1.0, 1, 1000);
        let now = Instant::now();
        assert!(c.allow("alice", now));
        assert!(!c.allow("alice", now));
        assert!(c.allow("bob", now));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(c.allow("alice", Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_distinct_clients_stays_within_the_bound() {
        let bound = 10_000;
        let c = ClientBuckets::new(1.0, 1, bound);
        let now = Instant::now();
        for i in 0..200_000u32 {
            assert!(c.allow(&i.to_string(), now), "a new client always gets its first request");
        }
        assert!(c.len() <= bound.div_ceil(SHARDS) * SHARDS, "{} clients tracked", c.len());
    }
}
