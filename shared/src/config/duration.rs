//! Go duration strings (`"1m30s"`, `"1.5s"`, `"300ms"`), as KrakenD writes them in its config,
//! and the civil-date arithmetic that the date parsers (martian's RFC 3339 times, the cache's
//! HTTP dates) share.

use serde::de::{self, Deserializer, Visitor};
use std::{fmt, time::Duration};

/// A duration from the config: a Go duration string, or (as KrakenD CE's viper reads it) a bare
/// number of nanoseconds. `was_number` lets validation warn about the surprising number form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GoDuration {
    pub value: Duration,
    pub was_number: bool,
}

/// Parses Go's `time.ParseDuration` syntax with Go's arithmetic (whole nanoseconds, a fraction's
/// remainder truncated), by the reader below, which the HTTP cache also uses for `max-age`. Written by hand
/// because no maintained crate takes exactly Go's grammar (`humantime` accepts other units and
/// spaces, and rejects `1.5s`).
pub fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    if text.starts_with('-') {
        return Err(DurationError::Negative(text.to_owned()));
    }
    match go_nanos(text).map(u64::try_from) {
        Some(Ok(ns)) => Ok(Duration::from_nanos(ns)),
        _ => Err(DurationError::Malformed(text.to_owned())),
    }
}

/// Why [`parse_go_duration`] refuses a text (the text is kept for the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration `{0}`: negative durations are not allowed")]
    Negative(String),
    #[error("invalid duration `{0}`: use a Go duration such as \"2s\", \"1500ms\" or \"1m30s\"")]
    Malformed(String),
}

/// Go's `time.ParseDuration` in signed nanoseconds, Go's arithmetic included (config durations,
/// and the HTTP cache's delta-seconds): `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units ns us µs μs ms s m h.
pub(crate) fn go_nanos(orig: &str) -> Option<i64> {
    const LIMIT: u64 = 1 << 63;
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return None;
        }
        // Integer part.
        let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &s[..digits] {
            if v > (LIMIT - 1) / 10 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return None;
            }
        }
        let pre = digits > 0;
        s = &s[digits..];
        // Fraction.
        let mut post = false;
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let fdigits = s.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &s[..fdigits] {
                if overflow {
                    continue;
                }
                if frac > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = frac * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                frac = y;
                scale *= 10.0;
            }
            post = fdigits > 0;
            s = &s[fdigits..];
        }
        if !pre && !post {
            return None;
        }
        // Unit.
        let ulen = s.iter().take_while(|&&c| c != b'.' && !c.is_ascii_digit()).count();
        if ulen == 0 {
            return None;
        }
        let unit: u64 = match &s[..ulen] {
            b"ns" => 1,
            // us, µs (U+00B5), μs (U+03BC)
            b"us" | [0xc2, 0xb5, b's'] | [0xce, 0xbc, b's'] => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => return None,
        };
        s = &s[ulen..];
        if v > LIMIT / unit {
            return None;
        }
        v *= unit;
        if frac > 0 {
            // Go: v += uint64(float64(f) * (float64(unit) / scale))
            v = v.checked_add((frac as f64 * (unit as f64 / scale)) as u64)?;
            if v > LIMIT {
                return None;
            }
        }
        total = total.checked_add(v)?;
        if total > LIMIT {
            return None;
        }
    }
    if neg {
        return Some((total as i128).wrapping_neg() as i64);
    }
    i64::try_from(total).ok()
}

impl<'de> serde::Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"2s\" or \"1500ms\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
                parse_go_duration(v).map(|value| GoDuration { value, was_number: false }).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
                Ok(GoDuration { value: Duration::from_nanos(v), was_number: true })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoDuration, E> {
                u64::try_from(v)
                    .map(|n| GoDuration { value: Duration::from_nanos(n), was_number: true })
                    .map_err(|_| E::custom("invalid duration: negative durations are not allowed"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<GoDuration, E> {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
                    Ok(GoDuration { value: Duration::from_nanos(v as u64), was_number: true })
                } else {
                    Err(E::custom("invalid duration: a number of nanoseconds must be a whole, non-negative number"))
                }
            }
            // With serde_json's arbitrary_precision a number arrives as a map holding its text.
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<GoDuration, A::Error> {
                let n = serde_json::Number::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if let Some(u) = n.as_u64() {
                    self.visit_u64(u)
                } else if let Some(f) = n.as_f64() {
                    self.visit_f64(f)
                } else {
                    Err(de::Error::custom("invalid duration"))
                }
            }
        }
        use serde::Deserialize;
        deserializer.deserialize_any(V)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_units_and_compounds() {
        assert_eq!(parse_go_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_go_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("30us"), Ok(Duration::from_micros(30)));
        assert_eq!(parse_go_duration("150µs"), Ok(Duration::from_micros(150)));
        assert_eq!(parse_go_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in ["", "3", "3 s", "1d", "s", "-1s", "1.2.3s", ".s", "1sm"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn fractions_are_truncated_to_whole_nanoseconds_like_go() {
        // Go adds `uint64(float64(f) * (float64(unit) / scale))` per component, truncating.
        assert_eq!(parse_go_duration(".0005us"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("1.0000000005s"), Ok(Duration::from_secs(1)));
        assert_eq!(
            parse_go_duration("709874360862.537868us135740675306ns"),
            Ok(Duration::from_nanos(710_010_101_537_843))
        );
    }

    #[test]
    fn the_largest_go_duration_is_accepted_and_one_more_is_not() {
        assert_eq!(parse_go_duration("9223372036854775807ns"), Ok(Duration::from_nanos(i64::MAX as u64)));
        assert!(parse_go_duration("9223372036854775808ns").is_err());
        assert!(parse_go_duration("2562048h").is_err());
    }

    #[test]
    fn bare_numbers_are_nanoseconds_like_krakend_ce() {
        let d: GoDuration = serde_json::from_str("3000").unwrap();
        assert_eq!(d.value, Duration::from_nanos(3000));
        assert!(d.was_number);
    }
}
