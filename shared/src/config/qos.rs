//! The `qos/http-cache` namespace as the user wrote it; the cache it configures lives with the
//! feature.

/// The backend `extra_config."qos/http-cache"` object.
///
/// `{}` gives the backend its own bucket; `shared: true` uses one process-wide bucket for all
/// such backends. `max_items` and `max_size` (bytes of the stored responses, serialised as
/// HTTP/1.1) bound a bucket with LRU eviction only when both are set and non-zero, as in
/// KrakenD; a response of `max_size` bytes or more is not stored. When they are not both set,
/// KrakenD's bucket is unbounded but Tributary's is bounded to 10,000 items and 64 MiB (the
/// cache's `DEFAULT_MAX_ITEMS` and `DEFAULT_MAX_SIZE`), so memory stays bounded whatever the
/// backends answer.
#[derive(Debug, Default, serde::Deserialize)]
pub struct HttpCacheConfig {
    #[serde(default)]
    pub shared: bool,
    #[serde(default)]
    pub max_items: Option<u64>,
    #[serde(default)]
    pub max_size: Option<u64>,
}
