//! `Cache-Control` and `Expires`/`Date` parsing of the backend cache: the directives against an
//! independent port of krakendio/httpcache's `parseCacheControl`, the dates against the
//! `httpdate` crate (IMF-fixdate) and against Go's documented `time.Parse(time.RFC1123, ..)`
//! leniencies (case-insensitive names, a one-digit hour, fractional seconds, zone names).

use crate::oracle;
use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderValue};
use std::time::{Duration, UNIX_EPOCH};
use tributary_core::fuzz_api;

#[derive(Debug, Arbitrary)]
pub struct Case {
    cache_control: Vec<u8>,
    date: Vec<u8>,
    /// Seconds since 1970, for a generated date.
    at: u64,
    zone: u8,
    shout: bool,
    fraction: bool,
}

/// The latest second `httpdate` formats (9999-12-31T23:59:59Z).
const MAX: u64 = 253_402_300_799;

pub fn check(case: Case) {
    // Directives.
    if let Ok(value) = HeaderValue::from_bytes(&case.cache_control) {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CACHE_CONTROL, value);
        let got = fuzz_api::cache_control(&headers);
        if let Ok(text) = std::str::from_utf8(&case.cache_control) {
            let want: Vec<(String, String)> = oracle::go::cache_control(text).into_iter().collect();
            assert_eq!(got, want, "Cache-Control {text:?}");
        }
        for (_, v) in &got {
            assert_eq!(fuzz_api::cache_seconds(v), oracle::go::parse_duration(&format!("{v}s")), "seconds {v:?}");
        }
    }

    // Any bytes: whatever parses is a date that parses again, formatted the standard way.
    if let Some(t) = fuzz_api::http_date(&case.date)
        && (0..=MAX as i64).contains(&t)
    {
        let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(t as u64));
        assert_eq!(
            fuzz_api::http_date(text.as_bytes()),
            Some(t),
            "{:?} then {text}",
            String::from_utf8_lossy(&case.date)
        );
    }
    // What httpdate reads as an IMF-fixdate, Go reads the same.
    if case.date.len() == 29
        && case.date.ends_with(b" GMT")
        && let Ok(text) = std::str::from_utf8(&case.date)
        && let Ok(when) = httpdate::parse_http_date(text)
    {
        let secs = when.duration_since(UNIX_EPOCH).map_or(-1, |d| d.as_secs() as i64);
        assert_eq!(fuzz_api::http_date(&case.date), Some(secs), "{text}");
    }

    // A generated date, in Go's accepted variants.
    let at = case.at % (MAX + 1);
    let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(at));
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let (head, time) = text.split_at(17);
    let mut time = time[..8].to_owned();
    if case.shout {
        time = time.strip_prefix('0').map(str::to_owned).unwrap_or(time);
    }
    let head = if case.shout { head.to_uppercase() } else { head.to_lowercase() };
    let fraction = if case.fraction { ".123456" } else { "" };
    let (zone, offset) = match case.zone % 6 {
        0 => ("GMT".to_owned(), 0),
        1 => ("UTC".to_owned(), 0),
        2 => ("PST".to_owned(), 0),
        3 => ("CEST".to_owned(), 0),
        h => (
            format!("GMT{}{}", if h == 4 { '+' } else { '-' }, case.zone % 24),
            if h == 4 { 1 } else { -1 } * i64::from(case.zone % 24) * 3600,
        ),
    };
    let variant = format!("{head}{time}{fraction} {zone}");
    assert_eq!(fuzz_api::http_date(variant.as_bytes()), Some(at as i64 - offset), "{variant}");
}
