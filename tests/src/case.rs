//! The conformance case format of `fixtures/cases.json` (serde model), loading the fixture,
//! families, selection, and the body encoding rule shared by mocks and clients.

use crate::json::{self, Json};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::path::PathBuf;

/// A JSON object read as its members in document order (header order matters on the wire).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    members.push((key, value));
                }
                Ok(Ordered(members))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(std::marker::PhantomData))
    }
}

/// A header value in a case: one string, or a list of strings (several header lines, in order).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum HeaderValues {
    One(String),
    Many(Vec<String>),
}

impl HeaderValues {
    /// The values as separate header lines.
    pub fn lines(&self) -> Vec<&str> {
        match self {
            HeaderValues::One(v) => vec![v.as_str()],
            HeaderValues::Many(vs) => vs.iter().map(String::as_str).collect(),
        }
    }
}

impl fmt::Display for HeaderValues {
    /// Like Python's `repr`: `'text'` or `['a', 'b']`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderValues::One(v) => write!(f, "{v:?}"),
            HeaderValues::Many(vs) => write!(f, "{vs:?}"),
        }
    }
}

/// One conformance case.
#[derive(Debug, Deserialize)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub source: Option<String>,
    /// "high" (the default) or "medium".
    #[serde(default)]
    pub confidence: Option<String>,
    /// A complete KrakenD v3 config; backend hosts are `http://BACKEND_<name>`.
    pub config: Box<RawValue>,
    /// Mock name -> routes (`null` routes = none).
    #[serde(default)]
    pub backends: Option<Ordered<Option<Vec<Route>>>>,
    pub request: CaseRequest,
    #[serde(default)]
    pub preceding_requests: Option<Vec<CaseRequest>>,
    pub expect: Expect,
    #[serde(default)]
    pub notes: Option<String>,
}

/// A route of a mock backend: matchers and the response.
#[derive(Debug, Clone, Deserialize)]
pub struct Route {
    /// Missing (or null) matches every method.
    #[serde(default)]
    pub method: Option<String>,
    /// Compared with the percent-decoded request path; a route without path matches nothing.
    #[serde(default)]
    pub path: Option<String>,
    /// The exact raw query string ("" = none); not checked when absent.
    #[serde(default)]
    pub query: Option<String>,
    /// Subset, exact values (list = all values in order, null = must be absent).
    #[serde(default)]
    pub request_headers: Option<Ordered<Option<HeaderValues>>>,
    #[serde(default)]
    pub request_headers_present: Option<Vec<String>>,
    #[serde(default)]
    pub request_headers_absent: Option<Vec<String>>,
    /// The exact raw body (encoded like `body`); not checked when absent or null.
    #[serde(default)]
    pub request_body: Option<Box<RawValue>>,
    /// Default 200.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub headers: Option<Ordered<HeaderValues>>,
    #[serde(default)]
    pub body: Option<Box<RawValue>>,
    #[serde(default)]
    pub delay_ms: Option<f64>,
}

/// The request of a case, or one of its preceding requests.
#[derive(Debug, Deserialize)]
pub struct CaseRequest {
    /// Default GET.
    #[serde(default)]
    pub method: Option<String>,
    /// Path with query; default "/".
    #[serde(default)]
    pub path: Option<String>,
    /// A `Host` entry sets the request's Host.
    #[serde(default)]
    pub headers: Option<Ordered<HeaderValues>>,
    /// String = raw, other JSON = serialised, null = no body.
    #[serde(default)]
    pub body: Option<Box<RawValue>>,
    /// Preceding requests only: the status they must get.
    #[serde(default)]
    pub expect_status: Option<u16>,
}

impl CaseRequest {
    pub fn method(&self) -> &str {
        match self.method.as_deref() {
            None | Some("") => "GET",
            Some(m) => m,
        }
    }

    pub fn path(&self) -> &str {
        match self.path.as_deref() {
            None | Some("") => "/",
            Some(p) => p,
        }
    }
}

/// What the gateway must answer.
#[derive(Debug, Deserialize)]
pub struct Expect {
    #[serde(default)]
    pub status: Option<u16>,
    /// Subset check, case-insensitive names; null = must be absent.
    #[serde(default)]
    pub headers: Option<Ordered<Option<HeaderValues>>>,
    /// Names that must exist with any value.
    #[serde(default)]
    pub headers_present: Option<Vec<String>>,
    /// String = exact raw text; other JSON = deep comparison; null = not checked.
    #[serde(default)]
    pub body: Option<Box<RawValue>>,
    /// Exact bytes.
    #[serde(default)]
    pub body_raw: Option<String>,
}

/// A body field of a case, decoded.
pub enum Body {
    Text(String),
    Json(Json),
}

/// Decodes a body field (`None` = JSON null or absent).
pub fn body_value(raw: Option<&RawValue>) -> Result<Option<Body>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get();
    if text.trim_start().starts_with('"') {
        let s: String = serde_json::from_str(text).map_err(|e| e.to_string())?;
        return Ok(Some(Body::Text(s)));
    }
    match json::parse(text)? {
        Json::Null => Ok(None),
        value => Ok(Some(Body::Json(value))),
    }
}

/// `encode_body` of run_cases.py: a string is sent raw, null is empty, any other value is its
/// compact JSON (members in document order, number literals as written).
pub fn encode_body(raw: Option<&RawValue>) -> Result<Vec<u8>, String> {
    Ok(match body_value(raw)? {
        None => Vec::new(),
        Some(Body::Text(s)) => s.into_bytes(),
        Some(Body::Json(value)) => value.to_compact().into_bytes(),
    })
}

/// The family of a case: its name up to the first '_' or '-'.
pub fn family(name: &str) -> &str {
    name.split(['_', '-']).next().unwrap_or(name)
}

/// Where the case fixture lives (inside this crate).
pub fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("cases.json")
}

/// Parses a case file: a list of cases, or an object holding them under "cases".
pub fn parse_cases(text: &str) -> Result<Vec<Case>, String> {
    #[derive(Deserialize)]
    struct Wrapped {
        cases: Vec<Case>,
    }
    if text.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<Case>>(text).map_err(|e| e.to_string())
    } else {
        serde_json::from_str::<Wrapped>(text).map(|w| w.cases).map_err(|e| e.to_string())
    }
}

/// Loads every case of `tests/fixtures/cases.json`.
pub fn load_cases() -> Vec<Case> {
    load_cases_from(&fixture_path())
}

/// The case file of one request-rule namespace: `tests/fixtures/rules/<name>.json`.
pub fn rules_fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("rules").join(format!("{name}.json"))
}

/// Loads every case of a case file.
pub fn load_cases_from(path: &std::path::Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_cases(&text).unwrap_or_else(|e| panic!("malformed {}: {e}", path.display()))
}

/// The cases to run: those named in `only` (comma-separated; every name must exist) when given,
/// which overrides `skip_families`; otherwise every case whose family is not skipped.
pub fn select(cases: Vec<Case>, skip_families: &[&str], only: Option<&str>) -> Result<Vec<Case>, String> {
    let Some(only) = only else {
        return Ok(cases.into_iter().filter(|c| !skip_families.contains(&family(&c.name))).collect());
    };
    let wanted: Vec<&str> = only.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    let unknown: Vec<&str> = wanted.iter().copied().filter(|n| !cases.iter().any(|c| c.name == *n)).collect();
    if !unknown.is_empty() {
        return Err(format!("unknown case name(s): {}", unknown.join(", ")));
    }
    Ok(cases.into_iter().filter(|c| wanted.contains(&c.name.as_str())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_split_on_the_first_underscore_or_dash() {
        assert_eq!(family("cors_preflight-x"), "cors");
        assert_eq!(family("x-y_z"), "x");
        assert_eq!(family("plain"), "plain");
    }

    #[test]
    fn bodies_encode_like_run_cases() {
        let raw = |t: &str| RawValue::from_string(t.to_owned()).unwrap();
        assert_eq!(encode_body(None).unwrap(), b"");
        assert_eq!(encode_body(Some(&raw("\"a\\nb\""))).unwrap(), b"a\nb");
        assert_eq!(encode_body(Some(&raw("null"))).unwrap(), b"");
        assert_eq!(encode_body(Some(&raw("{ \"z\": 1, \"a\": [1, 2.50] }"))).unwrap(), br#"{"z":1,"a":[1,2.50]}"#);
    }
}
