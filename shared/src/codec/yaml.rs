//! The `yaml` output encoding: data written the way goccy/go-yaml's `Marshal` writes a Go
//! `map[string]interface{}` (gin's `c.YAML`, behind KrakenD's `yaml` and `negotiate`
//! renderers): keys in byte order, block style, two-space indent, sequences level with their
//! key, multi-line strings as literal blocks, one trailing newline. Text only: no HTTP, no
//! content type, and no input may panic or recurse without bound.
//!
//! Hand-written on purpose, without a YAML crate: the emitter is small (about 130 lines without
//! the quoting rules), and no crate reproduces goccy's layout and quoting.
//!
//! Where goccy would write YAML that is invalid, or that reads back as other data, we quote
//! instead (see [`reads_back_wrong`]). Numbers are written as their JSON literal: KrakenD's
//! backend numbers are Go `json.Number` strings, which goccy quotes (`a: "1"`), and its config
//! numbers are float64 (`a: 1.0`); a literal reads back as the same number.

use serde_json::Value;

/// Deepest value nesting written (the JSON decoder's); deeper data gives an empty body (KrakenD
/// writes none when marshalling fails).
use crate::codec::json::MAX_DEPTH;

/// Render a JSON value as YAML the way goccy/go-yaml marshals a Go map[string]interface{}
/// (sorted keys, block style); must be valid YAML that parses back to the same data.
pub(crate) fn encode(data: &Value) -> Vec<u8> {
    match node(data, 0, 0) {
        Ok(mut text) => {
            text.push('\n');
            text.into_bytes()
        }
        Err(TooDeep) => Vec::new(),
    }
}

struct TooDeep;

/// The longest implicit key YAML allows (spec 7.4.2), in characters.
const MAX_IMPLICIT_KEY: usize = 1024;

/// A value whose lines start at `indent` spaces (the first line is placed by the caller).
fn node(value: &Value, indent: usize, depth: usize) -> Result<String, TooDeep> {
    if depth > MAX_DEPTH {
        return Err(TooDeep);
    }
    Ok(match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s, indent),
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Object(map) => mapping(map, indent, depth)?,
        Value::Array(items) => sequence(items, indent, depth)?,
    })
}

fn mapping(map: &serde_json::Map<String, Value>, indent: usize, depth: usize) -> Result<String, TooDeep> {
    let pad = " ".repeat(indent);
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut lines = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let mut key = key_text(key);
        // YAML caps an implicit key at 1024 characters, and readers refuse a longer one; goccy
        // writes it all the same. We write it as an explicit key (`? key`, then `: value`).
        if key.chars().count() > MAX_IMPLICIT_KEY {
            key = format!("? {key}\n{pad}");
        }
        lines.push(match value {
            Value::Object(m) if !m.is_empty() => {
                format!("{pad}{key}:\n{}", node(value, indent + 2, depth + 1)?)
            }
            // goccy does not indent a sequence under its key.
            Value::Array(a) if !a.is_empty() => {
                format!("{pad}{key}:\n{}", node(value, indent, depth + 1)?)
            }
            _ => format!("{pad}{key}: {}", node(value, indent, depth + 1)?),
        });
    }
    Ok(lines.join("\n"))
}

/// Each item is rendered at the sequence's indent, then its first line goes after `- ` and the
/// others move two columns right, as goccy's `SequenceNode` printer does.
fn sequence(items: &[Value], indent: usize, depth: usize) -> Result<String, TooDeep> {
    let pad = " ".repeat(indent);
    let block_prefix = format!("{pad}  ");
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let text = node(item, indent, depth + 1)?;
        let literal = matches!(item, Value::String(_)) && text.contains('\n');
        let mut lines = text.split('\n');
        let first = lines.next().unwrap_or_default();
        let trimmed = first.trim_start_matches(' ');
        let shift = first.len() - trimmed.len();
        let mut entry = format!("{pad}- {trimmed}");
        for line in lines {
            let line = if literal { line.strip_prefix(block_prefix.as_str()).unwrap_or(line) } else { line };
            entry.push('\n');
            if line.len() > shift {
                entry.push_str(&block_prefix);
                entry.push_str(line.get(shift..).unwrap_or(line));
            }
        }
        entries.push(entry);
    }
    Ok(entries.join("\n"))
}

fn scalar(s: &str, indent: usize) -> String {
    if needs_quotes(s) {
        go_quote(s)
    } else if s.contains('\n') {
        literal_block(s, indent)
    } else {
        s.to_owned()
    }
}

fn key_text(key: &str) -> String {
    // A multi-line key would become a literal block.
    if needs_quotes(key) || key.contains('\n') { go_quote(key) } else { key.to_owned() }
}

/// goccy's literal block: `|-`, `|` or `|+` by trailing newlines, every line indented two
/// columns past the key, then its two trims of the final line.
fn literal_block(s: &str, indent: usize) -> String {
    let header = if s.ends_with("\n\n") {
        "|+"
    } else if s.ends_with('\n') {
        "|"
    } else {
        "|-"
    };
    let prefix = " ".repeat(indent + 2);
    let mut block: Vec<String> = s.split('\n').map(|l| format!("{prefix}{l}")).collect();
    if block.len() > 1 && block.last().is_some_and(|l| *l == prefix) {
        block.pop();
    }
    let mut block = block.join("\n");
    if block.ends_with(prefix.as_str()) {
        block.truncate(block.len() - prefix.len());
    }
    format!("{header}\n{block}")
}

fn needs_quotes(s: &str) -> bool {
    goccy_quotes(s) || reads_back_wrong(s)
}

/// goccy's `token.IsNeedQuoted` (the version gin vendors).
fn goccy_quotes(s: &str) -> bool {
    const RESERVED: [&str; 26] = [
        "null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE", "y", "Y", "yes", "Yes", "YES",
        "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    ];
    let bytes = s.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return true;
    };
    RESERVED.contains(&s)
        || goccy_number(s)
        || s == "-"
        || b"*&[{}],!|>%'\"@ `".contains(first)
        || matches!(last, b':' | b' ')
        || is_timestamp(bytes)
        || bytes
            .iter()
            .enumerate()
            .any(|(i, c)| matches!(c, b'#' | b'\\') || (matches!(c, b':' | b'-') && bytes.get(i + 1) == Some(&b' ')))
}

/// Strings goccy leaves bare that a YAML reader would not give back: numbers goccy's check
/// misses (`1e5`, `089`), `.inf`/`.nan`, document markers, edge tabs, tab-separated
/// indicators, characters YAML cannot hold bare (controls, `\r`, BOM, line separators),
/// literal blocks goccy would write with the wrong indentation or chomping, and, like goccy's
/// own `yes`/`no`, what YAML 1.1 readers take for other types (`<<`, `=`, `1:30:00`).
fn reads_back_wrong(s: &str) -> bool {
    const SPECIAL: [&str; 12] =
        [".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF", ".nan", ".NaN", ".NAN"];
    let bare = |c: char| {
        matches!(c, '\t' | '\n' | ' '..='~')
            || (c > '\u{9F}' && !matches!(c, '\u{FEFF}' | '\u{2028}' | '\u{2029}' | '\u{FFFE}' | '\u{FFFF}'))
    };
    // `---` and `...` then a blank end a document when a top-level key starts with them.
    let marker = ["---", "..."]
        .iter()
        .any(|m| s.strip_prefix(m).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n'])));
    if marker
        || SPECIAL.contains(&s)
        || matches!(s, "<<" | "=")
        || core_number(s)
        || sexagesimal(s)
        || !s.chars().all(bare)
    {
        return true;
    }
    if !s.contains('\n') {
        return s.starts_with('\t')
            || s.ends_with('\t')
            || s == "?"
            || s.starts_with("? ")
            || s.starts_with("?\t")
            || s.starts_with("-\t")
            || s.contains(":\t");
    }
    // In a literal block the first line with content sets the indentation when read back,
    // and goccy's final trim eats trailing spaces of the last line.
    let first_content = s.split('\n').find(|line| !line.is_empty());
    first_content.is_none_or(|line| line.starts_with(' ')) || s.trim_end_matches('\n').ends_with(' ')
}

/// goccy's `token.isNumber`: the sign and `_` dropped, `0x`/`0o`/`0b`/leading-`0` radixes, one
/// dot makes a float; anything Go's `strconv` parses (or finds out of range) is a number.
fn goccy_number(s: &str) -> bool {
    if s.starts_with('_') {
        return false;
    }
    let dots = s.matches('.').count();
    if dots > 1 {
        return false;
    }
    let unsigned = s.strip_prefix('+').unwrap_or(s);
    let unsigned = unsigned.strip_prefix('-').unwrap_or(unsigned);
    let normalized = unsigned.replace('_', "");
    let digits_in = |digits: &str, radix: u32| !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
    if let Some(hex) = normalized.strip_prefix("0x") {
        digits_in(hex, 16)
    } else if let Some(oct) = normalized.strip_prefix("0o") {
        digits_in(oct, 8)
    } else if let Some(bin) = normalized.strip_prefix("0b") {
        digits_in(bin, 2)
    } else if normalized.starts_with('0') && normalized.len() > 1 && dots == 0 {
        digits_in(&normalized, 8)
    } else if dots == 1 {
        decimal_float(&normalized)
    } else {
        digits_in(&normalized, 10)
    }
}

/// Go's `strconv.ParseFloat` syntax for unsigned decimals: digits with at most one dot and at
/// least one digit, then an optional exponent.
fn decimal_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |x: &str| x.bytes().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !mantissa.is_empty() && digits(mantissa),
    };
    mantissa_ok
        && exponent.is_none_or(|e| {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && digits(e)
        })
}

/// YAML 1.2 core schema ints and floats (`[-+]?[0-9]+`, `0o7`, `0xF`, `1.5e3`, `.5`, `1.`).
fn core_number(s: &str) -> bool {
    if let Some(oct) = s.strip_prefix("0o") {
        return !oct.is_empty() && oct.bytes().all(|c| matches!(c, b'0'..=b'7'));
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit());
    }
    decimal_float(s.strip_prefix(['+', '-']).unwrap_or(s))
}

/// YAML 1.1 base-60 numbers (`190:20:30`, `1:30.5`), which PyYAML and the like still read.
fn sexagesimal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (s, _fraction) = match s.split_once('.') {
        Some((whole, frac)) if frac.bytes().all(|c| c.is_ascii_digit() || c == b'_') => (whole, Some(frac)),
        Some(_) => return false,
        None => (s, None),
    };
    let mut parts = s.split(':');
    let head = parts.next().unwrap_or_default();
    let head_ok =
        head.starts_with(|c: char| c.is_ascii_digit()) && head.bytes().all(|c| c.is_ascii_digit() || c == b'_');
    let mut sixties = parts.peekable();
    head_ok
        && sixties.peek().is_some()
        && sixties.all(|p| matches!(p.as_bytes(), [d] | [b'0'..=b'5', d] if d.is_ascii_digit()))
}

/// goccy's `isTimestamp`: Go's `time.Parse` with RFC 3339 (`T` or `t`), `DateTime`,
/// `DateOnly` and `15:4` layouts.
fn is_timestamp(b: &[u8]) -> bool {
    match date(b) {
        Some([]) => true,
        Some([b'T' | b't', rest @ ..]) => clock(rest).is_some_and(zone),
        Some([b' ', rest @ ..]) => clock(rest).is_some_and(|rest| rest.is_empty()),
        Some(_) => false,
        None => {
            let Some((hour, rest)) = number(b, false) else {
                return false;
            };
            let Some((minute, rest)) = rest.strip_prefix(b":").and_then(|r| number(r, false)) else {
                return false;
            };
            hour < 24 && minute < 60 && rest.is_empty()
        }
    }
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn number(b: &[u8], fixed: bool) -> Option<(u32, &[u8])> {
    let digit = |i: usize| b.get(i).filter(|c| c.is_ascii_digit()).map(|c| u32::from(c - b'0'));
    let tens = digit(0)?;
    match digit(1) {
        Some(units) => Some((tens * 10 + units, &b[2..])),
        None if fixed => None,
        None => Some((tens, &b[1..])),
    }
}

/// `2006-01-02` with Go's range checks; returns what follows.
fn date(b: &[u8]) -> Option<&[u8]> {
    let year = b.get(..4).filter(|y| y.iter().all(u8::is_ascii_digit))?;
    let year = year.iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
    let (month, rest) = number(b.get(4..)?.strip_prefix(b"-")?, true)?;
    let (day, rest) = number(rest.strip_prefix(b"-")?, true)?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (1..=days).contains(&day).then_some(rest)
}

/// `15:04:05` plus an optional `.999` fraction; returns what follows.
fn clock(b: &[u8]) -> Option<&[u8]> {
    let (hour, rest) = number(b, false)?;
    let (minute, rest) = number(rest.strip_prefix(b":")?, true)?;
    let (second, rest) = number(rest.strip_prefix(b":")?, true)?;
    if hour >= 24 || minute >= 60 || second >= 60 {
        return None;
    }
    match rest {
        [b'.' | b',', d, ..] if d.is_ascii_digit() => {
            let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            Some(&rest[1 + digits..])
        }
        _ => Some(rest),
    }
}

/// `Z07:00`: `Z` or `±hh:mm`.
fn zone(b: &[u8]) -> bool {
    match b {
        b"Z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
                && (h1 - b'0') * 10 + (h2 - b'0') <= 24
                && (m1 - b'0') * 10 + (m2 - b'0') <= 60
        }
        _ => false,
    }
}

/// Go's `strconv.Quote`; every escape it writes is also a YAML double-quoted escape.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if go_printable(c) => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{B}' => out.push_str("\\v"),
            c if c < ' ' || c == '\u{7F}' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if u32::from(c) < 0x10000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// Close to Go's `unicode.IsPrint`: graphic characters and the ASCII space. Unassigned code
/// points, which Go escapes, are kept as they are.
fn go_printable(c: char) -> bool {
    c == ' '
        || !(c.is_control()
            || c.is_whitespace()
            || matches!(u32::from(c),
                0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
                | 0x202A..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xFFFE | 0xFFFF
                | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0x110BD | 0x1D173..=0x1D17A
                | 0xE0001 | 0xE0020..=0xE007F))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(v: Value) -> String {
        String::from_utf8(encode(&v)).expect("utf-8")
    }

    #[test]
    fn nested_objects_and_arrays_use_goccy_block_layout() {
        let data = json!({
            "g": "plain text",
            "b": {"f": {}, "c": [1, {"e": [true, null], "d": "x"}, [2, 3], []]},
            "a": [],
        });
        let expected = "\
a: []
b:
  c:
  - 1
  - d: x
    e:
    - true
    - null
  - - 2
    - 3
  - []
  f: {}
g: plain text
";
        assert_eq!(yaml(data), expected);
    }

    #[test]
    fn keys_longer_than_yaml_allows_for_implicit_keys_are_written_as_explicit_keys() {
        let long = "k".repeat(1025);
        let limit = "k".repeat(1024);
        let data = json!({ &long: 1, &limit: 2, "o": { &long: {"a": [1]} }, "s": [{ &long: "x\ny" }] });
        let expected = format!(
            "\
{limit}: 2
? {long}
: 1
o:
  ? {long}
  :
    a:
    - 1
s:
- ? {long}
  : |-
    x
    y
"
        );
        assert_eq!(yaml(data), expected);
    }

    #[test]
    fn empty_and_scalar_documents() {
        assert_eq!(yaml(json!({})), "{}\n");
        assert_eq!(yaml(json!([])), "[]\n");
        assert_eq!(yaml(Value::Null), "null\n");
        assert_eq!(yaml(json!([1, "a"])), "- 1\n- a\n");
    }

    #[test]
    fn numbers_keep_their_literal() {
        let data: Value = serde_json::from_str(r#"{"a": 1.50, "b": 12345678901234567890, "c": -0.10}"#).expect("json");
        assert_eq!(yaml(data), "a: 1.50\nb: 12345678901234567890\nc: -0.10\n");
    }

    #[test]
    fn strings_that_would_read_back_as_something_else_are_quoted() {
        let cases = [
            ("yes", r#""yes""#),
            ("No", r#""No""#),
            ("null", r#""null""#),
            ("~", r#""~""#),
            ("", r#""""#),
            ("123", r#""123""#),
            ("-1.5", r#""-1.5""#),
            ("0x1F", r#""0x1F""#),
            ("1_000", r#""1_000""#),
            ("1e5", r#""1e5""#),
            ("089", r#""089""#),
            (".inf", r#"".inf""#),
            ("2024-02-29", r#""2024-02-29""#),
            ("2024-01-02T03:04:05Z", r#""2024-01-02T03:04:05Z""#),
            ("12:30", r#""12:30""#),
            ("a: b", r#""a: b""#),
            ("- item", r#""- item""#),
            (" leading", r#"" leading""#),
            ("trailing ", r#""trailing ""#),
            ("ends:", r#""ends:""#),
            ("# not a comment", r##""# not a comment""##),
            ("a #b", r##""a #b""##),
            ("back\\slash", r#""back\\slash""#),
            ("[x]", r#""[x]""#),
            ("{x}", r#""{x}""#),
            ("*ref", r#""*ref""#),
            ("&anchor", r#""&anchor""#),
            ("!tag", r#""!tag""#),
            ("@at", r#""@at""#),
            ("%pct", r#""%pct""#),
            ("'single", r#""'single""#),
            ("\"double", r#""\"double""#),
            ("|pipe", r#""|pipe""#),
            ("? key", r#""? key""#),
            ("...", r#""...""#),
            ("--- x", r#""--- x""#),
            ("<<", r#""<<""#),
            ("=", r#""=""#),
            ("190:20:30", r#""190:20:30""#),
            ("\ttab", r#""\ttab""#),
            ("bell\u{7}", r#""bell\a""#),
            ("cr\rlf", r#""cr\rlf""#),
            ("nbsp\u{A0}bom\u{FEFF}", r#""nbsp\u00a0bom\ufeff""#),
        ];
        for (input, quoted) in cases {
            assert_eq!(yaml(json!({"k": input})), format!("k: {quoted}\n"), "{input:?}");
        }
    }

    #[test]
    fn ordinary_strings_stay_bare() {
        for s in [
            "plain text",
            "https://example.com/a?b=c",
            "a:b",
            "it's",
            "say \"hi\"",
            "café ünïcode 日本",
            "1.2.3",
            "2024-13-01",
            "a-b",
            "true story",
            "inf",
        ] {
            assert_eq!(yaml(json!({"k": s})), format!("k: {s}\n"), "{s:?}");
        }
    }

    #[test]
    fn keys_are_sorted_and_quoted_by_the_same_rules() {
        assert_eq!(
            yaml(json!({"b": 1, "a": 2, "": 3, "yes": 4, "x y": 5, "B": 6, "<<": 7})),
            "\"\": 3\n\"<<\": 7\nB: 6\na: 2\nb: 1\nx y: 5\n\"yes\": 4\n"
        );
        assert_eq!(yaml(json!({"two\nlines": 1})), "\"two\\nlines\": 1\n");
    }

    #[test]
    fn multi_line_strings_are_literal_blocks_with_goccy_chomping() {
        let data = json!({
            "strip": "line1\n  line2",
            "clip": "end\n",
            "keep": "keep\n\n",
            "nested": {"s": "a\n\nb"},
            "list": ["x\ny", {"m": "p\nq"}],
        });
        let expected = "\
clip: |
  end
keep: |+
  keep

list:
- |-
  x
  y
- m: |-
    p
    q
nested:
  s: |-
    a
  \x20\x20
    b
strip: |-
  line1
    line2
";
        assert_eq!(yaml(data), expected);
    }

    #[test]
    fn multi_line_strings_goccy_would_misread_are_quoted() {
        assert_eq!(yaml(json!({"k": "\n  indented"})), "k: \"\\n  indented\"\n");
        assert_eq!(yaml(json!({"k": "a  \n"})), "k: \"a  \\n\"\n");
        assert_eq!(yaml(json!({"k": "\n\n"})), "k: \"\\n\\n\"\n");
        assert_eq!(yaml(json!({"k": "a: b\nc"})), "k: \"a: b\\nc\"\n");
    }

    #[test]
    fn nesting_deeper_than_the_limit_gives_an_empty_body_not_a_crash() {
        let mut value = json!(1);
        for _ in 0..(MAX_DEPTH + 10) {
            value = json!([value]);
        }
        assert!(encode(&value).is_empty());
        let mut value = json!(1);
        for _ in 0..100 {
            value = json!({ "a": value });
        }
        assert!(!encode(&value).is_empty());
    }
}
