//! Config parse, validate and compile: raw bytes, and structure-aware mutations of the real
//! KrakenD configs in `tests/fixtures/real-configs/` (values swapped for awkward ones, keys
//! dropped, parts copied between endpoints). Nothing may panic, and compiling is deterministic.

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use tributary_core::fuzz_api;

fn fixtures() -> &'static [Value] {
    static FIXTURES: OnceLock<Vec<Value>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/real-configs");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .expect("the real configs are there")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths.iter().filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok()).collect()
    })
}

/// Values KrakenD configs hold, and the awkward ones next to them.
fn awkward(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    const STRINGS: &[&str] = &[
        "",
        "1s",
        "0",
        "-1s",
        "1.5h",
        "300ms",
        "99999999999h",
        "x",
        "/",
        "/{id}",
        "/a/{id}/{id}",
        "/{a}{b}",
        "/users/{id}?q={id}",
        "{resp0_a.b}",
        "http://127.0.0.1:19",
        "https://[::1]:0",
        "GET",
        "POST",
        "get",
        "*",
        "json",
        "safejson",
        "no-op",
        "string",
        "xml",
        "negotiate",
        "yaml",
        "a.b.c",
        "a..b",
        "\u{0}",
        "\u{1F600}",
        "{{",
        "}}",
        "/__health",
        "/a/*",
        ":id",
        "RS256",
        "HS256",
        "kid",
        "x5t#S256",
        "10.0.0.0/8",
        "::/0",
        "/{*rest}",
        "%zz",
        "../..",
        "roles",
        "ip",
        "header",
    ];
    Ok(match u.int_in_range(0..=9)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => json!(u.int_in_range(-2..=5000)?),
        4 => serde_json::from_str(&format!("{}e{}", u.int_in_range(0..=99)?, u.int_in_range(-3..=30)?))
            .unwrap_or(Value::Null),
        5 | 6 => Value::String((*u.choose(STRINGS)?).to_owned()),
        7 => Value::String(u.arbitrary()?),
        8 => Value::Array(vec![Value::String((*u.choose(STRINGS)?).to_owned()); u.int_in_range(0..=3)?]),
        _ => Value::Object(Map::new()),
    })
}

/// Every path to a node of `v` (object keys and array indices).
fn paths(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                here.push(Step::Key(k.clone()));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                here.push(Step::Index(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn node<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (Step::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Keys the config reader knows, for inserting where they matter.
const KEYS: &[&str] = &[
    "endpoint",
    "method",
    "backend",
    "url_pattern",
    "host",
    "timeout",
    "cache_ttl",
    "output_encoding",
    "encoding",
    "target",
    "allow",
    "deny",
    "mapping",
    "group",
    "is_collection",
    "extra_config",
    "input_headers",
    "input_query_strings",
    "concurrent_calls",
    "sd",
    "disable_host_sanitize",
    "version",
    "port",
    "proxy",
    "flatmap_filter",
    "sequential",
    "static",
    "qos/ratelimit/router",
    "qos/http-cache",
    "qos/circuit-breaker",
    "auth/validator",
    "security/cors",
    "router",
    "return_error_details",
    "backend/http",
    "max_rate",
    "client_max_rate",
    "strategy",
    "key",
    "every",
    "alg",
    "jwk_url",
    "jwk_local_path",
    "roles",
    "disable_rest",
    "allow_origins",
    "max_age",
    "debug_endpoint",
    "echo_endpoint",
    "return_error_code",
    "type",
    "args",
    "data",
    "strategy",
    "auto_options",
    "health_path",
    "@comment",
];

#[derive(Debug, Arbitrary)]
enum Mode {
    Raw,
    Mutated,
}

pub fn check(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(mode) = Mode::arbitrary(&mut u) else { return };
    let text = match mode {
        Mode::Raw => String::from_utf8_lossy(u.take_rest()).into_owned(),
        Mode::Mutated => match mutate(&mut u) {
            Ok(v) => v.to_string(),
            Err(_) => return,
        },
    };
    let first = fuzz_api::compile_config(&text);
    assert_eq!(first, fuzz_api::compile_config(&text), "compiling is deterministic");
}

fn mutate(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    let mut config = u.choose(fixtures())?.clone();
    for _ in 0..u.int_in_range(1..=8)? {
        let mut all = Vec::new();
        paths(&config, &mut Vec::new(), &mut all);
        let at = u.choose(&all)?.clone();
        let from = u.choose(&all)?.clone();
        let copied = node(&mut config, &from).map(|v| v.clone());
        let replacement = match u.int_in_range(0..=5)? {
            0 | 1 => Some(awkward(u)?),
            2 => copied,
            _ => None,
        };
        let Some(target) = node(&mut config, &at) else { continue };
        match (replacement, target) {
            (Some(v), target) => *target = v,
            (None, Value::Object(m)) => {
                if u.arbitrary()? && !m.is_empty() {
                    let k = u.choose(&m.keys().cloned().collect::<Vec<_>>())?.clone();
                    m.remove(&k);
                } else {
                    m.insert((*u.choose(KEYS)?).to_owned(), awkward(u)?);
                }
            }
            (None, Value::Array(a)) => {
                if u.arbitrary()? && !a.is_empty() {
                    a.remove(u.choose_index(a.len())?);
                } else if let Some(first) = a.first().cloned() {
                    a.push(first);
                }
            }
            (None, target) => *target = awkward(u)?,
        }
    }
    Ok(config)
}
