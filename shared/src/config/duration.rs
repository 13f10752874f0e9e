//! Go duration strings (`"1m30s"`, `"1.5s"`, `"300ms"`), as KrakenD writes them in its config.

use serde::de::{self, Deserializer, Visitor};
use std::{fmt, time::Duration};

/// A duration from the config: a Go duration string, or (as KrakenD CE's viper reads it) a bare
/// number of nanoseconds. `was_number` lets validation warn about the surprising number form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GoDuration {
    pub value: Duration,
    pub was_number: bool,
}

/// Parses Go's `time.ParseDuration` syntax. Written by hand because no maintained crate takes
/// exactly Go's grammar (`humantime` accepts other units and spaces, and rejects `1.5s`).
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration `{text}`: use a Go duration such as \"2s\", \"1500ms\" or \"1m30s\"");
    let mut rest = text;
    if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    } else if rest.starts_with('-') {
        return Err(format!("invalid duration `{text}`: negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit_ns = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total_ns += value * unit_ns;
    }
    if !total_ns.is_finite() || total_ns > i64::MAX as f64 {
        return Err(format!("invalid duration `{text}`: too long"));
    }
    Ok(Duration::from_nanos(total_ns.round() as u64))
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
    fn bare_numbers_are_nanoseconds_like_krakend_ce() {
        let d: GoDuration = serde_json::from_str("3000").unwrap();
        assert_eq!(d.value, Duration::from_nanos(3000));
        assert!(d.was_number);
    }
}
