//! Header parsing exactly as krakendio/httpcache does it in Go: `Cache-Control` (first header
//! line only, case-sensitive directive names, `a=b` split at the first `=` with no unquoting),
//! Go `time.ParseDuration(value + "s")` for delta-seconds, and Go `time.Parse(time.RFC1123, ..)`
//! for `Date` and `Expires`.

use http::HeaderMap;
use std::collections::HashMap;

/// Parsed `Cache-Control` directives; a later duplicate wins, as in the Go map.
#[derive(Debug, Default, Clone)]
pub(crate) struct CacheControl(pub(crate) HashMap<String, String>);

impl CacheControl {
    /// Go's `parseCacheControl`: only the first `Cache-Control` line is read; parts are split on
    /// `,` and trimmed of spaces; `k=v` keeps the text between the first and second `=` as `v`.
    pub(crate) fn parse(headers: &HeaderMap) -> CacheControl {
        let mut cc = HashMap::new();
        let Some(value) = headers.get(http::header::CACHE_CONTROL) else {
            return CacheControl(cc);
        };
        let text = String::from_utf8_lossy(value.as_bytes());
        for part in text.split(',') {
            let part = part.trim_matches(' ');
            if part.is_empty() {
                continue;
            }
            if part.contains('=') {
                let mut pieces = part.split('=');
                let key = pieces.next().unwrap_or_default().trim_matches(' ');
                let value = pieces.next().unwrap_or_default().trim_matches(',');
                cc.insert(key.to_owned(), value.to_owned());
            } else {
                cc.insert(part.to_owned(), String::new());
            }
        }
        CacheControl(cc)
    }

    pub(super) fn has(&self, directive: &str) -> bool {
        self.0.contains_key(directive)
    }

    pub(super) fn get(&self, directive: &str) -> Option<&str> {
        self.0.get(directive).map(String::as_str)
    }
}

/// The first value of a header as Go's `Header.Get` returns it (`""` when absent).
pub(super) fn first<'a>(headers: &'a HeaderMap, name: &str) -> &'a [u8] {
    headers.get(name).map_or(&[][..], |v| v.as_bytes())
}

/// Go's `time.ParseDuration(text + "s")` in nanoseconds: how httpcache reads `max-age`,
/// `min-fresh`, `max-stale` and `stale-if-error` (so `1.5` is 1.5 s and `1m30` is 90 s).
pub(crate) fn go_seconds(text: &str) -> Option<i64> {
    let mut s = String::with_capacity(text.len() + 1);
    s.push_str(text);
    s.push('s');
    crate::config::go_nanos(&s)
}

/// Go's `time.Parse(time.RFC1123, text)` (`Mon, 02 Jan 2006 15:04:05 MST`) as Unix seconds.
/// Zone abbreviations count as UTC (Go gives unknown abbreviations a zero offset; `GMT+3` style
/// offsets are honoured).
pub(crate) fn parse_rfc1123(text: &[u8]) -> Option<i64> {
    let mut p = Cursor(text);
    p.word(&["mon", "tue", "wed", "thu", "fri", "sat", "sun"])?;
    p.lit(b", ")?;
    let day = p.fixed2()?;
    p.lit(b" ")?;
    let month = p.word(&["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])? + 1;
    p.lit(b" ")?;
    let year = p.year()?;
    p.lit(b" ")?;
    let hour = p.num12()?;
    p.lit(b":")?;
    let min = p.fixed2()?;
    p.lit(b":")?;
    let sec = p.fixed2()?;
    p.fraction();
    p.lit(b" ")?;
    let offset = p.zone()?;
    if !p.0.is_empty() || hour > 23 || min > 59 || sec > 59 || day < 1 || day > days_in(month, year) {
        return None;
    }
    Some(crate::config::days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset)
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn lit(&mut self, l: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(l)?;
        Some(())
    }

    /// A three-letter name, ASCII case-insensitive (Go's `lookup`); returns its index.
    fn word(&mut self, names: &[&str]) -> Option<i64> {
        let head = self.0.get(..3)?;
        let i = names.iter().position(|n| n.as_bytes().eq_ignore_ascii_case(head))?;
        self.0 = &self.0[3..];
        i64::try_from(i).ok()
    }

    fn fixed2(&mut self) -> Option<i64> {
        match self.0 {
            [a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
                self.0 = &self.0[2..];
                Some(i64::from((a - b'0') * 10 + (b - b'0')))
            }
            _ => None,
        }
    }

    /// One or two digits (Go's `15` hour field).
    fn num12(&mut self) -> Option<i64> {
        match self.0 {
            [a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => self.fixed2(),
            [a, ..] if a.is_ascii_digit() => {
                self.0 = &self.0[1..];
                Some(i64::from(a - b'0'))
            }
            _ => None,
        }
    }

    fn year(&mut self) -> Option<i64> {
        let head = self.0.get(..4)?;
        if !head.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[4..];
        Some(head.iter().fold(0, |acc, c| acc * 10 + i64::from(c - b'0')))
    }

    /// Go accepts fractional seconds after the seconds field even when the layout has none.
    fn fraction(&mut self) {
        if let [b'.' | b',', d, ..] = self.0
            && d.is_ascii_digit()
        {
            let n = 1 + self.0[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            self.0 = &self.0[n..];
        }
    }

    /// Go's `parseTimeZone` for the `MST` field: `GMT` with an optional `+h`/`-h`, `UTC`, or an
    /// upper-case abbreviation (3 letters; 4 or 5 ending in `T`); the offset in seconds.
    fn zone(&mut self) -> Option<i64> {
        let s = self.0;
        if s.len() < 3 {
            return None;
        }
        if s.starts_with(b"GMT") {
            let rest = &s[3..];
            if let [sign @ (b'+' | b'-'), digits @ ..] = rest
                && !digits.is_empty()
                && digits.len() <= 2
                && digits.iter().all(u8::is_ascii_digit)
            {
                let h = digits.iter().fold(0i64, |acc, c| acc * 10 + i64::from(c - b'0'));
                if h > 23 {
                    return None;
                }
                self.0 = &[];
                return Some(if *sign == b'+' { h * 3600 } else { -h * 3600 });
            }
            self.0 = rest;
            return Some(0);
        }
        let upper = s.iter().take_while(|c| c.is_ascii_uppercase()).count();
        let ok = match upper {
            3 => true,
            4 => s[3] == b'T' || &s[..4] == b"WITA",
            5 => s[4] == b'T',
            _ => false,
        };
        if !ok {
            return None;
        }
        self.0 = &s[upper..];
        Some(0)
    }
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn cc(value: &str) -> CacheControl {
        let mut h = HeaderMap::new();
        h.insert(http::header::CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        CacheControl::parse(&h)
    }

    #[test]
    fn cache_control_is_parsed_like_go() {
        let c = cc("public, max-age=60,no-cache , stale-if-error=5=9");
        assert_eq!(c.get("max-age"), Some("60"));
        assert!(c.has("no-cache") && c.has("public"));
        assert_eq!(c.get("stale-if-error"), Some("5"));
        // Case-sensitive names, unquoted values, spaces around `=` kept.
        assert!(!cc("Max-Age=60").has("max-age"));
        assert_eq!(cc("max-age=\"60\"").get("max-age"), Some("\"60\""));
        assert_eq!(cc("max-age = 60").get("max-age"), Some(" 60"));
        assert_eq!(go_seconds("\"60\""), None);
        assert_eq!(go_seconds(" 60"), None);
    }

    #[test]
    fn delta_seconds_follow_go_parse_duration() {
        assert_eq!(go_seconds("60"), Some(60_000_000_000));
        assert_eq!(go_seconds("1.5"), Some(1_500_000_000));
        assert_eq!(go_seconds("1m30"), Some(90_000_000_000));
        assert_eq!(go_seconds("10m"), Some(10_000_000));
        assert_eq!(go_seconds("-5"), Some(-5_000_000_000));
        assert_eq!(go_seconds("+0"), Some(0));
        assert_eq!(go_seconds(""), None);
        assert_eq!(go_seconds("1h"), None);
        assert_eq!(go_seconds("abc"), None);
        assert_eq!(go_seconds("99999999999"), None);
        assert_eq!(go_seconds(".5"), Some(500_000_000));
        assert_eq!(go_seconds("."), None);
    }

    #[test]
    fn rfc1123_dates() {
        assert_eq!(parse_rfc1123(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_rfc1123(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_rfc1123(b"sun, 06 nov 1994 08:49:37 UTC"), Some(784_111_777));
        assert_eq!(parse_rfc1123(b"Sun, 06 Nov 1994 8:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_rfc1123(b"Sun, 06 Nov 1994 09:49:37 GMT+1"), Some(784_111_777));
        assert_eq!(parse_rfc1123(b"Tue, 29 Feb 2000 00:00:00 GMT"), Some(951_782_400));
        assert_eq!(parse_rfc1123(b"Thu, 29 Feb 2001 00:00:00 GMT"), None);
        assert_eq!(parse_rfc1123(b"Sun, 6 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_rfc1123(b"Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_rfc1123(b"Sun Nov  6 08:49:37 1994"), None);
        assert_eq!(parse_rfc1123(b"Sun, 06 Nov 1994 08:49:37 +0000"), None);
        assert_eq!(parse_rfc1123(b"Sun, 06 Nov 1994 08:49:37 GMT x"), None);
        assert_eq!(parse_rfc1123(b""), None);
    }
}
