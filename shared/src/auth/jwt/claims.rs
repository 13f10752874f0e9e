//! A token's claims: the registered-claim checks (go-jose's `ValidateWithLeeway`), the roles and
//! scopes matchers of krakend-jose, and claim values printed as Go prints them (`Claims.Get`).

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// The claims of a validated token.
#[derive(Debug, Clone)]
pub(crate) struct Claims(pub(crate) Map<String, Value>);

impl Claims {
    /// A claim by dotted path, formatted as KrakenD formats it for `{JWT.claim}` url_pattern
    /// placeholders and propagated headers. A key holding the whole path (`"a.b"`, or a URL claim
    /// such as `"https://example.com/roles"`) wins over nested objects (`{"a": {"b": …}}`).
    pub(crate) fn get(&self, path: &str) -> Option<String> {
        if let Some(v) = self.0.get(path) {
            return Some(krakend_format(v));
        }
        let (parent, last) = nested(&self.0, path)?;
        parent.get(last).map(krakend_format)
    }

    /// The raw value of the claim `path` as krakend-jose's `getNestedClaim` finds it: a key
    /// with a `.` is a path into nested objects (for `nested`), else a top-level key.
    pub(crate) fn lookup(&self, path: &str, nested_allowed: bool) -> Option<&Value> {
        if nested_allowed && path.contains('.') {
            let (parent, last) = nested(&self.0, path)?;
            parent.get(last)
        } else {
            self.0.get(path)
        }
    }
}

/// The object holding the last segment of a dotted path, and that segment.
fn nested<'a, 'p>(root: &'a Map<String, Value>, path: &'p str) -> Option<(&'a Map<String, Value>, &'p str)> {
    let (parents, last) = path.rsplit_once('.')?;
    let mut cur = root;
    for seg in parents.split('.') {
        cur = cur.get(seg)?.as_object()?;
    }
    Some((cur, last))
}

/// krakend-jose's `Claims.Get`: strings as they are, whole numbers without decimals, other
/// numbers with `%f`, lists joined by `,` (each item as Go's `%v`), anything else as Go's JSON.
pub(crate) fn krakend_format(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => {
                let r = f.round();
                if (f - r).abs() <= 1e-6 { format!("{}", r as i64) } else { format!("{f:.6}") }
            }
            _ => n.to_string(),
        },
        Value::Array(items) => items.iter().map(go_v).collect::<Vec<_>>().join(","),
        _ => go_json(v),
    }
}

/// Go's `fmt.Sprintf("%v", x)` for a value decoded by `encoding/json`.
pub(crate) fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), go_float_g),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys.iter().map(|k| format!("{k}:{}", go_v(&map[*k]))).collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// Go's `%v` of a float64 (`strconv` `'g'`, shortest): exponent form below 1e-4 and from 1e6.
fn go_float_g(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        return format!("{f}");
    }
    let (mantissa, exp) = sci(f);
    if !(-4..6).contains(&exp) { go_exp(&mantissa, exp, true) } else { format!("{f}") }
}

/// Go's `encoding/json` number form of a float64: plain, or exponent form below 1e-6 and from 1e21.
fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (mantissa, exp) = sci(f);
        go_exp(&mantissa, exp, false)
    } else {
        format!("{f}")
    }
}

/// The shortest round-trip digits of `f` as (`d.ddd` with sign, decimal exponent).
fn sci(f: f64) -> (String, i32) {
    let s = format!("{f:e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    (m.to_owned(), e.parse().unwrap_or(0))
}

/// `1.5e+07` (Go's `%e` exponent has a sign and at least two digits); `json` drops the padding
/// of negative one-digit exponents (`1e-7`), as `encoding/json` does.
fn go_exp(mantissa: &str, exp: i32, pad: bool) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    let digits = exp.unsigned_abs();
    if pad || exp >= 0 { format!("{mantissa}e{sign}{digits:02}") } else { format!("{mantissa}e{sign}{digits}") }
}

/// Go's `json.Marshal` of a decoded value: sorted keys, HTML-safe escapes, Go's float form.
fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(&mut out, v);
    out
}

fn write_go_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.as_f64().map_or_else(|| n.to_string(), go_json_float)),
        Value::String(s) => write_go_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(out, k);
                out.push(':');
                write_go_json(out, &map[*k]);
            }
            out.push('}');
        }
    }
}

fn write_go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What the registered claims must satisfy (go-jose's `jwt.Expected` plus the leeway).
pub(crate) struct Expected<'a> {
    pub issuer: Option<&'a str>,
    pub audience: &'a [String],
    pub leeway_secs: f64,
}

/// go-jose's decoding of the registered claims and `ValidateWithLeeway`: types first (a
/// registered claim of the wrong type makes the token invalid), then issuer, every configured
/// audience, `nbf`, `exp` and `iat` against `now` (Unix seconds) with the leeway.
pub(crate) fn check_registered(claims: &Map<String, Value>, expect: &Expected<'_>, now: f64) -> Result<(), ClaimError> {
    let string = |name: &'static str| -> Result<Option<&str>, ClaimError> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ClaimError::NotAString(name)),
        }
    };
    let date = |name: &'static str| -> Result<Option<f64>, ClaimError> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            // NumericDate is an int64: the decoded float is truncated.
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if f.is_finite() => Ok(Some(f.trunc())),
                _ => Err(ClaimError::InvalidDate(name)),
            },
            Some(_) => Err(ClaimError::NotANumber(name)),
        }
    };
    let iss = string("iss")?;
    string("sub")?;
    string("jti")?;
    let aud: Vec<&str> = match claims.get("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => {
            items.iter().map(Value::as_str).collect::<Option<Vec<_>>>().ok_or(ClaimError::AudienceItemNotAString)?
        }
        Some(_) => return Err(ClaimError::AudienceNotAList),
    };
    let (nbf, exp, iat) = (date("nbf")?, date("exp")?, date("iat")?);
    if let Some(want) = expect.issuer.filter(|i| !i.is_empty())
        && iss != Some(want)
    {
        return Err(ClaimError::Issuer { found: iss.unwrap_or("").to_owned(), want: want.to_owned() });
    }
    if let Some(missing) = expect.audience.iter().find(|a| !aud.contains(&a.as_str())) {
        return Err(ClaimError::AudienceMissing(missing.clone()));
    }
    let leeway = expect.leeway_secs;
    if nbf.is_some_and(|nbf| now + leeway < nbf) {
        return Err(ClaimError::NotYetValid);
    }
    if exp.is_some_and(|exp| now - leeway > exp) {
        return Err(ClaimError::Expired);
    }
    if iat.is_some_and(|iat| now + leeway < iat) {
        return Err(ClaimError::IssuedInTheFuture);
    }
    Ok(())
}

/// Why the registered claims make a token invalid (the text is logged with the 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ClaimError {
    #[error("claim `{0}` is not a string")]
    NotAString(&'static str),
    #[error("claim `{0}` is not a valid date")]
    InvalidDate(&'static str),
    #[error("claim `{0}` is not a number")]
    NotANumber(&'static str),
    #[error("claim `aud` holds a non-string")]
    AudienceItemNotAString,
    #[error("claim `aud` is not a string nor a list")]
    AudienceNotAList,
    #[error("issuer `{found}` is not `{want}`")]
    Issuer { found: String, want: String },
    #[error("audience `{0}` is not in the token")]
    AudienceMissing(String),
    #[error("token not valid yet (nbf)")]
    NotYetValid,
    #[error("token is expired (exp)")]
    Expired,
    #[error("token issued in the future (iat)")]
    IssuedInTheFuture,
}

/// krakend-jose's `CanAccess`: a list claim holds one of `required`, or a string claim does once
/// split on single spaces. Items that are not strings never match (KrakenD panics on them).
pub(crate) fn has_any_role(value: Option<&Value>, required: &[String]) -> bool {
    let present = present_items(value);
    required.iter().any(|r| present.contains(&r.as_str()))
}

/// krakend-jose's scope matchers over a list claim or a space-separated string claim.
pub(crate) fn scopes_match(value: Option<&Value>, required: &[String], all: bool) -> bool {
    let present = present_items(value);
    if all {
        required.iter().all(|r| present.contains(&r.as_str()))
    } else {
        required.iter().any(|r| present.contains(&r.as_str()))
    }
}

fn present_items(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => s.split(' ').collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        Claims(v.as_object().unwrap().clone())
    }

    #[test]
    fn claims_are_formatted_as_krakend_formats_them() {
        let c = claims(json!({
            "sub": "1234", "n": 42, "big": 1e15, "half": 1.5, "neg": -2.0, "flag": true, "nothing": null,
            "roles": ["a", "b", 3, 1.5, true, null, ["x", "y"], {"k": 1}],
            "obj": {"b": "<&>", "a": [1, 2.5e-7, 1e21]}
        }));
        assert_eq!(c.get("sub").unwrap(), "1234");
        assert_eq!(c.get("n").unwrap(), "42");
        assert_eq!(c.get("big").unwrap(), "1000000000000000");
        assert_eq!(c.get("half").unwrap(), "1.500000");
        assert_eq!(c.get("neg").unwrap(), "-2");
        assert_eq!(c.get("flag").unwrap(), "true");
        assert_eq!(c.get("nothing").unwrap(), "null");
        assert_eq!(c.get("roles").unwrap(), "a,b,3,1.5,true,<nil>,[x y],map[k:1]");
        assert_eq!(c.get("obj").unwrap(), r#"{"a":[1,2.5e-7,1e+21],"b":"\u003c\u0026\u003e"}"#);
        assert_eq!(c.get("missing"), None);
    }

    #[test]
    fn go_percent_v_switches_to_exponent_form_like_go() {
        assert_eq!(go_float_g(100000.0), "100000");
        assert_eq!(go_float_g(1000000.0), "1e+06");
        assert_eq!(go_float_g(123456789.0), "1.23456789e+08");
        assert_eq!(go_float_g(0.0001), "0.0001");
        assert_eq!(go_float_g(0.00001), "1e-05");
        assert_eq!(go_float_g(-2.5), "-2.5");
    }

    #[test]
    fn dotted_paths_read_nested_claims_after_whole_keys() {
        let c = claims(json!({"realm_access": {"roles": ["r1", "r2"]}, "a.b": "flat", "a": {"b": "nested"}}));
        assert_eq!(c.get("realm_access.roles").unwrap(), "r1,r2");
        assert_eq!(c.get("a.b").unwrap(), "flat");
        assert_eq!(c.get("realm_access.missing"), None);
        assert_eq!(c.lookup("a.b", true), Some(&json!("nested")));
        assert_eq!(c.lookup("a.b", false), Some(&json!("flat")));
    }

    fn expected<'a>(issuer: Option<&'a str>, audience: &'a [String]) -> Expected<'a> {
        Expected { issuer, audience, leeway_secs: 1.0 }
    }

    #[test]
    fn time_claims_are_checked_with_a_one_second_leeway() {
        let e = expected(None, &[]);
        let now = 1_000_000.5;
        let ok = |v: Value| check_registered(v.as_object().unwrap(), &e, now);
        assert!(ok(json!({"exp": 1_000_000})).is_ok());
        assert!(ok(json!({"exp": 999_999.5})).is_err(), "exp is truncated to 999999: 1.5 s ago");
        assert_eq!(ok(json!({"exp": 999_999})), Err(ClaimError::Expired));
        assert_eq!(ok(json!({"exp": 999_999})).unwrap_err().to_string(), "token is expired (exp)");
        assert_eq!(ok(json!({"exp": "soon"})).unwrap_err().to_string(), "claim `exp` is not a number");
        assert!(ok(json!({"nbf": 1_000_001})).is_ok());
        assert!(ok(json!({"nbf": 1_000_002})).is_err());
        assert!(ok(json!({"iat": 1_000_002})).is_err());
        assert!(ok(json!({"exp": null, "nbf": null})).is_ok());
        assert!(ok(json!({"exp": "1000000"})).is_err());
        assert!(ok(json!({})).is_ok(), "exp is optional, as in KrakenD");
    }

    #[test]
    fn issuer_must_match_and_every_configured_audience_must_be_present() {
        let aud = vec!["a1".to_owned(), "a2".to_owned()];
        let e = expected(Some("iss1"), &aud);
        let check = |v: Value| check_registered(v.as_object().unwrap(), &e, 0.0);
        assert!(check(json!({"iss": "iss1", "aud": ["a2", "x", "a1"]})).is_ok());
        assert!(check(json!({"iss": "iss1", "aud": ["a1"]})).is_err());
        assert!(check(json!({"iss": "iss2", "aud": ["a1", "a2"]})).is_err());
        assert!(check(json!({"aud": ["a1", "a2"]})).is_err());
        assert!(check(json!({"iss": "iss1", "aud": ["a1", "a2", 3]})).is_err());
        let one = vec!["a1".to_owned()];
        let e = expected(None, &one);
        assert!(check_registered(json!({"aud": "a1"}).as_object().unwrap(), &e, 0.0).is_ok());
        assert!(check_registered(json!({"sub": 5}).as_object().unwrap(), &e, 0.0).is_err());
    }

    #[test]
    fn roles_match_any_item_of_a_list_or_a_space_separated_string() {
        let req = vec!["admin".to_owned(), "ops".to_owned()];
        assert!(has_any_role(Some(&json!(["user", "ops"])), &req));
        assert!(has_any_role(Some(&json!("user admin")), &req));
        assert!(!has_any_role(Some(&json!(["user", 1])), &req));
        assert!(!has_any_role(Some(&json!({"admin": true})), &req));
        assert!(!has_any_role(None, &req));
    }

    #[test]
    fn scopes_match_any_or_all() {
        let req = vec!["read".to_owned(), "write".to_owned()];
        assert!(scopes_match(Some(&json!("read email")), &req, false));
        assert!(!scopes_match(Some(&json!("read email")), &req, true));
        assert!(scopes_match(Some(&json!("write read")), &req, true));
        assert!(scopes_match(Some(&json!(["write", "read"])), &req, true));
        assert!(!scopes_match(Some(&json!([])), &req, false));
        assert!(!scopes_match(None, &req, false));
    }
}
