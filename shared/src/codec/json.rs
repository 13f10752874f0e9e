//! JSON in and out the way KrakenD's Go engine does it: decoding keeps number literals and
//! replaces invalid UTF-8; encoding is compact with sorted keys and Go's HTML-safe escaping.

use serde_json::{Map, Value};

/// A JSON object as the crate decodes it (the one alias every module uses).
pub type Object = Map<String, Value>;

/// Deepest nesting accepted from a backend (Go allows 10000; we stop earlier so that a hostile
/// body cannot exhaust a task's stack).
pub(crate) const MAX_DEPTH: usize = 512;

/// Decodes the first JSON value of `body` as Go's decoder does: trailing bytes are ignored,
/// every invalid UTF-8 byte inside a string becomes U+FFFD, and numbers keep their literal text.
///
/// Hand-written because serde_json, even with `arbitrary_precision`, rewrites number literals
/// (`1e3` becomes `1e+3`, `1E3` becomes `1e+3`) and rejects invalid UTF-8, where KrakenD keeps
/// the literal and replaces the bytes.
pub(crate) fn decode_first(body: &[u8]) -> Result<Value, JsonError> {
    // Validating the whole body once (fast) lets each string run skip its own validation.
    let text = std::str::from_utf8(body).ok();
    let mut p = Parser { b: body, text, i: 0 };
    p.ws();
    if p.i >= p.b.len() {
        return Err(JsonError::Eof);
    }
    p.value(0)
}

/// Decodes `body` as one JSON value, as Go's `json.Unmarshal` does: as [`decode_first`], but
/// anything but whitespace after the value is an error.
pub(crate) fn decode_whole(body: &[u8]) -> Result<Value, JsonError> {
    let text = std::str::from_utf8(body).ok();
    let mut p = Parser { b: body, text, i: 0 };
    p.ws();
    if p.i >= p.b.len() {
        return Err(JsonError::Eof);
    }
    let value = p.value(0)?;
    p.ws();
    match p.b.get(p.i) {
        None => Ok(value),
        Some(&byte) => Err(JsonError::InvalidCharacter { byte, context: "after top-level value" }),
    }
}

/// Why a body is not JSON, in the words of Go's `encoding/json` (`Display` gives them). Built
/// from the byte and a static context, so a refused body costs no formatting until the text
/// is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JsonError {
    /// Nothing but whitespace.
    #[error("EOF")]
    Eof,
    /// The body ends inside a value.
    #[error("unexpected EOF")]
    UnexpectedEof,
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("exceeded max depth of {MAX_DEPTH}")]
    TooDeep,
    /// A byte that cannot come where it is (`context` as Go words it: "after object key").
    #[error("invalid character {} {context}", Shown(*.byte))]
    InvalidCharacter { byte: u8, context: &'static str },
}

/// A byte as the error shows it, quoted: `'a'`, or `'\x01'` for a byte that is not printable ASCII.
struct Shown(u8);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.0;
        if c.is_ascii_graphic() || c == b' ' { write!(f, "'{}'", c as char) } else { write!(f, "'\\x{c:02x}'") }
    }
}

struct Parser<'a> {
    b: &'a [u8],
    /// The body as text when it is valid UTF-8 (the common case).
    text: Option<&'a str>,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        self.i = skip_ws(self.b, self.i);
    }

    fn unexpected(&self, context: &'static str) -> JsonError {
        match self.b.get(self.i) {
            None => JsonError::UnexpectedEof,
            Some(&byte) => JsonError::InvalidCharacter { byte, context },
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, JsonError> {
        for &expected in word {
            if self.b.get(self.i) != Some(&expected) {
                return Err(self.unexpected("in literal"));
            }
            self.i += 1;
        }
        Ok(v)
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.i += 1;
        // Members are collected and the map is built once at the end: `BTreeMap::from_iter`
        // sorts (a no-op pass for the already sorted keys most encoders write) and bulk-builds,
        // far cheaper than one `insert` per key. Duplicates keep the last value, as Go does.
        let mut members: Vec<(String, Value)> = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Value::Object(Object::new()));
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return Err(self.unexpected("looking for beginning of object key string"));
            }
            let key = self.string()?;
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return Err(self.unexpected("after object key"));
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth + 1)?;
            members.push((key, v));
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(members.into_iter().collect()));
                }
                _ => return Err(self.unexpected("after object key:value pair")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.unexpected("after array element")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        match number_end(self.b, start) {
            Ok(end) => self.i = end,
            Err((at, context)) => {
                self.i = at;
                return Err(self.unexpected(context));
            }
        }
        // The bytes are ASCII digits and signs checked by `number_end`.
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default().to_owned();
        Ok(Value::Number(serde_json::Number::from_string_unchecked(text)))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1;
        // Fast path: a string without escapes (most of them) is one exact-size copy.
        let run_start = self.i;
        self.i = skip_string_run(self.b, self.i);
        if self.b.get(self.i) == Some(&b'"')
            && let Some(valid) = self.text.and_then(|t| t.get(run_start..self.i))
        {
            self.i += 1;
            return Ok(valid.to_owned());
        }
        self.i = run_start;
        let mut out = String::new();
        loop {
            let run_start = self.i;
            self.i = skip_string_run(self.b, self.i);
            // Runs end at ASCII bytes, so they are char boundaries of valid text.
            match self.text.and_then(|t| t.get(run_start..self.i)) {
                Some(valid) => out.push_str(valid),
                None => push_lossy_like_go(&mut out, &self.b[run_start..self.i]),
            }
            match self.b.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = *self.b.get(self.i).ok_or(JsonError::UnexpectedEof)?;
                    self.i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let first = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&first)
                                && self.b.get(self.i) == Some(&b'\\')
                                && self.b.get(self.i + 1) == Some(&b'u')
                            {
                                let save = self.i;
                                self.i += 2;
                                let second = self.hex4()?;
                                if (0xDC00..0xE000).contains(&second) {
                                    char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
                                } else {
                                    self.i = save;
                                    None
                                }
                            } else {
                                char::from_u32(first)
                            };
                            out.push(ch.unwrap_or('\u{FFFD}'));
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.unexpected("in string escape code"));
                        }
                    }
                }
                None => return Err(JsonError::UnexpectedEof),
                Some(_) => return Err(self.unexpected("in string literal")),
            }
        }
    }

    /// Exactly four hex digits (`u32::from_str_radix` would also take a sign: `\\u+de0`).
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0;
        for _ in 0..4 {
            let Some(digit) = self.b.get(self.i).and_then(|&c| char::from(c).to_digit(16)) else {
                return Err(self.unexpected("in \\u hexadecimal character escape"));
            };
            v = v * 16 + digit;
            self.i += 1;
        }
        Ok(v)
    }
}

/// The first index from `i` that is not JSON whitespace.
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end of the number literal starting at `b[i]`, or where it goes wrong and Go's words for it.
#[inline]
pub(crate) fn number_end(b: &[u8], mut i: usize) -> Result<usize, (usize, &'static str)> {
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return Err((i, "in numeric literal")),
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return Err((i, "after decimal point in numeric literal"));
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return Err((i, "in exponent of numeric literal"));
        }
    }
    Ok(i)
}

pub(crate) const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Marks (high bit of its byte) the zero bytes of `x`; the lowest mark is exact (carries only
/// cause false marks above a true one), so `trailing_zeros() / 8` is the first zero byte.
#[inline(always)]
pub(crate) fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LOW) & !x & HIGH
}

/// The first index from `i` whose byte `marks` flags (the high bit of its byte in the word read
/// little-endian) or, for the last few bytes, `stops` (or `b.len()`): the loop of every
/// eight-bytes-at-a-time (SWAR) scanner here and in `codec::canonical`.
#[inline(always)]
pub(crate) fn scan_words(b: &[u8], mut i: usize, marks: impl Fn(u64) -> u64, stops: impl Fn(u8) -> bool) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
        let m = marks(x);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if stops(c) {
            break;
        }
        i += 1;
    }
    i
}

/// The first index from `i` holding `"`, `\` or a control character (or `b.len()`).
///
/// Hand-written eight bytes at a time (SWAR): `memchr` finds at most three exact bytes, not a
/// range, and strings are the bulk of every body this gateway decodes.
#[inline]
pub(crate) fn skip_string_run(b: &[u8], i: usize) -> usize {
    scan_words(
        b,
        i,
        // Bytes < 0x20: `x - 0x20..` borrows into the high bit; bytes >= 0x80 are masked by `!x`.
        |x| {
            (x.wrapping_sub(0x20 * LOW) & !x & HIGH)
                | zero_bytes(x ^ (b'"' as u64 * LOW))
                | zero_bytes(x ^ (b'\\' as u64 * LOW))
        },
        |c| c == b'"' || c == b'\\' || c < 0x20,
    )
}

/// Appends bytes as UTF-8, each invalid byte replaced by U+FFFD (Go's per-byte rule).
fn push_lossy_like_go(out: &mut String, mut bytes: &[u8]) {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // The prefix was just validated.
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{FFFD}');
                bytes = &rest[1..];
            }
        }
    }
}

/// What Go's `encoding/json` escapes in a string, by byte: 0 = copy, 1 = short escape
/// (`\"`, `\\`, `\n`, `\r`, `\t`), 2 = `\u00XX` (other control characters and, for HTML
/// safety, `<`, `>`, `&`). U+2028 and U+2029 (starting with 0xE2) are checked separately.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = 2;
        c += 1;
    }
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t[b'\n' as usize] = 1;
    t[b'\r' as usize] = 1;
    t[b'\t' as usize] = 1;
    t[b'<' as usize] = 2;
    t[b'>' as usize] = 2;
    t[b'&' as usize] = 2;
    t[0xE2] = 3;
    t
};

/// Marks (high bit of its byte, the lowest mark exact) the bytes of the little-endian word `x`
/// that may need escaping (see [`ESCAPE`]) or are not ASCII, and three more that need not
/// ([`FALSE_MARKS`]).
///
/// Eleven operations: bytes from 0x80 have their own bit 7 set; `x - 0x20` borrows into bit 7 of
/// bytes below 0x20; `x & !0x04 == 0x22` holds for `"` and `&` only, `x & !0x62 == 0x1C` for `<`,
/// `>`, `\` and `^`, `|`, `~` (and two control bytes), each found as a byte that is zero after
/// the `^` and borrows when one is taken from it. The exact sets (`<` and `>` apart from `\`)
/// took fourteen; the string scans run this on every eight bytes of every string.
#[inline(always)]
pub(crate) fn plain_output_marks(x: u64) -> u64 {
    let quote_amp = ((x & !(0x04 * LOW)) ^ (0x22 * LOW)).wrapping_sub(LOW);
    let html_backslash = ((x & !(0x62 * LOW)) ^ (0x1C * LOW)).wrapping_sub(LOW);
    (x | x.wrapping_sub(0x20 * LOW) | quote_amp | html_backslash) & HIGH
}

/// Bytes [`plain_output_marks`] marks though they never need escaping.
pub(crate) const FALSE_MARKS: [u8; 3] = [b'^', b'|', b'~'];

/// The first index from `i` whose byte may need escaping (see [`ESCAPE`]), is not ASCII or is one
/// of [`FALSE_MARKS`] (or `b.len()`); eight bytes at a time, as [`skip_string_run`].
#[inline]
pub(crate) fn skip_plain_output(b: &[u8], i: usize) -> usize {
    scan_words(b, i, plain_output_marks, |c| c >= 0x80 || ESCAPE[c as usize] != 0 || FALSE_MARKS.contains(&c))
}

/// Where the string content starting at `b[i]` ends (`Ok`, the index of its closing quote)
/// when no byte before that quote needs a look (see [`skip_plain_output`]); otherwise `Err` with
/// the index of the first such byte (or `b.len()`). The quote is tested by one comparison rather
/// than by matching the byte found against every case (a jump table): measured cheaper on the
/// shape-and-merge bench (BENCHMARKS.md).
#[inline(always)]
pub(crate) fn plain_string_end(b: &[u8], i: usize) -> Result<usize, usize> {
    let at = skip_plain_output(b, i);
    match b.get(at) {
        Some(b'"') => Ok(at),
        _ => Err(at),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes a JSON string the way Go does (HTML-safe, `\u2028`/`\u2029` escaped). Hand-written:
/// serde_json's formatter cannot be told to escape `<`, `>` and `&`, and a direct writer is
/// several times faster than going through its `Formatter` callbacks.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    loop {
        i = skip_plain_output(bytes, i);
        let Some(&b) = bytes.get(i) else { break };
        match ESCAPE[b as usize] {
            0 => {
                i += 1;
                continue;
            }
            3 => {
                if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) {
                    out.extend_from_slice(&bytes[start..i]);
                    out.extend_from_slice(if bytes[i + 2] == 0xA8 { b"\\u2028" } else { b"\\u2029" });
                    i += 3;
                    start = i;
                } else {
                    i += 1;
                }
                continue;
            }
            kind => {
                out.extend_from_slice(&bytes[start..i]);
                if kind == 1 {
                    out.extend_from_slice(match b {
                        b'"' => b"\\\"",
                        b'\\' => b"\\\\",
                        b'\n' => b"\\n",
                        b'\r' => b"\\r",
                        _ => b"\\t",
                    });
                } else {
                    out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xF) as usize]]);
                }
                i += 1;
                start = i;
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Numbers keep their literal text (serde_json's `arbitrary_precision`).
        Value::Number(n) => out.extend_from_slice(n.as_str().as_bytes()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => encode_object_into(out, map, &[]),
    }
}

/// Decodes the JSON string whose opening quote is at `b[i]` (`text` is `b` when valid UTF-8);
/// returns it and the index after its closing quote.
pub(crate) fn decode_string_at(b: &[u8], text: Option<&str>, i: usize) -> Result<(String, usize), JsonError> {
    let mut p = Parser { b, text, i };
    let s = p.string()?;
    Ok((s, p.i))
}

/// Writes an object as Go would, with the members named in `struct_ordered` (top-level keys
/// whose value is a KrakenD error-detail struct) written in struct order rather than sorted.
pub(crate) fn encode_object_into(out: &mut Vec<u8>, map: &Object, struct_ordered: &[String]) {
    out.push(b'{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        match v {
            Value::Object(detail) if struct_ordered.contains(k) => write_detail(out, detail),
            _ => write_value(out, v),
        }
    }
    out.push(b'}');
}

/// A `return_error_details` struct, in the struct's field order.
fn write_detail(out: &mut Vec<u8>, detail: &Object) {
    out.push(b'{');
    let mut first = true;
    for field in ["http_status_code", "http_body", "http_body_encoding"] {
        if let Some(fv) = detail.get(field) {
            if !first {
                out.push(b',');
            }
            first = false;
            write_str(out, field);
            out.push(b':');
            write_value(out, fv);
        }
    }
    out.push(b'}');
}

pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value);
    out
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
        let v = decode_first(br#"{"big":12345678901234567890,"e":1e3,"f":1.50,"g":-2E-7}"#).unwrap();
        assert_eq!(encode(&v), br#"{"big":12345678901234567890,"e":1e3,"f":1.50,"g":-2E-7}"#);
    }

    #[test]
    fn malformed_numbers_and_strings_are_errors() {
        for bad in [
            &b"{\"a\":01}"[..],
            b"{\"a\":1.}",
            b"{\"a\":-}",
            b"{\"a\":1e}",
            b"{\"a\":\"x\ny\"}",
            b"{\"a\" 1}",
            b"[1,]",
            b"{\"a\":\"\\q\"}",
        ] {
            assert!(decode_first(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_unicode_escape_takes_exactly_four_hex_digits_like_go() {
        for bad in [&br#""\u+de0""#[..], br#""\u-001""#, br#""\ud83d\u+e00""#, br#""\u00 1""#] {
            assert!(decode_first(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            decode_first(br#""\u+de0""#).unwrap_err().to_string(),
            "invalid character '+' in \\u hexadecimal character escape"
        );
        assert_eq!(decode_first(br#""\u00e"#).unwrap_err(), JsonError::UnexpectedEof);
        assert_eq!(decode_first(br#""\u00E9\u00e9""#).unwrap(), "\u{e9}\u{e9}");
    }

    #[test]
    fn escapes_and_surrogate_pairs_decode() {
        let v = decode_first(br#"["\u00e9\ud83d\ude00\n\/", "\ud800x"]"#).unwrap();
        assert_eq!(v[0], "\u{e9}\u{1F600}\n/");
        assert_eq!(v[1], "\u{FFFD}x");
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused() {
        let deep = "[".repeat(MAX_DEPTH + 10);
        assert_eq!(decode_first(deep.as_bytes()).unwrap_err().to_string(), "exceeded max depth of 512");
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(decode_first(ok.as_bytes()).is_ok());
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let v = decode_first(b"{\"a\":\"x\xff\xfey\"}").unwrap();
        assert_eq!(v["a"].as_str().unwrap().chars().filter(|c| *c == '\u{FFFD}').count(), 2);
    }

    #[test]
    fn trailing_bytes_after_the_first_value_are_ignored() {
        assert!(decode_first(b"{\"a\":1} garbage").is_ok());
        assert_eq!(decode_first(b"").unwrap_err().to_string(), "EOF");
        assert_eq!(
            decode_first(b"supu").unwrap_err().to_string(),
            "invalid character 's' looking for beginning of value"
        );
        assert_eq!(decode_first(b"{\"a\":").unwrap_err().to_string(), "unexpected EOF");
    }

    #[test]
    fn the_error_type_does_not_widen_the_decoders_results() {
        use std::mem::size_of;
        assert!(size_of::<JsonError>() <= size_of::<String>());
        assert_eq!(size_of::<Result<Value, JsonError>>(), size_of::<Value>());
    }

    #[test]
    fn an_unprintable_byte_is_shown_as_go_quotes_it() {
        assert_eq!(
            decode_first(b"\x01").unwrap_err().to_string(),
            "invalid character '\\x01' looking for beginning of value"
        );
        assert_eq!(decode_first(b"[1 2]").unwrap_err().to_string(), "invalid character '2' after array element");
        assert_eq!(decode_first(b"[1 ").unwrap_err().to_string(), "unexpected EOF");
    }

    #[test]
    fn control_characters_and_line_separators_use_go_escapes() {
        let v = Value::String("\u{8}\u{c}\u{1}\u{2028}\n".to_owned());
        assert_eq!(encode(&v), br#""\u0008\u000c\u0001\u2028\n""#);
    }

    #[test]
    fn word_at_a_time_scans_stop_at_the_first_special_byte() {
        // Every byte value at every position of a 0..=20-byte plain run, followed by other
        // special bytes (which the word scans must not report first).
        let plain = b"abcdefghijklmnopqrstuvwxyz0123";
        for special in 0u8..=255 {
            let in_string = special == b'"' || special == b'\\' || special < 0x20;
            let in_output = special >= 0x80 || ESCAPE[special as usize] != 0 || FALSE_MARKS.contains(&special);
            for len in 0..=20 {
                let mut run = plain[..len].to_vec();
                run.extend_from_slice(&[special, 0x01, b'"', b'<', 0xE2]);
                let string_stop = if in_string { len } else { len + 1 };
                let output_stop = if in_output { len } else { len + 1 };
                assert_eq!(skip_string_run(&run, 0), string_stop, "{special:#x} at {len}");
                assert_eq!(skip_plain_output(&run, 0), output_stop, "{special:#x} at {len}");
                assert_eq!(skip_string_run(&plain[..len], 0), len);
                assert_eq!(skip_plain_output(&plain[..len], 0), len);
            }
        }
    }

    #[test]
    fn strings_with_html_characters_and_escapes_round_trip_like_go() {
        let body = "[\"plain text of some length\", \"tab\\there\", \"a&b<c>d\\u2028e\u{2029}f\u{e9}\"]";
        let v = decode_first(body.as_bytes()).unwrap();
        assert_eq!(v[1], "tab\there");
        assert_eq!(
            String::from_utf8(encode(&v)).unwrap(),
            r#"["plain text of some length","tab\there","a\u0026b\u003cc\u003ed\u2028e\u2029fé"]"#
        );
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_like_go() {
        let v = decode_first(br#"{"b":1,"a":2,"b":3,"c":{"y":1,"x":2}}"#).unwrap();
        assert_eq!(encode(&v), br#"{"a":2,"b":3,"c":{"x":2,"y":1}}"#);
    }

    #[test]
    fn error_details_keep_struct_order() {
        let v = serde_json::json!({"error_b": {"http_status_code": 404, "http_body": "x", "http_body_encoding": "t"}});
        let mut out = Vec::new();
        encode_object_into(&mut out, v.as_object().unwrap(), &["error_b".to_owned()]);
        assert_eq!(out, br#"{"error_b":{"http_status_code":404,"http_body":"x","http_body_encoding":"t"}}"#);
    }
}
