//! The `yaml` output encoding of arbitrary values: valid YAML that an independent reader
//! (yaml-rust2, YAML 1.2 core schema) reads back as the same data, one document.

use crate::oracle;
use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Number, Value};
use tributary_core::fuzz_api;
use yaml_rust2::{Yaml, YamlLoader};

/// Strings YAML readers like to take for something else.
const TRICKY: &[&str] = &[
    "",
    "null",
    "~",
    "true",
    "No",
    "on",
    "0x1F",
    "0o17",
    "1_000",
    "1e5",
    ".5",
    "+1",
    "-",
    "- a",
    "? x",
    "a: b",
    "#c",
    "a #b",
    "'q'",
    "\"q\"",
    "---",
    "...",
    "2001-12-14",
    "12:30:00",
    ".inf",
    "-.NaN",
    "<<",
    "=",
    "|",
    ">",
    "*a",
    "&a",
    "!tag",
    "%YAML",
    "@x",
    "`x",
    "x\ny",
    "x\n",
    "\n",
    " x",
    "x ",
    "\tx",
    "a\u{85}b",
    "\u{feff}x",
    "\u{2028}",
    "\u{1}",
    "\r\n",
    "a\\b",
    "{a}",
    "[1]",
    "1,2",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-17",
    "1.50",
    "1e3",
    "-2E-7",
    "12345678901234567890",
    "0.0e+0",
    "3.14159",
    "100000000000000000000000",
];

fn string(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 | 1 => (*u.choose(TRICKY)?).to_owned(),
        2 => format!("{}{}", u.choose(TRICKY)?, u.choose(TRICKY)?),
        _ => u.arbitrary()?,
    })
}

fn value(u: &mut Unstructured<'_>, depth: usize) -> arbitrary::Result<Value> {
    let kind = if depth >= 5 { u.int_in_range(2..=5)? } else { u.int_in_range(0..=5)? };
    Ok(match kind {
        0 => {
            let mut m = Map::new();
            for _ in 0..u.int_in_range(0..=4)? {
                m.insert(string(u)?, value(u, depth + 1)?);
            }
            Value::Object(m)
        }
        1 => Value::Array((0..u.int_in_range(0..=4)?).map(|_| value(u, depth + 1)).collect::<Result<_, _>>()?),
        2 => Value::Number(Number::from_string_unchecked((*u.choose(NUMBERS)?).to_owned())),
        3 => u.choose(&[Value::Null, Value::Bool(true), Value::Bool(false)])?.clone(),
        _ => Value::String(string(u)?),
    })
}

#[derive(Debug)]
pub struct Data(Value);

impl<'a> Arbitrary<'a> for Data {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // KrakenD renders an object, or `null`, or a collection's array.
        Ok(Data(value(u, 0)?))
    }
}

fn same(want: &Value, got: &Yaml) -> bool {
    match (want, got) {
        (Value::Null, Yaml::Null) => true,
        (Value::Bool(a), Yaml::Boolean(b)) => a == b,
        (Value::Number(n), Yaml::Integer(i)) => oracle::json::same_number(&n.to_string(), &i.to_string()),
        (Value::Number(n), Yaml::Real(r)) => oracle::json::same_number(&n.to_string(), r),
        (Value::String(a), Yaml::String(b)) => a == b,
        (Value::Array(a), Yaml::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)),
        (Value::Object(a), Yaml::Hash(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(&Yaml::String(k.clone())).is_some_and(|y| same(v, y)))
        }
        _ => false,
    }
}

pub fn check(data: Data) {
    let out = fuzz_api::yaml_encode(&data.0);
    let text = std::str::from_utf8(&out).expect("the YAML output is UTF-8");
    let docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"));
    assert_eq!(docs.len(), 1, "one document:\n{text}");
    assert!(same(&data.0, &docs[0]), "read back as {:?}:\n{text}", docs[0]);
}
