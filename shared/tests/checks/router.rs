//! Route lookup and path decoding: arbitrary route tables (compiled from a generated config, as
//! the gateway compiles them) and arbitrary request paths. Checks the decoding and `path.Clean`
//! against independent versions (`shared/tests/oracle`), and every lookup result against the
//! table: a match fits its pattern, a redirect leads to a route, a 405 lists methods that route.

use crate::oracle;
use arbitrary::{Arbitrary, Unstructured};
use http::Method;
use serde_json::json;
use tributary_core::fuzz_api::{self, Route, Routes};

const SEGMENTS: &[&str] = &["users", "Users", "a", "b", "v1", "{id}", "{name}", "{id}", "x.y", "__health", "ü", "a b"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];

#[derive(Debug)]
pub struct Case {
    routes: Vec<(String, String)>,
    flags: [bool; 4],
    requests: Vec<(Method, String)>,
}

fn route_path(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let mut p = String::new();
    for _ in 0..u.int_in_range(0..=3)? {
        p.push('/');
        p.push_str(u.choose(SEGMENTS)?);
    }
    if p.is_empty() || u.ratio(1, 6)? {
        p.push('/');
    }
    Ok(p)
}

fn request_path(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let mut p = String::new();
    for _ in 0..u.int_in_range(0..=4)? {
        p.push('/');
        match u.int_in_range(0..=9)? {
            0..=4 => p.push_str(u.choose(SEGMENTS)?),
            5 => p.push_str(u.choose(&["..", ".", "", "%2F", "%2e%2E", "%", "%zz", "%C3%BC", "%ff", "USERS", "%41"])?),
            6 => p.push_str(&u.arbitrary::<String>()?),
            _ => {
                let bytes: Vec<u8> = u.arbitrary()?;
                p.extend(bytes.iter().map(|b| format!("%{b:02X}")));
            }
        }
    }
    if p.is_empty() || u.ratio(1, 4)? {
        p.push('/');
    }
    Ok(p)
}

fn method(u: &mut Unstructured<'_>) -> arbitrary::Result<Method> {
    Ok(Method::from_bytes(u.choose(METHODS)?.as_bytes()).expect("a method"))
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let routes = (0..u.int_in_range(1..=6)?)
            .map(|_| Ok(((*u.choose(METHODS)?).to_owned(), route_path(u)?)))
            .collect::<arbitrary::Result<_>>()?;
        let flags = u.arbitrary()?;
        let requests = (0..u.int_in_range(1..=6)?)
            .map(|_| Ok((method(u)?, request_path(u)?)))
            .collect::<arbitrary::Result<_>>()?;
        Ok(Case { routes, flags, requests })
    }
}

/// Whether `path` fits the route `pattern` with these parameter values.
fn fits(pattern: &str, path: &str, values: &[String]) -> bool {
    let (p, s): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    if p.len() != s.len() {
        return false;
    }
    let mut params = Vec::new();
    for (pat, seg) in p.iter().zip(&s) {
        if pat.starts_with('{') && pat.ends_with('}') {
            if seg.is_empty() {
                return false;
            }
            params.push((*seg).to_owned());
        } else if pat != seg {
            return false;
        }
    }
    params == values
}

pub fn check(case: Case) {
    for (_, raw) in &case.requests {
        assert_eq!(fuzz_api::decode_path(raw), oracle::go::percent_decode(raw), "decoding {raw:?}");
        if let Some(decoded) = fuzz_api::decode_path(raw) {
            assert_eq!(fuzz_api::clean_path(&decoded), oracle::go::clean_path(&decoded), "cleaning {decoded:?}");
        }
    }
    let endpoints: Vec<_> = case
        .routes
        .iter()
        .map(|(m, p)| json!({"endpoint": p, "method": m, "backend": [{"url_pattern": "/", "host": ["http://127.0.0.1:19"]}]}))
        .collect();
    let [trailing, fixed, not_allowed, auto_options] = case.flags;
    let config = json!({
        "version": 3,
        "endpoints": endpoints,
        "extra_config": {"router": {
            "disable_redirect_trailing_slash": trailing,
            "disable_redirect_fixed_path": fixed,
            "disable_handle_method_not_allowed": not_allowed,
            "auto_options": auto_options
        }}
    });
    let Ok(routes) = Routes::new(&config.to_string()) else { return };
    for (method, raw) in &case.requests {
        let route = routes.lookup(method, raw);
        let decoded = oracle::go::percent_decode(raw);
        match &route {
            Route::BadPath => assert!(decoded.is_none()),
            Route::Endpoint(label, values) => {
                let (m, pattern) = label.split_once(' ').expect("METHOD /path");
                assert_eq!(m, method.as_str());
                let path = decoded.expect("a routed path decodes");
                assert!(fits(pattern, &path, values), "{path:?} routed to {label} with {values:?}");
            }
            Route::Redirect(to) => {
                assert!(!trailing || !fixed, "a redirect with both redirects disabled");
                assert_ne!(Some(to), decoded.as_ref());
                if !to.contains('%') {
                    let again = routes.lookup(method, to);
                    assert!(
                        matches!(again, Route::Endpoint(..) | Route::BuiltIn),
                        "{raw:?} redirects to {to:?}, which gives {again:?}"
                    );
                }
            }
            Route::MethodNotAllowed(allow) => {
                assert!(!not_allowed);
                for m in allow.split(", ") {
                    let m = Method::from_bytes(m.as_bytes()).expect("a method");
                    assert_ne!(&m, method);
                    let other = routes.lookup(&m, raw);
                    assert!(
                        matches!(other, Route::Endpoint(..) | Route::BuiltIn),
                        "405 lists {m} for {raw:?}, which gives {other:?}"
                    );
                }
            }
            Route::BuiltIn | Route::NotFound => {}
        }
    }
}
