//! A canonical value this module wrote, split back into members ([`RawObject::split`]) when a
//! shaper looks into a value whose members the transcoder did not keep. The scans trust their
//! input to be canonical (no whitespace, valid JSON) and validate nothing.

use super::{RawObject, RawValue};
use crate::codec::json;
use bytes::Bytes;

impl RawObject {
    /// The members of a canonical value this module wrote (a member's value, say) when it is an
    /// object; `None` for any other value. Values are slices of `value`, not copies.
    pub(super) fn split(value: &Bytes) -> Option<RawObject> {
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
