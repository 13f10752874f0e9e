//! The `xml` output encoding of arbitrary values: well-formed, and read back by an independent
//! XML parser (roxmltree) as the same data under mxj's mapping (attributes from `-name` keys,
//! text from `#text`, arrays as repeated elements, scalars as text).
//!
//! Values are generated where that mapping can be inverted and mxj writes a well-formed
//! document: keys are XML names (mxj writes keys unescaped), strings hold only characters XML
//! can carry (no `\r`, which parsers turn into `\n`; no tab or newline in attributes, which they
//! turn into spaces), objects and arrays are not empty (mxj writes `<k/>` for both) and arrays
//! hold at least two items, none an array, and are not the only top-level member (mxj would
//! write several root elements).

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value, json};
use tributary_core::fuzz_api;

const NAMES: &[&str] = &["a", "b", "item", "user_id", "x-y", "n.1", "_z", "Data", "doc"];

fn name(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    if u.ratio(1, 8)? {
        // Any ASCII XML name not starting with `xml`.
        let first = *u.choose(b"abcdefghijklmnopqrstuvwABCDEFGHIJKLMNOPQRSTUVWXYZ_")?;
        let mut s = String::from(first as char);
        for _ in 0..u.int_in_range(0..=6)? {
            s.push(*u.choose(b"abcdefghijklmnopqrstuvwxyz0123456789._-")? as char);
        }
        return Ok(s);
    }
    Ok((*u.choose(NAMES)?).to_owned())
}

fn text(u: &mut Unstructured<'_>, attribute: bool) -> arbitrary::Result<String> {
    let raw: String = u.arbitrary()?;
    let mut s: String = raw
        .chars()
        .filter(|&c| {
            let xml_char =
                matches!(c, '\u{9}' | '\u{A}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
            xml_char && !(attribute && matches!(c, '\t' | '\n'))
        })
        .collect();
    if s.is_empty() || u.ratio(1, 3)? {
        s.push_str(u.choose(&["<&>", "\"'", "]]>", "text", "\u{e9}\u{1F600}", "&amp;"])?);
    }
    Ok(s)
}

fn scalar(u: &mut Unstructured<'_>, attribute: bool) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0..=3)? {
        0 => json!(u.arbitrary::<i32>()?),
        1 => Value::Bool(u.arbitrary()?),
        _ => Value::String(text(u, attribute)?),
    })
}

fn value(u: &mut Unstructured<'_>, depth: usize, in_array: bool) -> arbitrary::Result<Value> {
    let kind = if depth >= 5 { 0 } else { u.int_in_range(0..=3)? };
    Ok(match kind {
        1 | 2 => Value::Object(object(u, depth + 1)?),
        3 if !in_array => {
            let n = u.int_in_range(2..=4)?;
            Value::Array((0..n).map(|_| value(u, depth + 1, true)).collect::<Result<_, _>>()?)
        }
        _ => scalar(u, false)?,
    })
}

fn object(u: &mut Unstructured<'_>, depth: usize) -> arbitrary::Result<Map<String, Value>> {
    let mut m = Map::new();
    for _ in 0..u.int_in_range(1..=4)? {
        match u.int_in_range(0..=5)? {
            0 => m.insert(format!("-{}", name(u)?), scalar(u, true)?),
            1 => m.insert("#text".to_owned(), Value::String(text(u, false)?)),
            _ => m.insert(name(u)?, value(u, depth, false)?),
        };
    }
    // `#text` alone would be written as the element's text: it reads back as a plain string.
    if m.len() == 1 && m.contains_key("#text") {
        m.insert(name(u)?, scalar(u, false)?);
    }
    Ok(m)
}

#[derive(Debug)]
pub struct Doc(Map<String, Value>);

impl<'a> Arbitrary<'a> for Doc {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut top = Map::new();
        for _ in 0..u.int_in_range(1..=3)? {
            top.insert(name(u)?, value(u, 0, false)?);
        }
        if top.len() == 1 && top.values().all(Value::is_array) {
            top.insert("extra".to_owned(), Value::Bool(true));
        }
        Ok(Doc(top))
    }
}

/// The data as mxj's decoding would give it: every scalar as its text.
fn expected(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), expected(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(expected).collect()),
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

/// An element read back: text alone as a string; else attributes as `-name`, children by name
/// (repeated ones as an array) and any text as `#text`.
fn read(node: roxmltree::Node<'_, '_>) -> Value {
    let mut m = Map::new();
    for a in node.attributes() {
        m.insert(format!("-{}", a.name()), Value::String(a.value().to_owned()));
    }
    let mut text = String::new();
    for child in node.children() {
        if child.is_text() {
            text.push_str(child.text().unwrap_or(""));
        } else if child.is_element() {
            let name = child.tag_name().name().to_owned();
            let v = read(child);
            match m.get_mut(&name) {
                Some(Value::Array(items)) => items.push(v),
                Some(existing) => *existing = Value::Array(vec![existing.clone(), v]),
                None => {
                    m.insert(name, v);
                }
            }
        }
    }
    if m.is_empty() {
        return Value::String(text);
    }
    if !text.is_empty() {
        m.insert("#text".to_owned(), Value::String(text));
    }
    Value::Object(m)
}

pub fn check(doc: Doc) {
    let out = fuzz_api::xml_encode(&doc.0);
    let text = std::str::from_utf8(&out).expect("the XML output is UTF-8");
    let parsed = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not well-formed ({e}): {text}"));
    let root = parsed.root_element();
    let got = read(root);
    let want = if doc.0.len() == 1 {
        let (k, v) = doc.0.iter().next().expect("one member");
        assert_eq!(root.tag_name().name(), k);
        expected(v)
    } else {
        assert_eq!(root.tag_name().name(), "doc");
        expected(&Value::Object(doc.0.clone()))
    };
    assert_eq!(got, want, "read back differently: {text}");
}
