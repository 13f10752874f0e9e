//! JSON in and out the way KrakenD's Go engine does it: decoding keeps number literals and
//! replaces invalid UTF-8; encoding is compact with sorted keys and Go's HTML-safe escaping.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};
use serde_json::{Map, Value};
use std::io;

pub(crate) type Object = Map<String, Value>;

/// Decodes the first JSON value of `body` (trailing bytes are ignored, as Go's decoder does).
/// Invalid UTF-8 becomes U+FFFD instead of an error, as in Go.
pub(crate) fn decode_first(body: &[u8]) -> Result<Value, String> {
    let text = String::from_utf8_lossy(body);
    let mut de = serde_json::Deserializer::from_str(&text);
    serde::Deserialize::deserialize(&mut de).map_err(|e: serde_json::Error| {
        if e.is_eof() {
            "EOF".to_owned()
        } else {
            strip_position(&e.to_string())
        }
    })
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Go's `encoding/json` escaping: `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`, control
/// characters other than `\n`, `\r`, `\t` as `\u00XX`.
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let escape: Option<&[u8]> = match b {
                b'<' => Some(b"\\u003c"),
                b'>' => Some(b"\\u003e"),
                b'&' => Some(b"\\u0026"),
                0xE2 if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) => {
                    Some(if bytes[i + 2] == 0xA8 { b"\\u2028" } else { b"\\u2029" })
                }
                _ => None,
            };
            if let Some(esc) = escape {
                w.write_all(&bytes[start..i])?;
                w.write_all(esc)?;
                i += if b == 0xE2 { 3 } else { 1 };
                start = i;
            } else {
                i += 1;
            }
        }
        w.write_all(&bytes[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(&mut self, w: &mut W, escape: CharEscape) -> io::Result<()> {
        let s: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::Backspace => b"\\u0008",
            CharEscape::FormFeed => b"\\u000c",
            CharEscape::AsciiControl(byte) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let buf = [b'\\', b'u', b'0', b'0', HEX[(byte >> 4) as usize], HEX[(byte & 0xF) as usize]];
                return w.write_all(&buf);
            }
            // serde_json only produces the variants above; Solidus is never escaped by it.
            #[allow(unreachable_patterns)]
            _ => b"",
        };
        w.write_all(s)
    }
}

/// Writes `value` as Go would, with the objects named in `struct_ordered` (top-level keys whose
/// value is a KrakenD error-detail struct) written in struct order rather than sorted.
pub(crate) fn encode_into(out: &mut Vec<u8>, value: &Value, struct_ordered: &[String]) {
    let result = if struct_ordered.is_empty() {
        write_value(out, value)
    } else {
        write_with_details(out, value, struct_ordered)
    };
    // Writing into a Vec cannot fail.
    debug_assert!(result.is_ok());
}

pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    encode_into(&mut out, value, &[]);
    out
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, GoFormatter);
    value.serialize(&mut ser).map_err(io::Error::other)
}

fn write_with_details(out: &mut Vec<u8>, value: &Value, ordered: &[String]) -> io::Result<()> {
    let Value::Object(map) = value else {
        return write_value(out, value);
    };
    out.push(b'{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(out, &Value::String(k.clone()))?;
        out.push(b':');
        match v {
            Value::Object(detail) if ordered.contains(k) => {
                out.push(b'{');
                let mut first = true;
                for field in ["http_status_code", "http_body", "http_body_encoding"] {
                    if let Some(fv) = detail.get(field) {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        write_value(out, &Value::String(field.to_owned()))?;
                        out.push(b':');
                        write_value(out, fv)?;
                    }
                }
                out.push(b'}');
            }
            _ => write_value(out, v)?,
        }
    }
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_sorts_keys_and_escapes_html_like_go() {
        let v = decode_first(br#"{"z":"<b>&</b>","a":{"d":1,"c":2}}"#).unwrap();
        assert_eq!(
            String::from_utf8(encode(&v)).unwrap(),
            r#"{"a":{"c":2,"d":1},"z":"\u003cb\u003e\u0026\u003c/b\u003e"}"#
        );
    }

    #[test]
    fn number_literals_survive_a_round_trip() {
        let v = decode_first(br#"{"big":12345678901234567890,"e":1e3,"f":1.50}"#).unwrap();
        assert_eq!(encode(&v), br#"{"big":12345678901234567890,"e":1e3,"f":1.50}"#);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let v = decode_first(b"{\"a\":\"x\xff\xfey\"}").unwrap();
        assert_eq!(v["a"].as_str().unwrap().chars().filter(|c| *c == '\u{FFFD}').count(), 2);
    }

    #[test]
    fn trailing_bytes_after_the_first_value_are_ignored() {
        assert!(decode_first(b"{\"a\":1} garbage").is_ok());
        assert_eq!(decode_first(b"").unwrap_err(), "EOF");
        assert!(decode_first(b"supu").unwrap_err().starts_with("expected"));
    }

    #[test]
    fn control_characters_and_line_separators_use_go_escapes() {
        let v = Value::String("\u{8}\u{c}\u{1}\u{2028}\n".to_owned());
        assert_eq!(encode(&v), br#""\u0008\u000c\u0001\u2028\n""#);
    }

    #[test]
    fn error_details_keep_struct_order() {
        let v = serde_json::json!({"error_b": {"http_status_code": 404, "http_body": "x", "http_body_encoding": "t"}});
        let mut out = Vec::new();
        encode_into(&mut out, &v, &["error_b".to_owned()]);
        assert_eq!(out, br#"{"error_b":{"http_status_code":404,"http_body":"x","http_body_encoding":"t"}}"#);
    }
}
