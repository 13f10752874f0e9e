//! What the expressions read, as CEL values: JSON (claims, response data) and the request's
//! parts, converted by hand and borrowed from the request where they can be (cel's serde
//! serializer would turn the workspace's `arbitrary_precision` numbers into structs, and copy).

use super::compile::Fields;
use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt};
use cel::common::value::Val;
use http::HeaderMap;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::HashMap;

/// How JSON numbers become CEL numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Numbers {
    /// Every number a `double`: Go decodes token claims into `float64`, which cel-go reads so.
    Double,
    /// Whole numbers an `int` (a `uint` beyond `int`'s range), others a `double`.
    Exact,
}

pub(super) type Boxed<'a> = Box<dyn Val + 'a>;

pub(super) fn string(s: &str) -> Boxed<'_> {
    Box::new(CelString::from(s))
}

pub(super) fn owned_string(s: String) -> Boxed<'static> {
    Box::new(CelString::from(s))
}

pub(super) fn boolean(b: bool) -> Boxed<'static> {
    Box::new(CelBool::from(b))
}

pub(super) fn int(i: i64) -> Boxed<'static> {
    Box::new(CelInt::from(i))
}

/// A JSON value, its strings and keys borrowed.
pub(super) fn json(v: &Value, numbers: Numbers) -> Boxed<'_> {
    match v {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => boolean(*b),
        Value::Number(n) => number(n, numbers),
        Value::String(s) => string(s),
        Value::Array(items) => {
            Box::new(CelList::from(items.iter().map(|i| json(i, numbers)).collect::<Vec<Boxed<'_>>>()))
        }
        Value::Object(map) => Box::new(object(map, numbers, &Fields::All)),
    }
}

/// A JSON object as a CEL map with string keys: the members `fields` names, or all.
pub(super) fn object<'a>(map: &'a Map<String, Value>, numbers: Numbers, fields: &Fields) -> CelMap<'a> {
    let entries: HashMap<CelMapKey<'a>, Boxed<'a>> = match fields {
        Fields::All => map.iter().map(|(k, v)| (CelMapKey::from(k.as_str()), json(v, numbers))).collect(),
        Fields::Only(keys) => keys
            .iter()
            .filter_map(|k| map.get_key_value(k.as_str()))
            .map(|(k, v)| (CelMapKey::from(k.as_str()), json(v, numbers)))
            .collect(),
    };
    CelMap::from(entries)
}

fn number(n: &Number, numbers: Numbers) -> Boxed<'static> {
    if numbers == Numbers::Exact {
        if let Some(i) = n.as_i64() {
            return int(i);
        }
        if let Some(u) = n.as_u64() {
            return Box::new(CelUInt::from(u));
        }
    }
    // With `arbitrary_precision` a number too large for f64 is infinite rather than `None`.
    Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN)))
}

/// `map(string, string)`: keys and values side by side.
pub(super) fn string_map<'a>(keys: &'a [String], values: &'a [String]) -> Boxed<'a> {
    let entries: HashMap<CelMapKey<'a>, Boxed<'a>> =
        keys.iter().zip(values).map(|(k, v)| (CelMapKey::from(k.as_str()), string(v))).collect();
    Box::new(CelMap::from(entries))
}

/// `map(string, list(string))` of headers, each name keyed as `key_of` says (those `fields`
/// names, or all).
pub(super) fn header_map<'a>(
    headers: &'a HeaderMap,
    key_of: &dyn Fn(&http::HeaderName) -> String,
    fields: &Fields,
) -> Boxed<'a> {
    let mut entries: HashMap<CelMapKey<'a>, Boxed<'a>> = HashMap::new();
    for name in headers.keys() {
        let key = key_of(name);
        if !fields.wants(&key) {
            continue;
        }
        let values: Vec<Boxed<'a>> = headers
            .get_all(name)
            .iter()
            .map(|v| -> Boxed<'a> {
                match v.to_str() {
                    Ok(s) => string(s),
                    Err(_) => match String::from_utf8_lossy(v.as_bytes()) {
                        Cow::Borrowed(s) => string(s),
                        Cow::Owned(s) => owned_string(s),
                    },
                }
            })
            .collect();
        entries.insert(CelMapKey::from(key), Box::new(CelList::from(values)));
    }
    Box::new(CelMap::from(entries))
}

/// `map(string, list(string))` of the query pairs `keep` lets through (those `fields` names, or
/// all), values in order.
pub(super) fn query_map<'a>(pairs: &'a [(String, String)], keep: &dyn Fn(&str) -> bool, fields: &Fields) -> Boxed<'a> {
    let mut grouped: Vec<(&'a str, Vec<Boxed<'a>>)> = Vec::new();
    for (k, v) in pairs.iter().filter(|(k, _)| fields.wants(k) && keep(k)) {
        match grouped.iter_mut().find(|(name, _)| *name == k.as_str()) {
            Some((_, values)) => values.push(string(v)),
            None => grouped.push((k.as_str(), vec![string(v)])),
        }
    }
    let entries: HashMap<CelMapKey<'a>, Boxed<'a>> = grouped
        .into_iter()
        .map(|(k, values)| (CelMapKey::from(k), Box::new(CelList::from(values)) as Boxed<'a>))
        .collect();
    Box::new(CelMap::from(entries))
}

/// An empty `map`.
pub(super) fn empty_map() -> Boxed<'static> {
    Box::new(CelMap::from(HashMap::new()))
}

/// `now` as krakend-cel writes it: Go's `2006-01-02T15:04:05.999Z07:00` layout, in UTC (the
/// fraction's trailing zeros dropped, and its dot with them when it is all zeros).
pub(super) fn now_string(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    let millis = since_epoch.subsec_millis();
    if millis != 0 {
        let fraction = format!("{millis:03}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's algorithm. The route phase has
/// its own copy; a feature may not import a phase, and the function is a few lines.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
