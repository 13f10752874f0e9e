//! Backend objects kept as bytes already in Go's canonical form (what `json::encode` would
//! write for them), for backends whose answer is merged without reshaping: decoding into a tree
//! and encoding it again costs about 60 instructions per byte, transcoding about 10.
//!
//! [`Data`] is what a backend part carries: a [`RawObject`] (top-level members, each value
//! canonical JSON bytes) or a decoded tree, to which any step that needs one converts it.

use crate::json::{self, MAX_DEPTH, Object};
use bytes::Bytes;
use serde_json::Value;

/// A part's data: canonical bytes per top-level member, or a tree.
#[derive(Debug, Clone)]
pub(crate) enum Data {
    Raw(RawObject),
    Tree(Object),
}

impl Default for Data {
    fn default() -> Self {
        Data::Raw(RawObject::default())
    }
}

impl Data {
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Data::Raw(r) => r.members.is_empty(),
            Data::Tree(o) => o.is_empty(),
        }
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        match self {
            Data::Raw(r) => r.position(key).is_ok(),
            Data::Tree(o) => o.contains_key(key),
        }
    }

    /// The decoded tree (a canonical value always decodes).
    pub(crate) fn into_tree(self) -> Object {
        match self {
            Data::Tree(o) => o,
            Data::Raw(r) => {
                r.members.into_iter().map(|(k, v)| (k, json::decode_first(&v).unwrap_or(Value::Null))).collect()
            }
        }
    }

    /// `self` then `later`, a key of `later` replacing the same key of `self` (lura's merge).
    pub(crate) fn merge(self, later: Data) -> Data {
        match (self, later) {
            (Data::Raw(mut a), Data::Raw(b)) => {
                for (k, v) in b.members {
                    match a.position(&k) {
                        Ok(i) => a.members[i].1 = v,
                        Err(i) => a.members.insert(i, (k, v)),
                    }
                }
                Data::Raw(a)
            }
            (a, b) => {
                let mut a = a.into_tree();
                a.extend(b.into_tree());
                Data::Tree(a)
            }
        }
    }

    /// Writes the object as Go would.
    pub(crate) fn write(&self, out: &mut Vec<u8>, struct_ordered: &[String]) {
        match self {
            Data::Raw(r) => r.write(out),
            Data::Tree(o) => json::encode_object_into(out, o, struct_ordered),
        }
    }
}

/// A JSON object as its top-level members, sorted by key and unique, each value canonical JSON.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawObject {
    members: Vec<(String, Bytes)>,
}

impl RawObject {
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.members.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// Transcodes a backend body whose first value is an object; `Ok(None)` for `null`. Any
    /// other value or malformed input is an `Err` (the caller then decodes it the usual way,
    /// which words the error as Go does).
    pub(crate) fn from_body(body: &[u8]) -> Result<Option<RawObject>, ()> {
        let mut t = Transcoder::new(body);
        t.ws();
        match t.b.get(t.i) {
            Some(b'n') => {
                t.literal(b"null")?;
                return Ok(None);
            }
            Some(b'{') => {}
            _ => return Err(()),
        }
        let mut out = Vec::with_capacity(body.len() + body.len() / 8);
        t.object(&mut out, 0)?;
        // The top level's members, in their final (sorted) order, from the member records.
        let out = Bytes::from(out);
        let members = t.top.iter().map(|m| (t.key_text(m.key).to_owned(), out.slice(m.value_start..m.end))).collect();
        Ok(Some(RawObject { members }))
    }

    /// `{group: self}`.
    pub(crate) fn grouped(self, group: &str) -> RawObject {
        let mut out = Vec::with_capacity(2 + self.members.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>());
        self.write(&mut out);
        RawObject { members: vec![(group.to_owned(), Bytes::from(out))] }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::write_str(out, k);
            out.push(b':');
            out.extend_from_slice(v);
        }
        out.push(b'}');
    }
}

/// Where a decoded key lives: in the input (no escapes, valid UTF-8) or in the scratch buffer.
#[derive(Debug, Clone, Copy)]
enum Key {
    Input(usize, usize),
    Scratch(usize, usize),
}

/// One member written to the output: `"key":value` spans `start..end`.
#[derive(Debug, Clone, Copy)]
struct Member {
    key: Key,
    start: usize,
    value_start: usize,
    end: usize,
}

/// A JSON transcoder to Go's canonical form: the same validation and decoding rules as
/// `json::decode_first` (number literals kept, invalid UTF-8 replaced, trailing bytes ignored),
/// keys sorted with the last duplicate winning, Go's escaping; no tree is built.
struct Transcoder<'a> {
    b: &'a [u8],
    text: Option<&'a str>,
    i: usize,
    /// Decoded keys that could not be borrowed from the input.
    scratch: String,
    /// Member records of the objects being written (a stack across nesting levels).
    stack: Vec<Member>,
    /// The top-level object's members after sorting.
    top: Vec<Member>,
    /// A reusable buffer for decoding escaped strings and for reordering members.
    tmp: String,
    reorder: Vec<u8>,
    /// Reusable buffers of `sort_members` (objects are sorted one at a time, innermost first).
    order: Vec<Member>,
    kept: Vec<Member>,
}

impl<'a> Transcoder<'a> {
    fn new(b: &'a [u8]) -> Self {
        Transcoder {
            b,
            text: std::str::from_utf8(b).ok(),
            i: 0,
            scratch: String::new(),
            stack: Vec::new(),
            top: Vec::new(),
            tmp: String::new(),
            reorder: Vec::new(),
            order: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// A range of the input as text (input ranges are only recorded for valid UTF-8 bodies).
    fn input_str(&self, start: usize, end: usize) -> &str {
        self.text.and_then(|t| t.get(start..end)).unwrap_or_default()
    }

    fn key_text(&self, key: Key) -> &str {
        match key {
            Key::Input(s, e) => self.input_str(s, e),
            Key::Scratch(s, e) => &self.scratch[s..e],
        }
    }

    fn key_bytes(&self, key: Key) -> &[u8] {
        match key {
            Key::Input(s, e) => &self.b[s..e],
            Key::Scratch(s, e) => &self.scratch.as_bytes()[s..e],
        }
    }

    fn ws(&mut self) {
        self.i = json::skip_ws(self.b, self.i);
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ()> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(())
        }
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), ()> {
        if depth > MAX_DEPTH {
            return Err(());
        }
        match self.b.get(self.i) {
            Some(b'{') => self.object(out, depth),
            Some(b'[') => self.array(out, depth),
            Some(b'"') => {
                let s = self.string()?;
                self.write_string(out, &s);
                Ok(())
            }
            Some(b't') => self.literal(b"true").map(|()| out.extend_from_slice(b"true")),
            Some(b'f') => self.literal(b"false").map(|()| out.extend_from_slice(b"false")),
            Some(b'n') => self.literal(b"null").map(|()| out.extend_from_slice(b"null")),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            _ => Err(()),
        }
    }

    fn array(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), ()> {
        self.i += 1;
        out.push(b'[');
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            out.push(b']');
            return Ok(());
        }
        loop {
            self.ws();
            self.value(out, depth + 1)?;
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    out.push(b',');
                }
                Some(b']') => {
                    self.i += 1;
                    out.push(b']');
                    return Ok(());
                }
                _ => return Err(()),
            }
        }
    }

    fn object(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), ()> {
        self.i += 1;
        out.push(b'{');
        let base = self.stack.len();
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            out.push(b'}');
            if depth == 0 {
                self.top.clear();
            }
            return Ok(());
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return Err(());
            }
            if self.stack.len() > base {
                out.push(b',');
            }
            let start = out.len();
            let s = self.string()?;
            self.write_string(out, &s);
            let key = s.into_key(self);
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return Err(());
            }
            self.i += 1;
            out.push(b':');
            self.ws();
            let value_start = out.len();
            self.value(out, depth + 1)?;
            self.stack.push(Member { key, start, value_start, end: out.len() });
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(()),
            }
        }
        self.sort_members(out, base, depth == 0);
        out.push(b'}');
        Ok(())
    }

    /// Reorders the members `stack[base..]` (already written to `out`) by key, the last of
    /// equal keys winning; records the top level's final layout when `top`.
    fn sort_members(&mut self, out: &mut Vec<u8>, base: usize, top: bool) {
        let members = &self.stack[base..];
        let sorted = members.windows(2).all(|w| self.key_bytes(w[0].key) < self.key_bytes(w[1].key));
        if sorted {
            if top {
                self.top = members.to_vec();
            }
            self.stack.truncate(base);
            return;
        }
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend_from_slice(members);
        // Stable sorts: among equal keys the input order stays, so the last one wins. Small
        // objects (most) by insertion, cheaper than `sort_by`'s set-up; large ones by `sort_by`.
        if order.len() <= 24 {
            for i in 1..order.len() {
                let mut j = i;
                while j > 0 && self.key_bytes(order[j - 1].key) > self.key_bytes(order[j].key) {
                    order.swap(j - 1, j);
                    j -= 1;
                }
            }
        } else {
            order.sort_by(|a, b| self.key_bytes(a.key).cmp(self.key_bytes(b.key)));
        }
        let mut kept = std::mem::take(&mut self.kept);
        kept.clear();
        for &m in &order {
            match kept.last_mut() {
                Some(last) if self.key_bytes(last.key) == self.key_bytes(m.key) => *last = m,
                _ => kept.push(m),
            }
        }
        self.order = order;
        let region = members[0].start;
        self.reorder.clear();
        self.reorder.extend_from_slice(&out[region..]);
        out.truncate(region);
        for (i, m) in kept.iter_mut().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let new_start = out.len();
            out.extend_from_slice(&self.reorder[m.start - region..m.end - region]);
            let shift = |p: usize| p - m.start + new_start;
            *m = Member { key: m.key, start: new_start, value_start: shift(m.value_start), end: shift(m.end) };
        }
        if top {
            self.top.clone_from(&kept);
        }
        self.kept = kept;
        self.stack.truncate(base);
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Result<(), ()> {
        let start = self.i;
        self.i = json::number_end(self.b, start).map_err(|_| ())?;
        out.extend_from_slice(&self.b[start..self.i]);
        Ok(())
    }

    /// Writes a string just read: an input string that Go would write as it is (no escapes
    /// in, none needed out, ASCII) is copied with its quotes in one go.
    fn write_string(&self, out: &mut Vec<u8>, s: &Str) {
        if let Str::Input(start, end) = *s {
            let run = &self.b[start..end];
            if json::skip_plain_output(run, 0) == run.len() {
                out.extend_from_slice(&self.b[start - 1..=end]);
                return;
            }
        }
        json::write_str(out, s.text(self));
    }

    /// Reads a string: borrowed from the input when it has no escapes (and the body is valid
    /// UTF-8), else decoded into `tmp` with `json`'s rules.
    fn string(&mut self) -> Result<Str, ()> {
        let start = self.i + 1;
        let end = json::skip_string_run(self.b, start);
        if self.b.get(end) == Some(&b'"') && self.text.is_some() {
            self.i = end + 1;
            return Ok(Str::Input(start, end));
        }
        let (decoded, next) = json::decode_string_at(self.b, self.text, self.i).map_err(|_| ())?;
        self.i = next;
        self.tmp = decoded;
        Ok(Str::Tmp)
    }
}

/// A string just read: a range of the input, or the transcoder's `tmp`.
enum Str {
    Input(usize, usize),
    Tmp,
}

impl Str {
    fn text<'t>(&self, t: &'t Transcoder<'_>) -> &'t str {
        match *self {
            Str::Input(s, e) => t.input_str(s, e),
            Str::Tmp => &t.tmp,
        }
    }

    fn into_key(self, t: &mut Transcoder<'_>) -> Key {
        match self {
            Str::Input(s, e) => Key::Input(s, e),
            Str::Tmp => {
                let s = t.scratch.len();
                t.scratch.push_str(&t.tmp);
                Key::Scratch(s, t.scratch.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the tree path writes for a body (the reference).
    fn via_tree(body: &[u8]) -> Option<Vec<u8>> {
        match json::decode_first(body).ok()? {
            Value::Object(o) => {
                let mut out = Vec::new();
                json::encode_object_into(&mut out, &o, &[]);
                Some(out)
            }
            _ => None,
        }
    }

    fn via_raw(body: &[u8]) -> Option<Vec<u8>> {
        let raw = RawObject::from_body(body).ok()??;
        let mut out = Vec::new();
        raw.write(&mut out);
        Some(out)
    }

    /// A small deterministic generator of JSON texts with the awkward parts: unsorted and
    /// duplicate keys, escapes, HTML characters, U+2028, non-ASCII and invalid UTF-8, every
    /// number form, whitespace, nesting.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<'x>(&mut self, items: &[&'x [u8]]) -> &'x [u8] {
            items[(self.next() % items.len() as u64) as usize]
        }

        fn ws(&mut self, out: &mut Vec<u8>) {
            if self.next().is_multiple_of(4) {
                out.extend_from_slice(self.pick(&[b" ", b"\n  ", b"\t", b"\r\n"]));
            }
        }

        fn string(&mut self, out: &mut Vec<u8>) {
            out.push(b'"');
            for _ in 0..self.next() % 4 {
                out.extend_from_slice(self.pick(&[
                    b"id",
                    b"name",
                    b"a",
                    b"b",
                    b"plain text long enough for words",
                    b"<b>&amp;</b>",
                    b"\\\"q\\\"",
                    b"\\\\",
                    b"\\n\\t\\/",
                    b"\\u00e9\\u003c",
                    b"\\ud83d\\ude00",
                    b"\\ud800x",
                    "\u{e9}\u{2028}\u{2029}\u{1F600}".as_bytes(),
                    b"\xff\xfe",
                    b"\xe2\x80",
                ]));
            }
            out.push(b'"');
        }

        fn value(&mut self, out: &mut Vec<u8>, depth: usize) {
            let kind = if depth > 3 { 2 + self.next() % 4 } else { self.next() % 6 };
            match kind {
                0 => self.object(out, depth + 1),
                1 => {
                    out.push(b'[');
                    for i in 0..self.next() % 4 {
                        if i > 0 {
                            out.push(b',');
                        }
                        self.ws(out);
                        self.value(out, depth + 1);
                        self.ws(out);
                    }
                    out.push(b']');
                }
                2 => self.string(out),
                3 => out.extend_from_slice(self.pick(&[
                    b"0",
                    b"-1",
                    b"12345678901234567890",
                    b"1.50",
                    b"1e3",
                    b"-2E-7",
                    b"0.0e+0",
                ])),
                _ => out.extend_from_slice(self.pick(&[b"true", b"false", b"null"])),
            }
        }

        fn object(&mut self, out: &mut Vec<u8>, depth: usize) {
            out.push(b'{');
            let members = if self.next().is_multiple_of(16) { 40 } else { self.next() % 6 };
            for i in 0..members {
                if i > 0 {
                    out.push(b',');
                }
                self.ws(out);
                self.string(out);
                self.ws(out);
                out.push(b':');
                self.ws(out);
                self.value(out, depth);
            }
            self.ws(out);
            out.push(b'}');
        }
    }

    #[test]
    fn transcoding_writes_what_decoding_and_encoding_write() {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        let mut checked = 0;
        for _ in 0..5000 {
            let mut body = Vec::new();
            g.ws(&mut body);
            g.object(&mut body, 0);
            if g.next().is_multiple_of(5) {
                body.extend_from_slice(b" trailing bytes are ignored");
            }
            let want = via_tree(&body);
            assert_eq!(via_raw(&body), want, "{}", String::from_utf8_lossy(&body));
            checked += usize::from(want.is_some());
        }
        assert!(checked > 4000, "only {checked} bodies decoded");
    }

    #[test]
    fn malformed_bodies_and_non_objects_are_left_to_the_tree_decoder() {
        for bad in [
            &b""[..],
            b"[1]",
            b"\"s\"",
            b"{\"a\":01}",
            b"{\"a\":1.}",
            b"{\"a\" 1}",
            b"{\"a\":[1,]}",
            b"{\"a\":\"\\q\"}",
            b"{\"a\":\"x\ny\"}",
            b"{\"a\":1",
            b"{\"a\":tru}",
        ] {
            assert!(RawObject::from_body(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = format!("{{\"a\":{}", "[".repeat(MAX_DEPTH + 10));
        assert!(RawObject::from_body(deep.as_bytes()).is_err());
        assert!(RawObject::from_body(b" null ").unwrap().is_none());
    }

    #[test]
    fn merging_replaces_earlier_keys_and_grouping_wraps() {
        let a = Data::Raw(RawObject::from_body(br#"{"b":1,"a":{"y":2,"x":1}}"#).unwrap().unwrap());
        let b = Data::Raw(RawObject::from_body(br#"{"c":3,"b":"late"}"#).unwrap().unwrap());
        let merged = a.merge(b);
        let mut out = Vec::new();
        merged.write(&mut out, &[]);
        assert_eq!(out, br#"{"a":{"x":1,"y":2},"b":"late","c":3}"#);
        assert!(merged.contains_key("c") && !merged.contains_key("d"));

        let Data::Raw(raw) = merged.clone() else { unreachable!() };
        let mut out = Vec::new();
        Data::Raw(raw.grouped("g")).write(&mut out, &[]);
        assert_eq!(out, br#"{"g":{"a":{"x":1,"y":2},"b":"late","c":3}}"#);

        // Mixed with a tree: the result is the same as the trees' merge.
        let tree = Data::Tree(serde_json::from_str(r#"{"a":"tree","z":null}"#).unwrap());
        let mut out = Vec::new();
        merged.merge(tree).write(&mut out, &[]);
        assert_eq!(out, br#"{"a":"tree","b":"late","c":3,"z":null}"#);
    }
}
