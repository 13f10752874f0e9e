//! Shaping (target, allow, deny, mapping, group, flatmap_filter) of arbitrary bodies with
//! arbitrary rules: the tree path and the byte path (transcoder) against the independent oracle
//! written from KrakenD's semantics (`shared/tests/oracle`), and against each other.

use crate::oracle;
use arbitrary::{Arbitrary, Unstructured};
use oracle::shape::Rules;
use serde_json::{Map, Value, json};
use tributary_core::fuzz_api::{self, Shape};

/// Few names, so that rules and bodies meet.
const KEYS: &[&str] = &["a", "b", "c", "id", "0", "1", "*", "", "a.b", "x"];

fn key(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    Ok(if u.ratio(1, 16)? { u.arbitrary()? } else { (*u.choose(KEYS)?).to_owned() })
}

fn path(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let n = u.int_in_range(1..=3)?;
    let mut segs = Vec::with_capacity(n);
    for _ in 0..n {
        segs.push(key(u)?);
    }
    Ok(segs.join("."))
}

fn list(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<String>> {
    (0..u.int_in_range(0..=3)?).map(|_| path(u)).collect()
}

fn value(u: &mut Unstructured<'_>, depth: usize) -> arbitrary::Result<Value> {
    let kind = if depth >= 4 { u.int_in_range(2..=5)? } else { u.int_in_range(0..=5)? };
    Ok(match kind {
        0 | 1 => Value::Object(object(u, depth + 1)?),
        2 => Value::Array((0..u.int_in_range(0..=3)?).map(|_| value(u, depth + 1)).collect::<Result<_, _>>()?),
        3 => json!(u.int_in_range(-3..=300)?),
        4 => Value::String(key(u)?),
        _ => u.choose(&[Value::Null, Value::Bool(true), Value::Bool(false)])?.clone(),
    })
}

fn object(u: &mut Unstructured<'_>, depth: usize) -> arbitrary::Result<Map<String, Value>> {
    let mut m = Map::new();
    for _ in 0..u.int_in_range(0..=4)? {
        m.insert(key(u)?, value(u, depth)?);
    }
    Ok(m)
}

fn flatmap(u: &mut Unstructured<'_>) -> arbitrary::Result<Option<Value>> {
    if !u.ratio(1, 3)? {
        return Ok(None);
    }
    let mut ops = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let kind = match u.int_in_range(0..=9)? {
            0..=3 => json!("del"),
            4..=6 => json!("move"),
            7 | 8 => json!("append"),
            _ => u.choose(&[json!("copy"), json!(1), Value::Null])?.clone(),
        };
        let args: Vec<Value> =
            (0..u.int_in_range(0..=3)?).map(|_| path(u).map(Value::String)).collect::<Result<_, _>>()?;
        ops.push(json!({"type": kind, "args": args}));
    }
    Ok(Some(Value::Array(ops)))
}

#[derive(Debug)]
pub struct Case {
    pub rules: Rules,
    pub body: Map<String, Value>,
    pub spaced: bool,
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let rules = Rules {
            target: if u.arbitrary()? { path(u)? } else { String::new() },
            allow: list(u)?,
            deny: list(u)?,
            mapping: (0..u.int_in_range(0..=3)?).map(|_| Ok((key(u)?, path(u)?))).collect::<arbitrary::Result<_>>()?,
            group: if u.arbitrary()? { key(u)? } else { String::new() },
            flatmap_filter: flatmap(u)?,
        };
        Ok(Case { rules, body: object(u, 0)?, spaced: u.arbitrary()? })
    }
}

/// The body as a backend that keeps its own key order and spacing would send it: keys in
/// reverse order, `", "` and `": "` separators.
fn spaced_unsorted(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().rev().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                spaced_unsorted(v, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push_str("[ ");
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(" ,");
                }
                spaced_unsorted(v, out);
            }
            out.push_str(" ]");
        }
        other => out.push_str(&other.to_string()),
    }
}

pub fn check(case: Case) {
    let r = &case.rules;
    let shape = Shape::new(&r.target, &r.allow, &r.deny, &r.mapping, &r.group, r.flatmap_filter.as_ref());
    let tree = shape.apply(case.body.clone());
    if let Some(want) = oracle::shape::apply(r, case.body.clone()) {
        assert_eq!(
            Value::Object(tree.clone()),
            Value::Object(want),
            "tree path != oracle for {r:?} on {:?}",
            case.body
        );
    }
    let body = if case.spaced {
        let mut s = String::new();
        spaced_unsorted(&Value::Object(case.body.clone()), &mut s);
        s.into_bytes()
    } else {
        serde_json::to_vec(&case.body).expect("serialisable")
    };
    let want = fuzz_api::encode(&Value::Object(tree));
    for keep in [true, false] {
        if let Some(got) = shape.apply_to_body(&body, keep) {
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "byte path != tree path for {r:?}"
            );
        }
    }
}
