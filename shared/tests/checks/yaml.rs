//! The `yaml` output encoding of arbitrary values: valid YAML that an independent parser
//! (yaml-rust2's event parser) reads back, one document, as the same data once its plain
//! scalars are resolved by the YAML 1.2 core schema (written here from the specification:
//! yaml-rust2's own resolution reads `++1` as the integer 1 and `0x-1` as -1).

use crate::oracle;
use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Number, Value};
use tributary_core::fuzz_api;
use yaml_rust2::parser::{Event, EventReceiver, Parser};
use yaml_rust2::scanner::TScalarStyle;

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
pub struct Data(pub Value);

impl<'a> Arbitrary<'a> for Data {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // KrakenD renders an object, or `null`, or a collection's array.
        Ok(Data(value(u, 0)?))
    }
}

/// A node read back.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    /// An integer or a float, as written.
    Number(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// The YAML 1.2 core schema's resolution of a plain scalar (spec 10.3.2).
fn resolve(s: &str) -> Node {
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let float = {
        let (mantissa, exp) = match unsigned.find(['e', 'E']) {
            Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
            None => (unsigned, None),
        };
        let mantissa_ok = match mantissa.split_once('.') {
            Some((int, frac)) => {
                (int.is_empty() && digits(frac, 10)) || (digits(int, 10) && (frac.is_empty() || digits(frac, 10)))
            }
            None => digits(mantissa, 10),
        };
        mantissa_ok && exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10))
    };
    match s {
        "null" | "Null" | "NULL" | "~" | "" => Node::Null,
        "true" | "True" | "TRUE" => Node::Bool(true),
        "false" | "False" | "FALSE" => Node::Bool(false),
        _ if digits(unsigned, 10)
            || s.strip_prefix("0o").is_some_and(|t| digits(t, 8))
            || s.strip_prefix("0x").is_some_and(|t| digits(t, 16))
            || float
            || matches!(unsigned, ".inf" | ".Inf" | ".INF")
            || matches!(s, ".nan" | ".NaN" | ".NAN") =>
        {
            Node::Number(s.to_owned())
        }
        _ => Node::Str(s.to_owned()),
    }
}

/// Builds the documents from the parser's events.
#[derive(Default)]
struct Reader {
    docs: Vec<Node>,
    open: Vec<Node>,
    aliases: bool,
}

impl Reader {
    fn push(&mut self, node: Node) {
        match self.open.last_mut() {
            Some(Node::Seq(items)) => items.push(node),
            _ => self.docs.push(node),
        }
    }
}

impl EventReceiver for Reader {
    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Scalar(value, style, _, tag) => {
                let node =
                    if style == TScalarStyle::Plain && tag.is_none() { resolve(&value) } else { Node::Str(value) };
                self.push_value(node);
            }
            Event::SequenceStart(..) => self.open.push(Node::Seq(Vec::new())),
            Event::MappingStart(..) => self.open.push(Node::Map(Vec::new())),
            Event::SequenceEnd | Event::MappingEnd => {
                let done = self.open.pop().expect("a container was open");
                self.push_value(done);
            }
            Event::Alias(_) => self.aliases = true,
            _ => {}
        }
    }
}

impl Reader {
    /// Adds a finished node: an item, a key, or the value of the last key.
    fn push_value(&mut self, node: Node) {
        if let Some(Node::Map(entries)) = self.open.last_mut() {
            // Keys and values alternate; a key waits with a `None`-like marker.
            if let Some((_, v)) = entries.last_mut()
                && matches!(v, Node::Str(m) if m == PENDING)
            {
                *v = node;
                return;
            }
            entries.push((node, Node::Str(PENDING.to_owned())));
            return;
        }
        self.push(node);
    }
}

/// Marks a key whose value has not been read yet (no generated string holds a NUL and this text).
const PENDING: &str = "\u{0}pending value\u{0}";

fn same(want: &Value, got: &Node) -> bool {
    match (want, got) {
        (Value::Null, Node::Null) => true,
        (Value::Bool(a), Node::Bool(b)) => a == b,
        (Value::Number(n), Node::Number(m)) => oracle::json::same_number(&n.to_string(), m),
        (Value::String(a), Node::Str(b)) => a == b,
        (Value::Array(a), Node::Seq(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)),
        (Value::Object(a), Node::Map(b)) => {
            a.len() == b.len()
                && a.iter().all(|(k, v)| b.iter().any(|(bk, bv)| matches!(bk, Node::Str(s) if s == k) && same(v, bv)))
        }
        _ => false,
    }
}

pub fn check(data: Data) {
    let out = fuzz_api::yaml_encode(&data.0);
    let text = std::str::from_utf8(&out).expect("the YAML output is UTF-8");
    let mut reader = Reader::default();
    Parser::new_from_str(text).load(&mut reader, true).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"));
    assert!(!reader.aliases, "aliases in:\n{text}");
    assert_eq!(reader.docs.len(), 1, "one document:\n{text}");
    assert!(same(&data.0, &reader.docs[0]), "read back as {:?}:\n{text}", reader.docs[0]);
}
