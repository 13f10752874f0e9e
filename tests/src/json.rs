//! Order-preserving JSON: a strict parser that keeps number literals and duplicate keys, a compact
//! writer, and `json_diff`/`short` with the semantics of `run_cases.py`.
//!
//! `serde_json::Value` is not used for case bodies because, in this workspace, it sorts object keys
//! (no `preserve_order`) and compares numbers by their literal text (`arbitrary_precision`), whereas
//! the harness must send mock bodies in the order they are written and compare `1` equal to `1.0`.

use std::collections::BTreeMap;

/// A JSON value. Objects keep their members in document order, duplicates included; numbers keep
/// their literal text (`NaN`, `Infinity` and `-Infinity` are accepted like Python's `json` does).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The first object key that occurs twice in one object, anywhere in the value.
    pub fn duplicate_key(&self) -> Option<&str> {
        match self {
            Json::Array(items) => items.iter().find_map(Json::duplicate_key),
            Json::Object(members) => {
                let mut seen = std::collections::BTreeSet::new();
                for (key, _) in members {
                    if !seen.insert(key.as_str()) {
                        return Some(key);
                    }
                }
                members.iter().find_map(|(_, v)| v.duplicate_key())
            }
            _ => None,
        }
    }

    /// Compact JSON text (`separators=(",", ":")`, non-ASCII kept), members in document order.
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        write(self, false, &mut out);
        out
    }

    /// Compact JSON text with object keys sorted (for messages, like `json.dumps(sort_keys=True)`).
    pub fn to_sorted_compact(&self) -> String {
        let mut out = String::new();
        write(self, true, &mut out);
        out
    }
}

fn write(value: &Json, sort_keys: bool, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(literal) => out.push_str(literal),
        Json::String(s) => write_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, sort_keys, out);
            }
            out.push(']');
        }
        Json::Object(members) => {
            let mut refs: Vec<&(String, Json)> = members.iter().collect();
            if sort_keys {
                refs.sort_by(|a, b| a.0.cmp(&b.0));
            }
            out.push('{');
            for (i, (key, item)) in refs.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write(item, sort_keys, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json escapes exactly what Python's json.dumps(ensure_ascii=False) escapes.
    out.push_str(&serde_json::to_string(s).expect("a str always serialises"));
}

/// Parses JSON text the way Python's `json.loads` does (surrounding whitespace allowed, `NaN` and
/// `Infinity` accepted, control characters in strings rejected). Duplicate keys are kept.
pub fn parse(text: &str) -> Result<Json, String> {
    let mut parser = Parser { bytes: text.as_bytes(), pos: 0 };
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return Err(format!("extra data at byte {}", parser.pos));
    }
    Ok(value)
}

/// [`parse`] for bytes that must be UTF-8.
pub fn parse_bytes(bytes: &[u8]) -> Result<Json, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    parse(text)
}

const MAX_DEPTH: usize = 512;

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn error<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    fn eat(&mut self, literal: &str) -> bool {
        if self.bytes[self.pos..].starts_with(literal.as_bytes()) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return self.error("nesting too deep");
        }
        match self.bytes.get(self.pos) {
            None => self.error("expecting value"),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => {
                for (literal, value) in [
                    ("null", Json::Null),
                    ("true", Json::Bool(true)),
                    ("false", Json::Bool(false)),
                    ("NaN", Json::Number("NaN".into())),
                    ("Infinity", Json::Number("Infinity".into())),
                ] {
                    if self.eat(literal) {
                        return Ok(value);
                    }
                }
                self.error("expecting value")
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.eat("}") {
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return self.error("expecting property name in double quotes");
            }
            let key = self.string()?;
            self.skip_ws();
            if !self.eat(":") {
                return self.error("expecting ':' delimiter");
            }
            self.skip_ws();
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_ws();
            if self.eat("}") {
                return Ok(Json::Object(members));
            }
            if !self.eat(",") {
                return self.error("expecting ',' delimiter");
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.eat("]") {
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            if self.eat("]") {
                return Ok(Json::Array(items));
            }
            if !self.eat(",") {
                return self.error("expecting ',' delimiter");
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.pos;
        if self.eat("-") && self.eat("Infinity") {
            return Ok(Json::Number("-Infinity".into()));
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.error("expecting value"),
        }
        // Like Python's scanner: a '.' or exponent without digits ends the number before it.
        if self.bytes.get(self.pos) == Some(&b'.') && matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            let mark = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = mark;
            }
        }
        let literal = std::str::from_utf8(&self.bytes[start..self.pos]).expect("ASCII");
        Ok(Json::Number(literal.to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(hex) = self.bytes.get(self.pos..self.pos + 4) else {
            return self.error("invalid \\uXXXX escape");
        };
        let text = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
        match u32::from_str_radix(text, 16) {
            Ok(code) if text.bytes().all(|b| b.is_ascii_hexdigit()) => {
                self.pos += 4;
                Ok(code)
            }
            _ => self.error("invalid \\uXXXX escape"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(std::str::from_utf8(&self.bytes[start..self.pos]).expect("UTF-8 input"));
            match self.bytes.get(self.pos) {
                None => return self.error("unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(&escape) = self.bytes.get(self.pos) else {
                        return self.error("unterminated string");
                    };
                    self.pos += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xd800..0xdc00).contains(&code) && self.bytes[self.pos..].starts_with(b"\\u") {
                                let mark = self.pos;
                                self.pos += 2;
                                let low = self.hex4()?;
                                if (0xdc00..0xe000).contains(&low) {
                                    code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                                } else {
                                    self.pos = mark;
                                }
                            }
                            // A lone surrogate (accepted by Python) becomes U+FFFD here.
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            self.pos -= 1;
                            return self.error("invalid escape");
                        }
                    }
                }
                Some(_) => return self.error("invalid control character in string"),
            }
        }
    }
}

/// A number as Python's `json` module reads it: an integer literal is an exact integer, anything
/// else (fraction, exponent, `NaN`, `Infinity`) a float.
enum Num {
    Int(String),
    Float(f64),
}

fn classify(literal: &str) -> Num {
    let is_int =
        literal.strip_prefix('-').unwrap_or(literal).bytes().all(|b| b.is_ascii_digit()) && !literal.is_empty();
    if is_int { Num::Int(normalize_int(literal)) } else { Num::Float(literal.parse::<f64>().unwrap_or(f64::NAN)) }
}

/// "-0" -> "0", leading zeros removed: the canonical text of an integer.
fn normalize_int(literal: &str) -> String {
    let (negative, digits) = match literal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, literal),
    };
    let digits = digits.trim_start_matches('0');
    match (digits.is_empty(), negative) {
        (true, _) => "0".to_owned(),
        (false, true) => format!("-{digits}"),
        (false, false) => digits.to_owned(),
    }
}

/// Python's `==` between two JSON numbers: exact for integers, IEEE for floats, and an exact
/// mathematical comparison between an integer and a float.
fn numbers_equal(a: &str, b: &str) -> bool {
    match (classify(a), classify(b)) {
        (Num::Int(x), Num::Int(y)) => x == y,
        (Num::Float(x), Num::Float(y)) => x == y,
        (Num::Int(i), Num::Float(f)) | (Num::Float(f), Num::Int(i)) => {
            // `{:.0}` prints the exact decimal value of an integral f64.
            f.is_finite() && f.fract() == 0.0 && normalize_int(&format!("{f:.0}")) == i
        }
    }
}

/// For messages: the JSON of a value (keys sorted, compact), clipped to `limit` characters.
pub fn short(value: &Json, limit: usize) -> String {
    clip(value.to_sorted_compact(), limit)
}

/// For messages: a quoted, escaped text (bytes decoded as UTF-8, lossy), clipped to `limit`.
pub fn short_text(bytes: &[u8], limit: usize) -> String {
    clip(format!("{:?}", String::from_utf8_lossy(bytes)), limit)
}

fn clip(text: String, limit: usize) -> String {
    let count = text.chars().count();
    if count <= limit {
        return text;
    }
    let head: String = text.chars().take(limit).collect();
    format!("{head}...({count} chars)")
}

/// The differences between an expected and a received JSON value, one line each, like
/// `run_cases.py`'s `json_diff`: objects by sorted key union, arrays of equal length item by item,
/// a boolean is never equal to a number, `1` equals `1.0`. Duplicate keys: the last one counts.
pub fn json_diff(expected: &Json, got: &Json, path: &str) -> Vec<String> {
    match (expected, got) {
        (Json::Object(e), Json::Object(g)) => {
            let e: BTreeMap<&str, &Json> = e.iter().map(|(k, v)| (k.as_str(), v)).collect();
            let g: BTreeMap<&str, &Json> = g.iter().map(|(k, v)| (k.as_str(), v)).collect();
            let mut keys: Vec<&str> = e.keys().chain(g.keys()).copied().collect();
            keys.sort_unstable();
            keys.dedup();
            let mut out = Vec::new();
            for key in keys {
                match (e.get(key), g.get(key)) {
                    (Some(ev), None) => out.push(format!("{path}.{key}: missing (expected {})", short(ev, 300))),
                    (None, Some(gv)) => out.push(format!("{path}.{key}: unexpected {}", short(gv, 300))),
                    (Some(ev), Some(gv)) => out.extend(json_diff(ev, gv, &format!("{path}.{key}"))),
                    (None, None) => unreachable!("key from one of the maps"),
                }
            }
            out
        }
        (Json::Array(e), Json::Array(g)) if e.len() == g.len() => {
            e.iter().zip(g).enumerate().flat_map(|(i, (ev, gv))| json_diff(ev, gv, &format!("{path}[{i}]"))).collect()
        }
        _ => {
            if scalar_equal(expected, got) {
                Vec::new()
            } else {
                vec![format!("{path}: expected {}, got {}", short(expected, 300), short(got, 300))]
            }
        }
    }
}

fn scalar_equal(expected: &Json, got: &Json) -> bool {
    match (expected, got) {
        (Json::Null, Json::Null) => true,
        (Json::Bool(a), Json::Bool(b)) => a == b,
        (Json::Number(a), Json::Number(b)) => numbers_equal(a, b),
        (Json::String(a), Json::String(b)) => a == b,
        // Two objects or two arrays of equal length never get here; anything else differs.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(text: &str) -> Json {
        parse(text).unwrap()
    }

    #[test]
    fn numbers_compare_like_python() {
        assert!(numbers_equal("1", "1.0"));
        assert!(numbers_equal("1e3", "1000"));
        assert!(numbers_equal("-0", "0.0"));
        assert!(numbers_equal("12345678901234567890", "12345678901234567890"));
        assert!(!numbers_equal("12345678901234567890", "12345678901234567891"));
        // 1e23 as a float is 99999999999999991611392 exactly.
        assert!(numbers_equal("1e23", "99999999999999991611392"));
        assert!(!numbers_equal("1e23", "100000000000000000000000"));
        assert!(!numbers_equal("1.5", "1"));
        assert!(!numbers_equal("NaN", "NaN"));
        assert!(numbers_equal("1e400", "Infinity"));
    }

    #[test]
    fn diff_follows_run_cases() {
        assert!(json_diff(&j(r#"{"a":[1,{"b":2.0}]}"#), &j(r#"{"a":[1.0,{"b":2}]}"#), "$").is_empty());
        assert_eq!(json_diff(&j("true"), &j("1"), "$"), vec!["$: expected true, got 1".to_owned()]);
        assert_eq!(
            json_diff(&j(r#"{"a":1,"b":2}"#), &j(r#"{"b":2,"c":3}"#), "$"),
            vec!["$.a: missing (expected 1)", "$.c: unexpected 3"]
        );
        assert_eq!(json_diff(&j("[1,2]"), &j("[1]"), "$"), vec!["$: expected [1,2], got [1]"]);
        assert_eq!(json_diff(&j("null"), &j("{}"), "$"), vec!["$: expected null, got {}"]);
    }

    #[test]
    fn parser_keeps_order_literals_and_duplicates() {
        let value = j(" {\"z\":1.50,\"a\":[true,null,\"\\u00e9\\ud83d\\ude00\"],\"z\":-0} ");
        assert_eq!(value.to_compact(), r#"{"z":1.50,"a":[true,null,"é😀"],"z":-0}"#);
        assert_eq!(value.duplicate_key(), Some("z"));
        assert_eq!(value.to_sorted_compact(), r#"{"a":[true,null,"é😀"],"z":1.50,"z":-0}"#);
        for bad in ["", "{", "[1,]", "{'a':1}", "\"a\nb\"", "01", "1 2", "tru"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(parse_bytes(b"\"\xff\"").is_err());
    }
}
