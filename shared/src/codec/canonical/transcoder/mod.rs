//! Backend objects kept as bytes already in Go's canonical form (what `json::encode` would
//! write for them), for every JSON object backend whose shaping needs no tree (all but a
//! flatmap filter): `target`, `allow`/`deny` and `mapping` work on members, `group` wraps them.
//! Decoding a typical body into a tree and encoding it again costs about 65 instructions per
//! byte, transcoding it about half that (runs of input already in canonical form are copied in
//! one go, and a body wholly canonical is not copied at all: its members are slices of it).
//!
//! [`Data`] is what a backend part carries: a [`RawObject`] (top-level members, each value
//! canonical JSON bytes or, once shaping or grouping went into it, an object of members) or a
//! decoded tree, to which any step that needs one converts it.

use crate::json::{self, MAX_DEPTH, Object};
use bytes::Bytes;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};

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
            Data::Raw(r) => r.into_tree(),
        }
    }

    /// `self` then `later`, a key of `later` replacing the same key of `self` (lura's merge).
    pub(crate) fn merge(self, later: Data) -> Data {
        match (self, later) {
            (Data::Raw(mut a), Data::Raw(b)) => {
                for (k, v) in b.members {
                    a.insert(k, v);
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

    /// About how many bytes [`Data::write`] writes (exact for transcoded data).
    pub(crate) fn size_hint(&self) -> usize {
        match self {
            Data::Raw(r) => r.size(),
            Data::Tree(_) => 1024,
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

/// A JSON object as its top-level members, sorted by key and unique.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawObject {
    members: Vec<(String, RawValue)>,
}

/// A member's value: canonical JSON bytes, or an object split into members (by shaping, or
/// built by grouping), written out only when the answer is.
#[derive(Debug, Clone)]
pub(crate) enum RawValue {
    /// Canonical bytes, with the object's members when the transcoder kept them for shaping.
    Bytes(Bytes, Option<Box<RawObject>>),
    Object(RawObject),
}

impl RawValue {
    /// The value as an object of members, split in place from its bytes; `None` when the value
    /// is not an object.
    pub(crate) fn object_mut(&mut self) -> Option<&mut RawObject> {
        if let RawValue::Bytes(b, members) = self {
            let object = match members.take() {
                Some(members) => *members,
                None => RawObject::split(b)?,
            };
            *self = RawValue::Object(object);
        }
        match self {
            RawValue::Object(o) => Some(o),
            RawValue::Bytes(..) => None,
        }
    }

    pub(crate) fn into_object(mut self) -> Option<RawObject> {
        self.object_mut()?;
        match self {
            RawValue::Object(o) => Some(o),
            RawValue::Bytes(..) => None,
        }
    }

    fn size(&self) -> usize {
        match self {
            RawValue::Bytes(b, _) => b.len(),
            RawValue::Object(o) => o.size(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            RawValue::Bytes(b, _) => out.extend_from_slice(b),
            RawValue::Object(o) => o.write(out),
        }
    }

    fn into_value(self) -> Value {
        match self {
            // Canonical bytes always decode.
            RawValue::Bytes(b, _) => json::decode_first(&b).unwrap_or(Value::Null),
            RawValue::Object(o) => Value::Object(o.into_tree()),
        }
    }
}

impl RawObject {
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.members.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// Transcodes a backend body whose first value is an object; `Ok(None)` for `null`. Any
    /// other value or malformed input is an `Err` (the caller then decodes it the usual way,
    /// which words the error as Go does). The members of objects nested in objects (not in
    /// arrays) down to `split_depth` are kept too, for shaping to use without splitting again.
    pub(crate) fn from_body(body: &Bytes, split_depth: usize) -> Result<Option<RawObject>, ()> {
        Self::from_body_with(body, split_depth, false).0
    }

    /// [`RawObject::from_body`] for a backend whose last bodies `hint` remembers: after a body
    /// with an object out of key order, the next [`KeyOrderHint::BODIES`] are read recording
    /// every object from the start (a backend that sends keys unsorted mostly always does).
    pub(crate) fn from_body_hinted(
        body: &Bytes,
        split_depth: usize,
        hint: &KeyOrderHint,
    ) -> Result<Option<RawObject>, ()> {
        let left = hint.0.load(Ordering::Relaxed);
        if left > 0 {
            // Racing updates may lose a count; it is only a hint.
            hint.0.store(left - 1, Ordering::Relaxed);
        }
        let (result, unsorted) = Self::from_body_with(body, split_depth, left > 0);
        if unsorted && left == 0 {
            hint.0.store(KeyOrderHint::BODIES, Ordering::Relaxed);
        }
        result
    }

    /// The transcoding, and whether an object read without records was found out of order.
    fn from_body_with(body: &Bytes, split_depth: usize, record_all: bool) -> (Result<Option<RawObject>, ()>, bool) {
        let mut read_again = false;
        match Self::transcode(body, split_depth, record_all, &mut read_again) {
            Err(Restart::Unsorted) => (Self::transcode(body, split_depth, true, &mut read_again).map_err(drop), true),
            other => (other.map_err(drop), read_again),
        }
    }

    /// One pass of [`RawObject::from_body`]: unless `record_all`, objects nobody keeps are read
    /// without member records while their keys come in order. The first whose keys do not is
    /// read again with records, as is every object after it; should an object around it then
    /// turn out unsorted too, the pass stops and the body is read again recording every object.
    /// So each byte is read at most three times, most bodies once. `read_again` tells whether an
    /// object was read again.
    fn transcode(
        body: &Bytes,
        split_depth: usize,
        record_all: bool,
        read_again: &mut bool,
    ) -> Result<Option<RawObject>, Restart> {
        let mut t = Transcoder::new(body);
        t.split_depth = split_depth;
        t.record_all = record_all;
        let result = t.transcode();
        *read_again = t.read_again;
        result
    }

    /// `{group: self}`.
    pub(crate) fn grouped(self, group: &str) -> RawObject {
        RawObject { members: vec![(group.to_owned(), RawValue::Object(self))] }
    }

    /// The members of a canonical value this module wrote (a member's value, say) when it is an
    /// object; `None` for any other value. Values are slices of `value`, not copies.
    fn split(value: &Bytes) -> Option<RawObject> {
        let b = &value[..];
        if b.first() != Some(&b'{') {
            return None;
        }
        let mut members = Vec::new();
        let mut i = 1;
        while b.get(i) == Some(&b'"') {
            let key_end = canonical_string_end(b, i + 1);
            let raw_key = &b[i + 1..key_end - 1];
            let key = if raw_key.contains(&b'\\') {
                json::decode_string_at(b, None, i).map(|(k, _)| k).unwrap_or_default()
            } else {
                String::from_utf8_lossy(raw_key).into_owned()
            };
            // `key_end` is the `:`.
            let start = key_end + 1;
            let end = canonical_end(b, start);
            members.push((key, RawValue::Bytes(value.slice(start..end), None)));
            i = end + 1;
        }
        Some(RawObject { members })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut RawValue> {
        self.position(key).ok().map(|i| &mut self.members[i].1)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<RawValue> {
        self.position(key).ok().map(|i| self.members.remove(i).1)
    }

    /// Sets `key`, replacing any value it had.
    pub(crate) fn insert(&mut self, key: String, value: RawValue) {
        match self.position(&key) {
            Ok(i) => self.members[i].1 = value,
            Err(i) => self.members.insert(i, (key, value)),
        }
    }

    /// Keeps the members for which `keep` returns true (it may rewrite their value).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str, &mut RawValue) -> bool) {
        self.members.retain_mut(|(k, v)| keep(k, v));
    }

    fn into_tree(self) -> Object {
        self.members.into_iter().map(|(k, v)| (k, v.into_value())).collect()
    }

    /// The length of the written object, keys taken as plain (escapes add a little).
    fn size(&self) -> usize {
        2 + self.members.iter().map(|(k, v)| k.len() + 4 + v.size()).sum::<usize>()
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::write_str(out, k);
            out.push(b':');
            v.write(out);
        }
        out.push(b'}');
    }
}

/// The index after the closing quote of the canonical string whose content starts at `b[i]`.
fn canonical_string_end(b: &[u8], mut i: usize) -> usize {
    loop {
        // Canonical strings hold no raw control characters, so the run stops at `"` or `\`.
        i = json::skip_string_run(b, i);
        match b.get(i) {
            Some(b'\\') => i += 2,
            Some(_) => return i + 1,
            None => return b.len(),
        }
    }
}

/// The index after the canonical value (no whitespace, valid) that starts at `b[i]`.
fn canonical_end(b: &[u8], mut i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => canonical_string_end(b, i + 1),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            loop {
                i = next_structural(b, i);
                match b.get(i) {
                    Some(b'"') => i = canonical_string_end(b, i + 1),
                    Some(b'{' | b'[') => {
                        depth += 1;
                        i += 1;
                    }
                    Some(_) => {
                        depth -= 1;
                        i += 1;
                        if depth == 0 {
                            return i;
                        }
                    }
                    None => return b.len(),
                }
            }
        }
        _ => {
            while !matches!(b.get(i), Some(b',' | b'}' | b']') | None) {
                i += 1;
            }
            i
        }
    }
}

/// The first index from `i` holding `"`, `[`, `]`, `{` or `}` (or `b.len()`), eight bytes at a
/// time as `json::skip_string_run` does: skipping a kept array is the bulk of splitting.
fn next_structural(b: &[u8], i: usize) -> usize {
    use json::{LOW, zero_bytes};
    json::scan_words(
        b,
        i,
        // `[` and `{` differ only in bit 0x20, as do `]` and `}`.
        |x| {
            let folded = x | (0x20 * LOW);
            zero_bytes(x ^ (b'"' as u64 * LOW))
                | zero_bytes(folded ^ (b'{' as u64 * LOW))
                | zero_bytes(folded ^ (b'}' as u64 * LOW))
        },
        |c| matches!(c, b'"' | b'[' | b']' | b'{' | b'}'),
    )
}

/// `a < b` for keys, which mostly differ in their first bytes: a byte loop beats a call to
/// `memcmp` there.
#[inline(always)]
fn key_less(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

/// A key's first eight bytes as a big-endian number (zero-padded): comparing two of them orders
/// the keys as bytes, up to a tie for which the whole keys decide.
#[inline(always)]
fn key_prefix(key: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = key.len().min(8);
    p[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(p)
}

/// `a == b` for keys, by a byte loop as [`key_less`] (a slice comparison calls `bcmp`).
#[inline(always)]
fn key_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// For a key whose content starts at `b[i]`: the index of its closing quote and its
/// [`key_prefix`], when no byte of it needs a look (see [`json::plain_string_end`]) and it ends
/// eight bytes or more before the body does. A key of under eight bytes (most) ends in the first
/// word the scan reads, and its prefix is that word masked to the key's bytes.
#[inline(always)]
fn plain_key(b: &[u8], i: usize) -> Option<(usize, u64)> {
    let word = |j: usize| b.get(j..)?.first_chunk::<8>().map(|w| u64::from_le_bytes(*w));
    let mut j = i;
    // A loop even for the first word, as `json::scan_words`: written straight, LLVM computes
    // the marks in vector registers, and the round trip from and back to the general ones made
    // the sample bench 8% slower.
    loop {
        let x = word(j)?;
        let marks = json::plain_output_marks(x);
        if marks != 0 {
            let bit = marks.trailing_zeros();
            let end = j + (bit / 8) as usize;
            if (x >> (bit - 7)) as u8 != b'"' {
                return None;
            }
            let prefix = if j == i {
                // The lowest mark is the high bit of byte n: `1 << 8n`, minus one, keeps bytes 0..n.
                (x & ((marks & marks.wrapping_neg()) >> 7).wrapping_sub(1)).swap_bytes()
            } else {
                word(i)?.swap_bytes()
            };
            return Some((end, prefix));
        }
        j += 8;
    }
}

/// The length of the valid UTF-8 character that `b` starts with (its first byte not ASCII), or
/// `None` when those bytes are not one.
#[inline]
fn utf8_char_len(b: &[u8]) -> Option<usize> {
    let width = match b.first()? {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    std::str::from_utf8(b.get(..width)?).ok().map(|_| width)
}

/// Per backend: how many more of its bodies to read recording every object from the start
/// (see [`RawObject::from_body_hinted`]).
#[derive(Debug, Default)]
pub(crate) struct KeyOrderHint(AtomicU32);

impl KeyOrderHint {
    /// Bodies read with records after one found out of key order: the one in 64 that tries
    /// without costs the rereading of one object's first members.
    const BODIES: u32 = 63;
}

/// Why a pass of the transcoder stopped.
enum Restart {
    Malformed,
    /// An object read without member records had its keys out of order.
    Unsorted,
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
    /// The value's members when kept (an index into `Transcoder::kept_objects`).
    members: Option<u32>,
}

/// A JSON transcoder to Go's canonical form: the same validation and decoding rules as
/// `json::decode_first` (number literals kept, invalid UTF-8 replaced, trailing bytes ignored),
/// keys sorted with the last duplicate winning, Go's escaping; no tree is built.
///
/// Output is written lazily: input already in canonical form is owed (`pending..i`) and copied
/// in one go when something must differ (whitespace dropped, a character escaped, members
/// reordered), so a compact body with sorted keys and plain strings is never copied: the
/// output is then a slice of the input.
struct Transcoder<'a> {
    /// The input (members of a body that needs no rewriting are slices of it), and its bytes
    /// as a plain slice for the scanning loops.
    src: &'a Bytes,
    b: &'a [u8],
    i: usize,
    out: Vec<u8>,
    /// `b[pending..i]` is owed to `out` as it is.
    pending: usize,
    /// Objects nested in objects down to this depth keep their members.
    split_depth: usize,
    /// The members kept, positions relative to their object's `{`.
    kept_objects: Vec<Vec<Member>>,
    /// Decoded keys that could not be borrowed from the input.
    scratch: String,
    /// Member records of the objects being written (a stack across nesting levels).
    stack: Vec<Member>,
    /// The top-level object's members after sorting.
    top: Vec<Member>,
    /// Reusable buffers of `sort_members` (objects are sorted one at a time, innermost first).
    reorder: Vec<u8>,
    order: Vec<(u64, u32)>,
    kept: Vec<Member>,
    /// Every object records its members (see [`RawObject::transcode`]).
    record_all: bool,
    /// The pass stopped at an object read without records whose keys are out of order.
    unsorted: bool,
    /// An object read without records was read again with them.
    read_again: bool,
}

impl<'a> Transcoder<'a> {
    fn new(src: &'a Bytes) -> Self {
        let b = &src[..];
        Transcoder {
            src,
            b,
            i: 0,
            out: Vec::with_capacity(b.len() + b.len() / 16),
            pending: 0,
            split_depth: 0,
            kept_objects: Vec::new(),
            scratch: String::new(),
            stack: Vec::new(),
            top: Vec::new(),
            reorder: Vec::new(),
            order: Vec::new(),
            kept: Vec::new(),
            record_all: false,
            unsorted: false,
            read_again: false,
        }
    }

    /// See [`RawObject::transcode`].
    fn transcode(&mut self) -> Result<Option<RawObject>, Restart> {
        self.ws();
        match self.b.get(self.i) {
            Some(b'n') => {
                self.literal(b"null").map_err(|_| Restart::Malformed)?;
                return Ok(None);
            }
            Some(b'{') => {}
            _ => return Err(Restart::Malformed),
        }
        if self.object(0, true).is_err() {
            return Err(if self.unsorted { Restart::Unsorted } else { Restart::Malformed });
        }
        // Input already in canonical form (nothing rewritten, dropped or reordered) is its own
        // output: the members are slices of the body, not of a copy of it.
        let out = if self.out.is_empty() {
            self.src.slice(self.pending..self.i)
        } else {
            self.flush_to(self.i);
            Bytes::from(std::mem::take(&mut self.out))
        };
        // The top level's members, in their final (sorted) order, from the member records.
        Ok(Some(self.build(&out, &self.top, 0)))
    }

    /// A range of the input as text (input ranges are only recorded for plain strings, whose
    /// characters were each checked as UTF-8 on the way).
    fn input_str(&self, start: usize, end: usize) -> &str {
        std::str::from_utf8(&self.b[start..end]).unwrap_or_default()
    }

    fn key_text(&self, key: Key) -> &str {
        match key {
            Key::Input(s, e) => self.input_str(s, e),
            Key::Scratch(s, e) => &self.scratch[s..e],
        }
    }

    /// [`key_prefix`] of a key; for a key in the input, one eight-byte load masked to its
    /// length (a copy of a variable length is a call to `memcpy`).
    #[inline(always)]
    fn key_prefix(&self, key: Key) -> u64 {
        if let Key::Input(s, e) = key
            && let Some(Ok(word)) = self.b.get(s..s + 8).map(<[u8; 8]>::try_from)
        {
            let n = (e - s).min(8);
            return if n == 0 { 0 } else { u64::from_be_bytes(word) & (u64::MAX << (8 * (8 - n))) };
        }
        key_prefix(self.key_bytes(key))
    }

    fn key_bytes(&self, key: Key) -> &[u8] {
        match key {
            Key::Input(s, e) => &self.b[s..e],
            Key::Scratch(s, e) => &self.scratch.as_bytes()[s..e],
        }
    }

    /// Whether `key` sorts strictly after `prev` (their [`Transcoder::key_prefix`]es given): one
    /// integer comparison unless the prefixes tie.
    #[inline(always)]
    fn key_follows(&self, prev: Key, prev_prefix: u64, key: Key, prefix: u64) -> bool {
        if prefix != prev_prefix { prev_prefix < prefix } else { key_less(self.key_bytes(prev), self.key_bytes(key)) }
    }

    /// Where the byte at `i` lands in the output.
    fn vpos(&self) -> usize {
        self.out.len() + self.i - self.pending
    }

    /// Pays what is owed up to `to`.
    fn flush_to(&mut self, to: usize) {
        self.out.extend_from_slice(&self.b[self.pending..to]);
        self.pending = to;
    }

    /// [`Transcoder::flush_to`] for the few bytes spaced JSON (`", "`, `": "`, indentation) owes
    /// before every token: a copy of a constant sixteen bytes, trimmed back, is inlined moves
    /// where a copy of the exact length is a call to `memcpy`.
    #[inline(always)]
    fn flush_short_to(&mut self, to: usize) {
        let owed = to - self.pending;
        match self.b.get(self.pending..self.pending + 16).map(<&[u8; 16]>::try_from) {
            Some(Ok(window)) if owed <= 16 => {
                let len = self.out.len() + owed;
                self.out.extend_from_slice(window);
                self.out.truncate(len);
                self.pending = to;
            }
            _ => self.flush_to(to),
        }
    }

    /// Skips whitespace, which the output drops.
    #[inline(always)]
    fn ws(&mut self) {
        if matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.drop_ws();
        }
    }

    /// The byte at `i` after any whitespace (dropped). One comparison when there is none, the
    /// common case: a byte above the space is never whitespace.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        match self.b.get(self.i) {
            Some(&c) if c > b' ' => Some(c),
            _ => {
                self.ws();
                self.b.get(self.i).copied()
            }
        }
    }

    #[inline(never)]
    fn drop_ws(&mut self) {
        self.flush_short_to(self.i);
        self.i = json::skip_ws(self.b, self.i);
        self.pending = self.i;
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ()> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(())
        }
    }

    fn other_value(&mut self, c: u8, depth: usize) -> Result<(), ()> {
        match c {
            b'{' => self.object(depth, false).map(drop),
            b'[' => self.array(depth),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => Err(()),
        }
    }

    /// Reads an array, its position kept in a local as [`Transcoder::object_in_order`] does.
    fn array(&mut self, depth: usize) -> Result<(), ()> {
        let b = self.b;
        let mut i = self.i + 1;
        let mut c = self.byte_at(b, &mut i).ok_or(())?;
        if c == b']' {
            self.i = i + 1;
            return Ok(());
        }
        // As `json::decode_first`, any value (scalars too) deeper than the limit is refused;
        // checked for non-empty containers only, since a deeper container is inside one.
        if depth >= MAX_DEPTH {
            return Err(());
        }
        loop {
            i = self.value_at(b, i, c, depth + 1)?;
            match self.byte_at(b, &mut i) {
                Some(b',') => {
                    i += 1;
                    c = self.byte_at(b, &mut i).ok_or(())?;
                }
                Some(b']') => {
                    self.i = i + 1;
                    return Ok(());
                }
                _ => return Err(()),
            }
        }
    }

    /// Reads an object; when `keep`, records its final members and returns their index in
    /// `kept_objects` (the top level's go to `top`).
    fn object(&mut self, depth: usize, keep: bool) -> Result<Option<u32>, ()> {
        if !keep && !self.record_all {
            let (at, written, pending) = (self.i, self.out.len(), self.pending);
            match self.object_in_order(depth) {
                Ok(()) => return Ok(None),
                // The first such object is read again here, with records, and so is every
                // object after it (the body's other objects likely come from the same encoder).
                Err(()) if self.unsorted && !self.read_again => {
                    self.unsorted = false;
                    self.read_again = true;
                    self.record_all = true;
                    self.i = at;
                    self.out.truncate(written);
                    self.pending = pending;
                }
                Err(()) => return Err(()),
            }
        }
        let open = self.vpos();
        self.i += 1;
        let base = self.stack.len();
        let keep_children = keep && depth < self.split_depth;
        if self.peek() == Some(b'}') {
            self.i += 1;
            if depth == 0 {
                self.top.clear();
            }
            return Ok(self.keep_members(keep && depth > 0, open, false, base, 0));
        }
        if depth >= MAX_DEPTH {
            return Err(());
        }
        let mut sorted = true;
        let mut prev_prefix = 0;
        loop {
            if self.peek() != Some(b'"') {
                return Err(());
            }
            let start = self.vpos();
            let key = self.string(true)?;
            if self.peek() != Some(b':') {
                return Err(());
            }
            self.i += 1;
            let c = self.peek().ok_or(())?;
            let value_start = self.vpos();
            let members = if keep_children && c == b'{' {
                self.object(depth + 1, true)?
            } else {
                self.i = self.value_at(self.b, self.i, c, depth + 1)?;
                None
            };
            let prefix = self.key_prefix(key);
            if let Some(prev) = self.stack[base..].last() {
                sorted &= self.key_follows(prev.key, prev_prefix, key, prefix);
            }
            prev_prefix = prefix;
            self.stack.push(Member { key, start, value_start, end: self.vpos(), members });
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => break,
                _ => return Err(()),
            }
        }
        let count = if sorted {
            if depth == 0 {
                self.top.clear();
                self.top.extend_from_slice(&self.stack[base..]);
            }
            self.stack.len() - base
        } else {
            // The members must be in `out` to be moved; they end up in `kept`.
            self.flush_to(self.i);
            self.sort_members(base, depth == 0)
        };
        let kept = self.keep_members(keep && depth > 0, open, !sorted, base, count);
        self.stack.truncate(base);
        self.i += 1;
        Ok(kept)
    }

    /// [`Transcoder::object`] for an object nobody keeps, while its keys are in order: nothing
    /// recorded but the last key. Keys out of order (or repeated) end it with `unsorted` set.
    /// Member records cost the sample bench about a sixth of its instructions, and most bodies
    /// come from encoders that sort keys (Go's among them).
    ///
    /// The loop works on a local copy of the position (written back to `self.i` only around the
    /// calls that read it: whitespace, special strings, nested containers) and expects each
    /// structural byte where compact JSON has it, looking for whitespace only when it is not
    /// there. With `self.i` kept in memory and each key's prefix loaded apart, the sample bench
    /// needed 462 k instructions per run instead of 417 k, and 3% more time.
    fn object_in_order(&mut self, depth: usize) -> Result<(), ()> {
        let b = self.b;
        let mut i = self.i + 1;
        if b.get(i) != Some(&b'"') {
            i = self.ws_at(i);
            match b.get(i) {
                Some(b'}') => {
                    self.i = i + 1;
                    return Ok(());
                }
                Some(b'"') => {}
                _ => return Err(()),
            }
        }
        if depth >= MAX_DEPTH {
            return Err(());
        }
        // Before the first key: an empty key with prefix 0, which only an empty first key does
        // not follow (that object is read again with records, as any out of order).
        let mut prev = Key::Input(0, 0);
        let mut prev_prefix = 0;
        loop {
            // `b[i]` is the key's opening quote.
            let (key, prefix) = match plain_key(b, i + 1) {
                Some((end, prefix)) => {
                    let key = Key::Input(i + 1, end);
                    i = end + 1;
                    (key, prefix)
                }
                None => {
                    self.i = i;
                    let key = self.string(true)?;
                    i = self.i;
                    (key, self.key_prefix(key))
                }
            };
            if !self.key_follows(prev, prev_prefix, key, prefix) {
                self.unsorted = true;
                return Err(());
            }
            prev = key;
            prev_prefix = prefix;
            self.expect_at(b, &mut i, b':')?;
            i += 1;
            let c = self.byte_at(b, &mut i).ok_or(())?;
            i = self.value_at(b, i, c, depth + 1)?;
            let c = self.byte_at(b, &mut i).ok_or(())?;
            if c == b',' {
                i += 1;
                self.expect_at(b, &mut i, b'"')?;
            } else if c == b'}' {
                self.i = i + 1;
                return Ok(());
            } else {
                return Err(());
            }
        }
    }

    /// The position after the whitespace at `i` (dropped from the output), for loops that keep
    /// their position in a local.
    #[inline(never)]
    fn ws_at(&mut self, i: usize) -> usize {
        self.i = i;
        self.ws();
        self.i
    }

    /// Moves `i` past any whitespace to `byte`, which must follow (`b` is `self.b`): one
    /// comparison when it follows at once, as in compact JSON.
    #[inline(always)]
    fn expect_at(&mut self, b: &[u8], i: &mut usize, byte: u8) -> Result<(), ()> {
        if b.get(*i) != Some(&byte) {
            *i = self.ws_at(*i);
            if b.get(*i) != Some(&byte) {
                return Err(());
            }
        }
        Ok(())
    }

    /// [`Transcoder::peek`] for loops that keep their position `i` in a local (`b` is `self.b`).
    #[inline(always)]
    fn byte_at(&mut self, b: &[u8], i: &mut usize) -> Option<u8> {
        match b.get(*i) {
            Some(&c) if c > b' ' => Some(c),
            _ => {
                *i = self.ws_at(*i);
                b.get(*i).copied()
            }
        }
    }

    /// Reads the value whose first byte `c` is at `b[i]` (`b` is `self.b`), at nesting `depth`,
    /// and returns the position after it; for loops that keep their position in a local.
    /// Inlined into the member and element loops, so that a scalar (most values) costs no call.
    #[inline(always)]
    fn value_at(&mut self, b: &[u8], i: usize, c: u8, depth: usize) -> Result<usize, ()> {
        // Tests in order of frequency rather than one `match`, which compiles to a jump table:
        // an indirect branch that the mix of value kinds keeps mispredicting.
        if c == b'"' {
            match json::plain_string_end(b, i + 1) {
                Ok(end) => Ok(end + 1),
                Err(at) => {
                    self.i = i;
                    self.special_string(false, at)?;
                    Ok(self.i)
                }
            }
        } else if c.is_ascii_digit() || c == b'-' {
            // Go keeps number literals as they are.
            json::number_end(b, i).map_err(drop)
        } else {
            self.i = i;
            // Objects (most values that are not scalars) called straight, not through
            // `other_value`'s jump table.
            if c == b'{' {
                self.object(depth, false)?;
            } else {
                self.other_value(c, depth)?;
            }
            Ok(self.i)
        }
    }

    /// Records the `count` final members of the object opened at `open` (in `kept` after a
    /// sort, else in `stack[base..]`), positions made relative to the `{`.
    fn keep_members(&mut self, keep: bool, open: usize, sorted_out: bool, base: usize, count: usize) -> Option<u32> {
        if !keep {
            return None;
        }
        let members = if sorted_out { &self.kept[..count] } else { &self.stack[base..base + count] };
        let relative = members
            .iter()
            .map(|m| Member {
                key: m.key,
                start: m.start - open,
                value_start: m.value_start - open,
                end: m.end - open,
                members: m.members,
            })
            .collect();
        self.kept_objects.push(relative);
        u32::try_from(self.kept_objects.len() - 1).ok()
    }

    /// The object whose members are `members`, positions relative to `base` in `out`.
    fn build(&self, out: &Bytes, members: &[Member], base: usize) -> RawObject {
        let members = members
            .iter()
            .map(|m| {
                let (start, end) = (base + m.value_start, base + m.end);
                let inner = m
                    .members
                    .and_then(|k| self.kept_objects.get(k as usize))
                    .map(|kept| Box::new(self.build(out, kept, start)));
                (self.key_text(m.key).to_owned(), RawValue::Bytes(out.slice(start..end), inner))
            })
            .collect();
        RawObject { members }
    }

    /// Reorders the members `stack[base..]` (already in `out`, which ends with the last one) by
    /// key, the last of equal keys winning, into `kept`; for the top level (`top`) only the
    /// records are ordered, into `top`. Returns how many members are left.
    fn sort_members(&mut self, base: usize, top: bool) -> usize {
        let members = &self.stack[base..];
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        // Sorted as (first eight key bytes as a big-endian number, index): most keys differ in
        // those bytes, so most comparisons are one integer comparison, and the moves are 16
        // bytes instead of a whole member record. Equal prefixes fall back to the whole keys.
        order.extend(members.iter().enumerate().map(|(i, m)| (self.key_prefix(m.key), i as u32)));
        let less = |a: &(u64, u32), b: &(u64, u32)| {
            a.0 < b.0
                || (a.0 == b.0
                    && key_less(self.key_bytes(members[a.1 as usize].key), self.key_bytes(members[b.1 as usize].key)))
        };
        // Stable sorts: among equal keys the input order stays, so the last one wins. Small
        // objects (most) by insertion, cheaper than `sort_by`'s set-up; large ones by `sort_by`.
        if order.len() <= 24 {
            for i in 1..order.len() {
                let mut j = i;
                while j > 0 && less(&order[j], &order[j - 1]) {
                    order.swap(j - 1, j);
                    j -= 1;
                }
            }
        } else {
            order.sort_by(|a, b| {
                if less(a, b) {
                    std::cmp::Ordering::Less
                } else if less(b, a) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
        }
        let mut kept = std::mem::take(&mut self.kept);
        kept.clear();
        let mut last_prefix = None;
        for &(prefix, i) in &order {
            let m = members[i as usize];
            match kept.last_mut() {
                Some(last)
                    if last_prefix == Some(prefix) && key_eq(self.key_bytes(last.key), self.key_bytes(m.key)) =>
                {
                    *last = m;
                }
                _ => kept.push(m),
            }
            last_prefix = Some(prefix);
        }
        self.order = order;
        if top {
            // The top level's bytes are never written as one value, only member by member from
            // these records: its members need no moving (they are most of the body).
            self.top.clone_from(&kept);
            let count = kept.len();
            self.kept = kept;
            return count;
        }
        let region = members[0].start;
        self.reorder.clear();
        self.reorder.extend_from_slice(&self.out[region..]);
        self.out.truncate(region);
        for (i, m) in kept.iter_mut().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let new_start = self.out.len();
            self.out.extend_from_slice(&self.reorder[m.start - region..m.end - region]);
            let shift = |p: usize| p - m.start + new_start;
            *m = Member {
                key: m.key,
                start: new_start,
                value_start: shift(m.value_start),
                end: shift(m.end),
                members: m.members,
            };
        }
        let count = kept.len();
        self.kept = kept;
        count
    }

    /// Reads the string whose opening quote is at `i`. A plain string stays owed as it is, with
    /// only HTML characters and U+2028/U+2029 escaped on the way; one with escapes or invalid
    /// UTF-8 is decoded and written again with `json`'s rules (its key kept in `scratch`).
    #[inline(always)]
    fn string(&mut self, is_key: bool) -> Result<Key, ()> {
        let start = self.i + 1;
        match json::plain_string_end(self.b, start) {
            Ok(end) => {
                self.i = end + 1;
                Ok(Key::Input(start, end))
            }
            Err(at) => self.special_string(is_key, at),
        }
    }

    /// [`Transcoder::string`] once a byte other than the closing quote needs a look, at `at`.
    #[inline(never)]
    fn special_string(&mut self, is_key: bool, mut i: usize) -> Result<Key, ()> {
        let quote = self.i;
        let quote_at = self.vpos();
        let start = quote + 1;
        loop {
            let Some(&c) = self.b.get(i) else { return Err(()) };
            let escape: &[u8] = match c {
                b'"' => {
                    self.i = i + 1;
                    return Ok(Key::Input(start, i));
                }
                _ if json::FALSE_MARKS.contains(&c) => {
                    i = json::skip_plain_output(self.b, i + 1);
                    continue;
                }
                b'<' => b"\\u003c",
                b'>' => b"\\u003e",
                b'&' => b"\\u0026",
                // A character that is valid UTF-8 is kept (U+2028 and U+2029 escaped); any other
                // byte sequence is decoded and written again, invalid bytes replaced as Go does.
                // Checked per character rather than once for the whole body: most bodies are
                // ASCII, and the whole-body pass cost the sample bench 2 us of 33 (12 k of 584 k
                // instructions).
                0x80.. => match utf8_char_len(&self.b[i..]) {
                    Some(3) if self.b[i..i + 3] == [0xE2, 0x80, 0xA8] => b"\\u2028",
                    Some(3) if self.b[i..i + 3] == [0xE2, 0x80, 0xA9] => b"\\u2029",
                    Some(width) => {
                        i = json::skip_plain_output(self.b, i + width);
                        continue;
                    }
                    None => return self.decoded_string(quote, quote_at, is_key),
                },
                _ => return self.decoded_string(quote, quote_at, is_key),
            };
            let width = if c == 0xE2 { 3 } else { 1 };
            self.flush_to(i);
            self.out.extend_from_slice(escape);
            i += width;
            self.pending = i;
            i = json::skip_plain_output(self.b, i);
        }
    }

    /// [`Transcoder::string`]'s slow path: decodes the string at `quote` and writes it again.
    /// `quote_at` is where the quote lands in the output.
    fn decoded_string(&mut self, quote: usize, quote_at: usize, is_key: bool) -> Result<Key, ()> {
        // Pay what is owed before the string, or drop what was written of it.
        if self.pending <= quote {
            self.flush_to(quote);
        } else {
            self.out.truncate(quote_at);
        }
        let (decoded, next) = json::decode_string_at(self.b, None, quote).map_err(drop)?;
        json::write_str(&mut self.out, &decoded);
        self.i = next;
        self.pending = next;
        if !is_key {
            return Ok(Key::Scratch(0, 0));
        }
        let s = self.scratch.len();
        self.scratch.push_str(&decoded);
        Ok(Key::Scratch(s, self.scratch.len()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
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

    /// A test body as the `Bytes` a backend answer arrives in.
    fn bytes_of(b: &[u8]) -> Bytes {
        Bytes::copy_from_slice(b)
    }

    fn via_raw(body: &[u8]) -> Option<Vec<u8>> {
        let raw = RawObject::from_body(&bytes_of(body), 0).ok()??;
        let mut out = Vec::new();
        raw.write(&mut out);
        Some(out)
    }

    /// A small deterministic generator of JSON texts with the awkward parts: unsorted and
    /// duplicate keys, escapes, HTML characters, U+2028, non-ASCII and invalid UTF-8, every
    /// number form, whitespace, nesting.
    pub(crate) struct Gen(pub(crate) u64);

    impl Gen {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<'x>(&mut self, items: &[&'x [u8]]) -> &'x [u8] {
            items[(self.next() % items.len() as u64) as usize]
        }

        pub(crate) fn ws(&mut self, out: &mut Vec<u8>) {
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
                    b"a^b|c~d",
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

        /// Half the keys are the plain names shaping rules pick; the rest any string.
        fn key(&mut self, out: &mut Vec<u8>) {
            if self.next().is_multiple_of(2) {
                out.extend_from_slice(self.pick(&[b"\"id\"", b"\"name\"", b"\"a\"", b"\"b\""]));
            } else {
                self.string(out);
            }
        }

        pub(crate) fn object(&mut self, out: &mut Vec<u8>, depth: usize) {
            out.push(b'{');
            let members = if self.next().is_multiple_of(16) { 40 } else { self.next() % 6 };
            for i in 0..members {
                if i > 0 {
                    out.push(b',');
                }
                self.ws(out);
                self.key(out);
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

    /// Each non-ASCII character is checked where a string meets it: valid ones are kept (U+2028
    /// and U+2029 escaped), every other byte sequence (surrogates, overlong forms, code points
    /// above U+10FFFF, lone or cut-short sequences) is replaced as the tree path does, in keys
    /// and values, and whether or not the rest of the body is valid UTF-8.
    #[test]
    fn characters_are_checked_as_utf8_one_by_one_as_the_tree_decoder_does() {
        let sequences: &[&[u8]] = &[
            "é".as_bytes(),
            "\u{2028}".as_bytes(),
            "\u{2029}".as_bytes(),
            "\u{3028}".as_bytes(),
            "\u{2027}".as_bytes(),
            "\u{10FFFF}".as_bytes(),
            "😀".as_bytes(),
            b"\xed\xa0\x80",
            b"\xe0\x80\xaf",
            b"\xc0\xaf",
            b"\xf4\x90\x80\x80",
            b"\xf5\x80\x80\x80",
            b"\xe2\x80",
            b"\xe2",
            b"\xc3",
            b"\x80",
            b"\xf0\x9f\x98",
        ];
        for seq in sequences {
            for elsewhere in [&b"ok"[..], "ü".as_bytes(), b"\xff"] {
                let mut body = b"{\"k".to_vec();
                body.extend_from_slice(seq);
                body.extend_from_slice(b"\":\"v");
                body.extend_from_slice(seq);
                body.extend_from_slice(b"<\",\"z\":\"");
                body.extend_from_slice(elsewhere);
                body.extend_from_slice(b"\"}");
                // Accepted by the transcoder (not left to the tree decoder), with the same output.
                let want = via_tree(&body).expect("strings with any bytes decode");
                assert_eq!(via_raw(&body), Some(want), "{}", String::from_utf8_lossy(&body));
            }
        }
    }

    /// Objects nobody keeps are first read without member records; the first whose keys are out
    /// of order or repeated, at any depth, is read again with records (and so is the rest of the
    /// body); an object around it found unsorted afterwards has the whole body read again. Every
    /// answer is still the tree path's (sorted, the last duplicate winning).
    #[test]
    fn nested_objects_out_of_order_are_read_again_and_written_sorted() {
        let bodies: &[&[u8]] = &[
            br#"{"a":{"x":1,"y":{"q":[{"m":1,"n":2},{"n":2,"m":1}]}},"b":2}"#,
            br#"{"a":[{"k":1},{"k":1,"k":2}],"b":{"c":{"d":{"f":1,"e":2}}}}"#,
            br#"{"z":{"b":1,"a":2},"a":{"b":1,"a":2}}"#,
            br#"{"a":[[{"b":[{"d":4,"c":3}]}]]}"#,
            br#"{"a":{"y":{"d":1,"c":2},"x":1}}"#,
            br#"{"a":[{"y":[{"d":1,"c":2}],"x":1},{"y":[],"x":2}]}"#,
        ];
        for body in bodies {
            let want = via_tree(body).expect("valid JSON");
            assert_eq!(via_raw(body), Some(want), "{}", String::from_utf8_lossy(body));
        }
        // The same bodies with every object in order are read in one pass, unchanged.
        let sorted = br#"{"a":{"x":1,"y":{"q":[{"m":1,"n":2},{"m":1,"n":2}]}},"b":2}"#;
        assert_eq!(via_raw(sorted).as_deref(), Some(&sorted[..]));
        let mut read_again = false;
        assert!(matches!(RawObject::transcode(&bytes_of(sorted), 0, false, &mut read_again), Ok(Some(_))));
        assert!(!read_again);
        // Read again in place: one pass.
        assert!(matches!(RawObject::transcode(&bytes_of(bodies[0]), 0, false, &mut read_again), Ok(Some(_))));
        assert!(read_again);
        // `a` turns out unsorted after `y`'s object was read again: the pass stops.
        assert!(matches!(
            RawObject::transcode(&bytes_of(bodies[4]), 0, false, &mut read_again),
            Err(Restart::Unsorted)
        ));
        assert!(matches!(RawObject::transcode(&bytes_of(bodies[4]), 0, true, &mut read_again), Ok(Some(_))));

        // Every level of a chain near the depth limit out of order after its child: the
        // innermost is read again in place, the next one out stops the pass, and the second
        // pass records everything.
        let levels = MAX_DEPTH - 2;
        let chain = format!(r#"{}{{"b":1,"a":2}}{}"#, r#"{"z":"#.repeat(levels), r#","a":1}"#.repeat(levels));
        let want = via_tree(chain.as_bytes()).expect("within the depth limit");
        assert_eq!(via_raw(chain.as_bytes()), Some(want));
        assert!(matches!(
            RawObject::transcode(&bytes_of(chain.as_bytes()), 0, false, &mut read_again),
            Err(Restart::Unsorted)
        ));
        assert!(matches!(RawObject::transcode(&bytes_of(chain.as_bytes()), 0, true, &mut read_again), Ok(Some(_))));
    }

    /// After a body with keys out of order, a backend's next 63 bodies are read recording every
    /// object from the start, then the record-free reading is tried again; the answers are the
    /// tree path's all along.
    #[test]
    fn a_backend_sending_unsorted_keys_has_its_next_bodies_read_with_records() {
        let unsorted: &[u8] = br#"{"a":[{"y":1,"x":2}]}"#;
        let sorted: &[u8] = br#"{"a":[{"x":2,"y":1}]}"#;
        let hint = KeyOrderHint::default();
        let read = |body: &[u8]| {
            let raw = RawObject::from_body_hinted(&bytes_of(body), 0, &hint).expect("valid").expect("an object");
            let mut out = Vec::new();
            raw.write(&mut out);
            assert_eq!(Some(out), via_tree(body));
            hint.0.load(Ordering::Relaxed)
        };
        assert_eq!(read(sorted), 0);
        assert_eq!(read(unsorted), KeyOrderHint::BODIES);
        assert_eq!(read(unsorted), KeyOrderHint::BODIES - 1, "read with records: not found again");
        for left in (0..KeyOrderHint::BODIES - 1).rev() {
            assert_eq!(read(sorted), left);
        }
        assert_eq!(read(sorted), 0);
        assert_eq!(read(unsorted), KeyOrderHint::BODIES);
    }

    /// Damaged bodies (truncated, a byte replaced, dropped or doubled): the transcoder never
    /// panics, and whatever it accepts it writes exactly as the tree path does; what it refuses
    /// goes to the tree decoder, which gives KrakenD's answer.
    #[test]
    fn damaged_bodies_are_refused_or_written_as_the_tree_decoder_does() {
        const SIGNIFICANT: &[u8] = b"\"\\{}[],:0-.eE+u \x00\x1f\x7f\x80\xc3\xe2\xff";
        let mut g = Gen(0xD1B5_4A32_D192_ED03);
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let mut body = Vec::new();
            g.object(&mut body, 0);
            let at = (g.next() % body.len() as u64) as usize;
            match g.next() % 4 {
                0 => body.truncate(at),
                1 => body[at] = SIGNIFICANT[(g.next() % SIGNIFICANT.len() as u64) as usize],
                2 => {
                    body.remove(at);
                }
                _ => body.insert(at, body[at]),
            }
            match via_raw(&body) {
                Some(raw) => {
                    accepted += 1;
                    assert_eq!(Some(raw), via_tree(&body), "{}", String::from_utf8_lossy(&body));
                }
                None => refused += 1,
            }
        }
        // Both outcomes must be exercised for the comparison to mean anything.
        assert!(accepted > 2_000 && refused > 2_000, "accepted {accepted}, refused {refused}");
    }

    #[test]
    fn keys_sharing_long_prefixes_sort_and_deduplicate_as_the_tree_decoder_does() {
        let keys = [
            "abcdefghij",
            "abcdefgh",
            "abcdefghi",
            "abc",
            "ab\\u0000",
            "",
            "b",
            "abcdefgh",
            "abcdefgi",
            "\\u00e9t\\u00e9",
            "abcdefghij",
            "ab",
            "ab!",
            "ab#",
        ];
        for rotate in 0..keys.len() {
            let mut order = keys.to_vec();
            order.rotate_left(rotate);
            let members: Vec<String> = order.iter().enumerate().map(|(i, k)| format!(r#""{k}":{i}"#)).collect();
            // Nested too: only the top level is ordered by record alone.
            let body = format!(r#"{{{m},"nested":{{{m}}}}}"#, m = members.join(","));
            assert_eq!(via_raw(body.as_bytes()), via_tree(body.as_bytes()), "{body}");
            // At the very end of the body, where no eight-byte word follows a key.
            let tail = format!("{{{}}}", members.join(","));
            assert_eq!(via_raw(tail.as_bytes()), via_tree(tail.as_bytes()), "{tail}");
        }
    }

    #[test]
    fn nesting_at_the_depth_limit_is_refused_or_accepted_as_the_tree_decoder_does() {
        for levels in MAX_DEPTH - 2..=MAX_DEPTH + 2 {
            for inner in ["1", "", "{}"] {
                let body = format!(r#"{{"a":{}{inner}{}}}"#, "[".repeat(levels), "]".repeat(levels));
                let (raw, tree) = (via_raw(body.as_bytes()), via_tree(body.as_bytes()));
                assert_eq!(raw, tree, "{levels} levels around `{inner}`");
            }
        }
        assert!(
            via_tree(format!(r#"{{"a":{}1{}}}"#, "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH)).as_bytes()).is_none()
        );
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
            assert!(RawObject::from_body(&bytes_of(bad), 0).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = format!("{{\"a\":{}", "[".repeat(MAX_DEPTH + 10));
        assert!(RawObject::from_body(&bytes_of(deep.as_bytes()), 0).is_err());
        assert!(RawObject::from_body(&bytes_of(b" null "), 0).unwrap().is_none());
    }

    #[test]
    fn canonical_bodies_are_kept_as_slices_of_the_body_and_others_rewritten() {
        // Whether every member's bytes lie inside `body`'s own buffer.
        let in_body = |body: &Bytes, raw: &RawObject| {
            let range = body.as_ptr_range();
            raw.members.iter().all(|(_, v)| match v {
                RawValue::Bytes(b, _) => range.contains(&b.as_ptr()),
                RawValue::Object(_) => false,
            })
        };
        let canonical = Bytes::from_static(br#"  {"a":[1,"x"],"b":{"c":true},"d":null}"#);
        let raw = RawObject::from_body(&canonical, 0).unwrap().unwrap();
        assert!(in_body(&canonical, &raw), "a canonical body was copied");
        let mut out = Vec::new();
        raw.write(&mut out);
        assert_eq!(out, &canonical[2..]);

        for rewritten in [&br#"{"b":1,"a":2}"#[..], br#"{"a": 1}"#, br#"{"a":"<"}"#, br#"{"a":"\u0041"}"#] {
            let body = bytes_of(rewritten);
            let raw = RawObject::from_body(&body, 0).unwrap().unwrap();
            assert!(!in_body(&body, &raw), "{} was not rewritten", String::from_utf8_lossy(rewritten));
            let mut out = Vec::new();
            raw.write(&mut out);
            assert_eq!(Some(out), via_tree(rewritten), "{}", String::from_utf8_lossy(rewritten));
        }
    }

    #[test]
    fn merging_replaces_earlier_keys_and_grouping_wraps() {
        let a =
            Data::Raw(RawObject::from_body(&Bytes::from_static(br#"{"b":1,"a":{"y":2,"x":1}}"#), 1).unwrap().unwrap());
        let b = Data::Raw(RawObject::from_body(&Bytes::from_static(br#"{"c":3,"b":"late"}"#), 0).unwrap().unwrap());
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
