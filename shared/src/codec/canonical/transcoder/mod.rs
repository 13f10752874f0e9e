//! [`Transcoder`], one pass over a body: the readers of values, arrays and objects, objects read
//! without member records while their keys come in order.

mod keys;
mod members;
mod owed;
mod strings;

use super::RawObject;
use crate::codec::json::{self, MAX_DEPTH};
use bytes::Bytes;
use keys::{Key, plain_key};
use members::Member;

/// Why a pass of the transcoder stopped.
pub(super) enum Restart {
    Malformed,
    /// An object read without member records had its keys out of order.
    Unsorted,
}

/// A JSON transcoder to Go's canonical form: the same validation and decoding rules as
/// `json::decode_first` (number literals kept, invalid UTF-8 replaced, trailing bytes ignored),
/// keys sorted with the last duplicate winning, Go's escaping; no tree is built.
///
/// Output is written lazily: input already in canonical form is owed (`pending..i`) and copied
/// in one go when something must differ (whitespace dropped, a character escaped, members
/// reordered), so a compact body with sorted keys and plain strings is never copied: the
/// output is then a slice of the input.
pub(super) struct Transcoder<'a> {
    /// The input (members of a body that needs no rewriting are slices of it), and its bytes
    /// as a plain slice for the scanning loops.
    src: &'a Bytes,
    b: &'a [u8],
    i: usize,
    out: Vec<u8>,
    /// `b[pending..i]` is owed to `out` as it is.
    pending: usize,
    /// Objects nested in objects down to this depth keep their members.
    pub(super) split_depth: usize,
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
    pub(super) record_all: bool,
    /// The pass stopped at an object read without records whose keys are out of order.
    unsorted: bool,
    /// An object read without records was read again with them.
    pub(super) read_again: bool,
}

impl<'a> Transcoder<'a> {
    pub(super) fn new(src: &'a Bytes) -> Self {
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
    pub(super) fn transcode(&mut self) -> Result<Option<RawObject>, Restart> {
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
    /// Member records are a large share of a pass's work, and most bodies come from encoders
    /// that sort keys (Go's among them).
    ///
    /// The loop works on a local copy of the position (written back to `self.i` only around the
    /// calls that read it: whitespace, special strings, nested containers) and expects each
    /// structural byte where compact JSON has it, looking for whitespace only when it is not
    /// there: `self.i` in memory is stored and reloaded at every step, a position in a local
    /// stays in a register.
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
}
