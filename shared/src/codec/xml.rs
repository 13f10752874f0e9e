//! The `xml` codec of KrakenD CE's krakend-xml module: [`decode`] reads a backend body the way
//! mxj's `NewMapXmlReader` does, [`encode`] writes data the way mxj's `Map.Xml()` does with
//! `XMLEscapeChars(true)`. Pure byte-to-value functions: no HTTP, no content types, and no
//! input, however hostile, may panic or recurse without bound.
//!
//! mxj v2's rules (the version krakend-xml's renderer imports), as reproduced here:
//! * decode: `{root: value}`; an element is its text (a string, `""` when empty) unless it has
//!   attributes (`-name`) or child elements, then an object with `#text` for its text; repeated
//!   children become arrays; namespace prefixes are dropped (`xmlns:p` becomes `-p`); comments,
//!   processing instructions and `<!DOCTYPE>` are skipped; anything after the root is ignored;
//!   text is trimmed of `" \t\r\n\b"` and the last non-blank text run of an element wins.
//! * encode: one top key is the root element, several (or none, or one holding an array with a
//!   non-object in it) are wrapped in `<doc>`; keys in byte order, `-name` keys as attributes,
//!   `#text` as text, arrays as repeated elements, `null`/`""`/`[]`/attribute-only as `<k/>`;
//!   keys are written unescaped, as mxj does. An attribute holding an object, array or `null`
//!   is an mxj error, after which KrakenD writes no body: so do we.

use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use serde_json::Value;

pub(crate) use crate::codec::json::Object;

/// Deepest element nesting (decode) and value nesting (encode) accepted: the JSON decoder's. Go
/// has no such limit; it is ours, so that a hostile document costs bounded memory and stack.
use crate::codec::json::MAX_DEPTH;

/// What mxj trims around every text run (`strings.Trim(s, "\t\r\b\n ")`).
const TRIM: [char; 5] = ['\t', '\r', '\u{8}', '\n', ' '];

/// Decode a backend body like mxj's NewMapXml. Err on malformed XML (its text becomes a backend
/// error text).
pub(crate) fn decode(body: &[u8]) -> Result<Object, XmlDecodeError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match parse(body, false) {
        Err(Stop::Latin1) => {
            // Go hands the rest of the stream to `charset.NewReaderLabel`, which reads every
            // Latin-1 label as windows-1252; the declaration itself is ASCII either way.
            let text: String = body.iter().map(|&b| windows_1252(b)).collect();
            parse(text.as_bytes(), true).map_err(Stop::into_error)
        }
        other => other.map_err(Stop::into_error),
    }
}

/// Why a body is not XML, in the words of Go's `encoding/xml` as mxj passes them on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum XmlDecodeError {
    /// No root element at all: mxj hands back Go's bare `io.EOF`.
    #[error("EOF")]
    Eof,
    /// Malformed XML, with the line it was found on and Go's description of it.
    #[error("xml.Decoder.Token() - XML syntax error on line {line}: {message}")]
    Syntax { line: usize, message: String },
    /// The declaration names a version other than 1.0.
    #[error("xml.Decoder.Token() - xml: unsupported version {0:?}; only version 1.0 is supported")]
    UnsupportedVersion(String),
    /// The declaration names a charset that is neither UTF-8 nor windows-1252.
    #[error("xml.Decoder.Token() - xml: opening charset {0:?}: unsupported charset: {0:?}")]
    UnsupportedCharset(String),
    /// A transcoded body asked to be transcoded again (a guard: the second pass does not read
    /// the charset).
    #[error("xml: charset transcoding failed")]
    Transcoding,
}

enum Stop {
    Failed(XmlDecodeError),
    /// The declaration names a windows-1252 charset: parse again after transcoding.
    Latin1,
}

impl Stop {
    fn into_error(self) -> XmlDecodeError {
        match self {
            Stop::Failed(e) => e,
            Stop::Latin1 => XmlDecodeError::Transcoding,
        }
    }
}

/// One open element: mxj keeps text seen before any attribute or child apart (`n[skey]`)
/// from attributes and children (`na`).
struct Open {
    key: String,
    text: Option<String>,
    members: Object,
}

fn parse(input: &[u8], transcoded: bool) -> Result<Object, Stop> {
    let mut reader = Reader::from_reader(input);
    let mut open: Vec<Open> = Vec::new();
    // Go delivers a run of text and references as one token; comments, PIs and CDATA end it.
    let mut run = String::new();
    let fail = |reader: &Reader<&[u8]>, msg: String| {
        let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        Stop::Failed(syntax_error(input, pos, &msg))
    };
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                let pos = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                return Err(Stop::Failed(syntax_error(input, pos, &describe(&e))));
            }
        };
        match event {
            Event::Text(t) => {
                let text = t.xml10_content();
                if text.contains("]]>") {
                    return Err(fail(&reader, "unescaped ]]> not in CDATA section".into()));
                }
                check_chars(&text).map_err(|m| fail(&reader, m))?;
                run.push_str(&text);
            }
            Event::GeneralRef(r) => {
                let c = resolve_reference(&r).map_err(|m| fail(&reader, m))?;
                run.push(c);
            }
            Event::CData(c) => {
                flush(&mut run, &mut open);
                let text = c.xml10_content();
                check_chars(&text).map_err(|m| fail(&reader, m))?;
                run.push_str(&text);
                flush(&mut run, &mut open);
            }
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => flush(&mut run, &mut open),
            Event::Decl(decl) => {
                flush(&mut run, &mut open);
                if let Ok(version) = decl.version()
                    && !version.is_empty()
                    && version != "1.0"
                {
                    return Err(Stop::Failed(XmlDecodeError::UnsupportedVersion(version.into_owned())));
                }
                if let Some(Ok(label)) = decl.encoding()
                    && !transcoded
                {
                    match charset(&label) {
                        Charset::Utf8 => {}
                        Charset::Windows1252 => return Err(Stop::Latin1),
                        Charset::Unsupported => {
                            return Err(Stop::Failed(XmlDecodeError::UnsupportedCharset(label.into_owned())));
                        }
                    }
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                flush(&mut run, &mut open);
                if open.len() >= MAX_DEPTH {
                    let msg = format!("elements nested deeper than {MAX_DEPTH}");
                    return Err(fail(&reader, msg));
                }
                let element = start(e).map_err(|m| fail(&reader, m))?;
                if matches!(event, Event::Start(_)) {
                    open.push(element);
                } else if let Some(root) = close(element, &mut open) {
                    return Ok(root);
                }
            }
            Event::End(_) => {
                flush(&mut run, &mut open);
                // quick-xml has already matched the name against the open element.
                let Some(element) = open.pop() else {
                    return Err(fail(&reader, "unexpected end element".into()));
                };
                if let Some(root) = close(element, &mut open) {
                    return Ok(root);
                }
            }
            Event::Eof => {
                return Err(Stop::Failed(if open.is_empty() {
                    // No root element at all: mxj hands back Go's bare io.EOF.
                    XmlDecodeError::Eof
                } else {
                    syntax_error(input, input.len(), "unexpected EOF")
                }));
            }
        }
    }
}

/// A new open element from its start tag: local name, attributes as `-local` keys.
fn start(e: &BytesStart<'_>) -> Result<Open, String> {
    let raw = e.name().0;
    if raw.is_empty() {
        return Err("expected element name after <".into());
    }
    check_name(raw)?;
    let mut members = Object::new();
    let mut attributes = e.attributes();
    // Go keeps duplicate attributes (the last one wins in mxj's map); so do we.
    attributes.with_checks(false);
    for attribute in attributes {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let name = attribute.key.0;
        check_name(name)?;
        let value = attribute_value(&attribute.value)?;
        members.insert(format!("-{}", local_name(name)), Value::String(value));
    }
    Ok(Open { key: local_name(raw).to_owned(), text: None, members })
}

/// Hand a finished text run to the innermost open element, as mxj's `xml.CharData` case does.
fn flush(run: &mut String, open: &mut [Open]) {
    if run.is_empty() {
        return;
    }
    let text = run.trim_matches(TRIM);
    if let Some(element) = open.last_mut()
        && !text.is_empty()
    {
        if element.members.is_empty() {
            element.text = Some(text.to_owned());
        } else {
            element.members.insert("#text".to_owned(), Value::String(text.to_owned()));
        }
    }
    run.clear();
}

/// Close an element: its value per mxj's `xml.EndElement` case, attached to its parent
/// (a repeated key turns into an array). Returns the document once the root closes.
fn close(element: Open, open: &mut [Open]) -> Option<Object> {
    let Open { key, text, mut members } = element;
    let value = match text {
        Some(text) if members.is_empty() => Value::String(text),
        Some(text) => {
            members.insert("#text".to_owned(), Value::String(text));
            Value::Object(members)
        }
        None if members.is_empty() => Value::String(String::new()),
        None => Value::Object(members),
    };
    let Some(parent) = open.last_mut() else {
        let mut root = Object::new();
        root.insert(key, value);
        return Some(root);
    };
    match parent.members.get_mut(&key) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            parent.members.insert(key, value);
        }
    }
    None
}

/// Go's `Name.Local`: the part after the prefix colon, unless the name has no single clean
/// prefix (`a:b:c`, `:a` and `a:` stay whole).
fn local_name(name: &str) -> &str {
    match name.split_once(':') {
        Some((prefix, local)) if !prefix.is_empty() && !local.is_empty() && !local.contains(':') => local,
        _ => name,
    }
}

/// Close to Go's `isName` (XML 1.0 names); non-ASCII letters are accepted broadly.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':');
    let rest_ok = chars.all(|c| {
        c.is_alphanumeric()
            || matches!(c, '_' | ':' | '-' | '.' | '\u{B7}')
            || (!c.is_ascii() && !c.is_whitespace() && !c.is_control())
    });
    if first_ok && rest_ok { Ok(()) } else { Err(format!("invalid XML name: {name}")) }
}

/// An attribute value as Go reads it: line ends normalised, references resolved, no `<`.
fn attribute_value(raw: &str) -> Result<String, String> {
    if raw.contains('<') {
        return Err("unescaped < inside quoted string".into());
    }
    let raw = raw.replace("\r\n", "\n").replace('\r', "\n");
    check_chars(&raw)?;
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw.as_str();
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';') else {
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '#').collect();
            return Err(format!("invalid character entity &{name} (no semicolon)"));
        };
        out.push(resolve_reference(&after[..semi])?);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The five predefined entities and character references; Go knows no others.
fn resolve_reference(name: &str) -> Result<char, String> {
    let c = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok()
            } else {
                None
            };
            code.and_then(char::from_u32).filter(|c| is_xml_char(*c))
        }
    };
    c.ok_or_else(|| format!("invalid character entity &{name};"))
}

fn check_chars(text: &str) -> Result<(), String> {
    match text.chars().find(|c| !is_xml_char(*c)) {
        Some(c) => Err(format!("illegal character code U+{:04X}", u32::from(c))),
        None => Ok(()),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(u32::from(c), 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Go's `encoding/xml` wording where quick-xml's differs in substance.
fn describe(e: &XmlError) -> String {
    match e {
        XmlError::Syntax(
            SyntaxError::UnclosedPI
            | SyntaxError::UnclosedXmlDecl
            | SyntaxError::UnclosedComment
            | SyntaxError::UnclosedDoctype
            | SyntaxError::UnclosedCData
            | SyntaxError::UnclosedTag
            | SyntaxError::UnclosedSingleQuotedAttributeValue
            | SyntaxError::UnclosedDoubleQuotedAttributeValue,
        ) => "unexpected EOF".to_owned(),
        XmlError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
            // Go compares local names and namespaces; show the prefixes when only they differ.
            let (mut open, mut close) = (local_name(expected), local_name(found));
            if open == close {
                (open, close) = (expected.as_str(), found.as_str());
            }
            format!("element <{open}> closed by </{close}>")
        }
        XmlError::IllFormed(IllFormedError::UnmatchedEndTag(name)) => {
            format!("unexpected end element </{}>", local_name(name))
        }
        XmlError::IllFormed(IllFormedError::UnclosedReference) => {
            "invalid character entity & (no semicolon)".to_owned()
        }
        XmlError::Encoding(_) => "invalid UTF-8".to_owned(),
        other => other.to_string(),
    }
}

fn syntax_error(input: &[u8], pos: usize, msg: &str) -> XmlDecodeError {
    let upto = input.get(..pos).unwrap_or(input);
    let line = 1 + upto.iter().filter(|&&b| b == b'\n').count();
    XmlDecodeError::Syntax { line, message: msg.to_owned() }
}

enum Charset {
    Utf8,
    Windows1252,
    Unsupported,
}

/// The WHATWG labels `charset.NewReaderLabel` maps to UTF-8 and windows-1252. Other charsets
/// (UTF-16, Shift_JIS, ISO-8859-2, ...) Go would transcode; we refuse them.
fn charset(label: &str) -> Charset {
    match label.trim().to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" | "unicode-1-1-utf-8" | "unicode11utf8" | "unicode20utf8" | "x-unicode20utf8" => Charset::Utf8,
        "ansi_x3.4-1968" | "ascii" | "cp1252" | "cp819" | "csisolatin1" | "ibm819" | "iso-8859-1" | "iso-ir-100"
        | "iso8859-1" | "iso88591" | "iso_8859-1" | "iso_8859-1:1987" | "l1" | "latin1" | "us-ascii"
        | "windows-1252" | "x-cp1252" => Charset::Windows1252,
        _ => Charset::Unsupported,
    }
}

fn windows_1252(b: u8) -> char {
    const HIGH: [u16; 32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D,
        0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x009D, 0x017E, 0x0178,
    ];
    match b {
        0x80..=0x9F => char::from_u32(u32::from(HIGH[usize::from(b - 0x80)])).unwrap_or('\u{FFFD}'),
        _ => char::from(b),
    }
}

/// Render data like mxj's map.Xml() (what KrakenD's `xml` output encoding writes,
/// Content-Type application/xml). No XML declaration unless mxj writes one.
///
/// mxj never writes a declaration. On an mxj encoding error (an attribute whose value is an
/// object, array or null; or nesting deeper than [`MAX_DEPTH`]) the result is empty, as
/// KrakenD then writes no body.
pub(crate) fn encode(data: &Object) -> Vec<u8> {
    let mut out = String::new();
    let written = match data.iter().next() {
        Some((key, value)) if data.len() == 1 => match value {
            // A lone list of non-objects would have no element to hang on: mxj wraps it.
            Value::Array(items) if items.iter().any(|v| !v.is_object()) => object_element(&mut out, "doc", data, 0),
            _ => element(&mut out, key, value, 0),
        },
        _ => object_element(&mut out, "doc", data, 0),
    };
    match written {
        Ok(()) => out.into_bytes(),
        Err(Unencodable) => Vec::new(),
    }
}

/// mxj gave up on the data (its `Xml()` error).
struct Unencodable;

fn element(out: &mut String, key: &str, value: &Value, depth: usize) -> Result<(), Unencodable> {
    if depth > MAX_DEPTH {
        return Err(Unencodable);
    }
    let content = match value {
        Value::Object(map) => return object_element(out, key, map, depth),
        Value::Array(items) if !items.is_empty() => {
            return items.iter().try_for_each(|item| element(out, key, item, depth + 1));
        }
        Value::Array(_) | Value::Null => String::new(),
        Value::String(s) => escape(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
    };
    out.push('<');
    out.push_str(key);
    if content.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        out.push_str(&content);
        out.push_str("</");
        out.push_str(key);
        out.push('>');
    }
    Ok(())
}

fn object_element(out: &mut String, key: &str, map: &Object, depth: usize) -> Result<(), Unencodable> {
    if depth > MAX_DEPTH {
        return Err(Unencodable);
    }
    let mut attributes: Vec<(&str, String)> = Vec::new();
    let mut children: Vec<(&str, &Value)> = Vec::new();
    let mut text = None;
    for (k, v) in map {
        if let Some(name) = k.strip_prefix('-').filter(|name| !name.is_empty()) {
            let rendered = match v {
                Value::String(s) => escape(s),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null | Value::Array(_) | Value::Object(_) => return Err(Unencodable),
            };
            attributes.push((name, rendered));
        } else if k == "#text" {
            text = Some(v);
        } else {
            children.push((k, v));
        }
    }
    attributes.sort_by(|a, b| a.0.cmp(b.0));
    children.sort_by(|a, b| a.0.cmp(b.0));

    out.push('<');
    out.push_str(key);
    for (name, value) in &attributes {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        out.push_str(value);
        out.push('"');
    }
    if attributes.len() == map.len() {
        out.push_str("/>");
        return Ok(());
    }
    out.push('>');
    if let Some(text) = text {
        out.push_str(&text_content(text, depth)?);
    }
    for (k, v) in children {
        element(out, k, v, depth + 1)?;
    }
    out.push_str("</");
    out.push_str(key);
    out.push('>');
    Ok(())
}

/// `#text`: strings escaped; anything else printed with Go's `%v`, unescaped, as mxj does.
fn text_content(value: &Value, depth: usize) -> Result<String, Unencodable> {
    match value {
        Value::String(s) => Ok(escape(s)),
        other => {
            let mut out = String::new();
            go_format(&mut out, other, depth)?;
            Ok(out)
        }
    }
}

/// Go's `fmt.Sprintf("%v", v)` of a decoded JSON value (`map[k:v ...]`, `[a b]`, `<nil>`).
fn go_format(out: &mut String, value: &Value, depth: usize) -> Result<(), Unencodable> {
    if depth > MAX_DEPTH {
        return Err(Unencodable);
    }
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                go_format(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("map[");
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                go_format(out, v, depth + 1)?;
            }
            out.push(']');
        }
    }
    Ok(())
}

/// mxj's `escapeChars`: the five XML specials, `&` first.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Object {
        match v {
            Value::Object(o) => o,
            other => panic!("not an object: {other}"),
        }
    }

    fn encoded(v: Value) -> String {
        String::from_utf8(encode(&object(v))).expect("utf-8")
    }

    fn decoded(xml: &str) -> Value {
        Value::Object(decode(xml.as_bytes()).expect("well-formed"))
    }

    /// The backend body and expected output of the `xml_backend_to_xml_output` case
    /// (krakend-ce tests/fixtures/specs/xml_1.json).
    #[test]
    fn ce_fixture_round_trips_to_the_expected_text() {
        let backend = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<user type=\"admin\">\n  <name>Elliot</name>\n  <social>\n    <facebook>https://facebook.com</facebook>\n    <twitter>https://twitter.com</twitter>\n    <youtube>https://youtube.com</youtube>\n  </social>\n</user>";
        let data = decode(backend.as_bytes()).expect("fixture decodes");
        assert_eq!(
            Value::Object(data.clone()),
            json!({"user": {"-type": "admin", "name": "Elliot", "social": {
                "facebook": "https://facebook.com",
                "twitter": "https://twitter.com",
                "youtube": "https://youtube.com"}}})
        );
        let expected = "<user type=\"admin\"><name>Elliot</name><social><facebook>https://facebook.com</facebook><twitter>https://twitter.com</twitter><youtube>https://youtube.com</youtube></social></user>";
        assert_eq!(String::from_utf8(encode(&data)).expect("utf-8"), expected);
    }

    #[test]
    fn attributes_become_dash_keys_and_leaves_stay_strings() {
        assert_eq!(
            decoded(r#"<item id="7" on="true"><price>1.50</price><n/></item>"#),
            json!({"item": {"-id": "7", "-on": "true", "price": "1.50", "n": ""}})
        );
        assert_eq!(decoded("<a/>"), json!({"a": ""}));
        assert_eq!(decoded(r#"<a x="1"/>"#), json!({"a": {"-x": "1"}}));
    }

    #[test]
    fn repeated_siblings_become_an_array_in_document_order() {
        assert_eq!(
            decoded("<r><i>1</i><j>x</j><i>2</i><i><k>3</k></i></r>"),
            json!({"r": {"i": ["1", "2", {"k": "3"}], "j": "x"}})
        );
    }

    #[test]
    fn text_next_to_attributes_or_children_goes_under_hash_text() {
        assert_eq!(decoded(r#"<a x="1"> hi </a>"#), json!({"a": {"-x": "1", "#text": "hi"}}));
        // Text before the first child survives; mxj keeps it over later runs.
        assert_eq!(decoded("<a>foo<b/>bar</a>"), json!({"a": {"#text": "foo", "b": ""}}));
        assert_eq!(decoded("<a><b/>bar</a>"), json!({"a": {"#text": "bar", "b": ""}}));
        // Runs split by a comment or CDATA: the last non-blank one wins.
        assert_eq!(decoded("<a>x<!-- c -->y</a>"), json!({"a": "y"}));
        assert_eq!(decoded("<a>x<![CDATA[<y>]]>\n</a>"), json!({"a": "<y>"}));
    }

    #[test]
    fn references_and_line_ends_are_resolved_like_go() {
        assert_eq!(
            decoded("<a t=\"&lt;&#65;&#x42;&quot;\">x &amp; y\r\nz</a>"),
            json!({"a": {"-t": "<AB\"", "#text": "x & y\nz"}})
        );
    }

    #[test]
    fn namespace_prefixes_are_dropped() {
        assert_eq!(
            decoded(r#"<s:Envelope xmlns:s="urn:x" xmlns="urn:d"><s:Body>ok</s:Body></s:Envelope>"#),
            json!({"Envelope": {"-s": "urn:x", "-xmlns": "urn:d", "Body": "ok"}})
        );
    }

    #[test]
    fn prolog_doctype_comments_and_trailing_content_are_ignored() {
        let body = "\u{FEFF}<?xml version=\"1.0\"?>\n<!DOCTYPE r>\n<!-- hi -->\n<r>1</r>\n<junk>";
        assert_eq!(decoded(body), json!({"r": "1"}));
    }

    #[test]
    fn latin1_declared_bodies_are_transcoded() {
        let body = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xE9 \x80</a>";
        assert_eq!(Value::Object(decode(body).expect("latin-1")), json!({"a": "café €"}));
        assert_eq!(
            decode(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><a/>").unwrap_err().to_string(),
            "xml.Decoder.Token() - xml: opening charset \"Shift_JIS\": unsupported charset: \"Shift_JIS\""
        );
        assert_eq!(
            decode(b"<?xml version=\"1.1\"?><a/>").unwrap_err().to_string(),
            "xml.Decoder.Token() - xml: unsupported version \"1.1\"; only version 1.0 is supported"
        );
    }

    #[test]
    fn malformed_xml_is_an_error() {
        for bad in [
            "",
            "   ",
            "not xml",
            "{\"a\":1}",
            "<a>",
            "<a><b></a>",
            "</a>",
            "<a>&bogus;</a>",
            "<a>x & y</a>",
            "<a b=c/>",
            "<a b/>",
            "< a/>",
            "<1a/>",
            "<a>\u{1}</a>",
            "<a><!-- open",
            "<a b=\"<\"/>",
            "<?xml version=\"1.1\"?><a/>",
        ] {
            assert!(decode(bad.as_bytes()).is_err(), "{bad:?} should not decode");
        }
        assert!(decode(b"<a>\xFF</a>").is_err());
        assert_eq!(decode(b"").unwrap_err(), XmlDecodeError::Eof);
        assert_eq!(
            decode(b"<a>\n<b>").unwrap_err().to_string(),
            "xml.Decoder.Token() - XML syntax error on line 2: unexpected EOF"
        );
        assert_eq!(
            decode(b"<a></b>").unwrap_err().to_string(),
            "xml.Decoder.Token() - XML syntax error on line 1: element <a> closed by </b>"
        );
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_an_error_not_a_crash() {
        let at_limit = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(decode(at_limit.as_bytes()).is_ok());
        let deep = "<a>".repeat(100_000);
        let err = decode(deep.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("nested deeper"), "{err}");

        let mut value = json!("leaf");
        for _ in 0..(MAX_DEPTH + 10) {
            value = json!({ "a": value });
        }
        assert!(encode(&object(value)).is_empty());
    }

    #[test]
    fn encode_escapes_the_five_specials_in_text_and_attributes() {
        assert_eq!(
            encoded(json!({"a": {"-t": "<&>\"'", "#text": "x<y & \"z\""}})),
            r#"<a t="&lt;&amp;&gt;&quot;&apos;">x&lt;y &amp; &quot;z&quot;</a>"#
        );
        assert_eq!(encoded(json!({"a": "supu & tupu"})), "<a>supu &amp; tupu</a>");
    }

    #[test]
    fn encode_wraps_several_keys_in_doc_in_byte_order() {
        // krakend-xml's own render test.
        assert_eq!(
            encoded(json!({"foo": 42, "content": "tupu", "a": {"content": "supu & tupu"}})),
            "<doc><a><content>supu &amp; tupu</content></a><content>tupu</content><foo>42</foo></doc>"
        );
        assert_eq!(encoded(json!({})), "<doc/>");
    }

    #[test]
    fn encode_writes_arrays_as_repeated_elements() {
        assert_eq!(
            encoded(json!({"r": {"i": [1, "x", null, [true, false]], "e": []}})),
            "<r><e/><i>1</i><i>x</i><i/><i>true</i><i>false</i></r>"
        );
        // One key holding only objects: repeated roots, as mxj writes them.
        assert_eq!(encoded(json!({"i": [{"a": 1}, {"a": 2}]})), "<i><a>1</a></i><i><a>2</a></i>");
        // One key holding a non-object: wrapped in <doc>.
        assert_eq!(
            encoded(json!({"collection": [1, 2]})),
            "<doc><collection>1</collection><collection>2</collection></doc>"
        );
    }

    #[test]
    fn encode_empty_values_and_attribute_only_elements_self_close() {
        assert_eq!(
            encoded(json!({"r": {"a": null, "b": "", "c": {"-x": 1}, "d": {}}})),
            r#"<r><a/><b/><c x="1"/><d/></r>"#
        );
        assert_eq!(encoded(json!({"a": {"-x": "1", "#text": ""}})), r#"<a x="1"></a>"#);
    }

    #[test]
    fn encode_numbers_keep_their_literal_and_text_uses_go_formatting() {
        let data: Value =
            serde_json::from_str(r##"{"a": {"-n": 1.50, "v": 12345678901234567890, "#text": {"k": [1, null]}}}"##)
                .expect("json");
        assert_eq!(encoded(data), r#"<a n="1.50">map[k:[1 <nil>]]<v>12345678901234567890</v></a>"#);
    }

    #[test]
    fn encode_gives_up_like_mxj_on_non_scalar_attributes() {
        assert!(encode(&object(json!({"a": {"-x": {"y": 1}}}))).is_empty());
        assert!(encode(&object(json!({"a": {"-x": null}}))).is_empty());
        // A bare "-" is an element name, not an attribute.
        assert_eq!(encoded(json!({"a": {"-": 1}})), "<a><->1</-></a>");
    }
}
