//! Go durations: the config's parser (`config/duration.rs`) and the HTTP cache's delta-seconds
//! (`cache/parse.rs`) against an independent port of Go's `time.ParseDuration`.

use crate::oracle;
use tributary_core::fuzz_api;

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The config refuses negative durations; otherwise it reads what Go reads.
    let want = oracle::go::parse_duration(text).filter(|d| *d >= 0 && !text.starts_with('-'));
    let got = fuzz_api::config_duration(text).ok().map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    assert_eq!(got, want, "config duration {text:?}");
    // The cache reads `max-age=<text>` as `ParseDuration(text + "s")`.
    assert_eq!(
        fuzz_api::cache_seconds(text),
        oracle::go::parse_duration(&format!("{text}s")),
        "cache seconds {text:?}"
    );
}
