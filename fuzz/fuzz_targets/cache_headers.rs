//! `Cache-Control` and `Expires`/`Date` parsing of the backend cache: the directives against an
//! independent port of krakendio/httpcache's `parseCacheControl`, the dates against the
//! `httpdate` crate (IMF-fixdate) and against Go's documented `time.Parse(time.RFC1123, ..)`
//! leniencies (case-insensitive names, a one-digit hour, fractional seconds, zone names).
#![no_main]

#[path = "../../shared/tests/checks/cache_headers.rs"]
mod cache_headers;
#[path = "../../shared/tests/oracle/mod.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|case: cache_headers::Case| cache_headers::check(case));
