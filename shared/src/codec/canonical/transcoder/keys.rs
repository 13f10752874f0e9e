//! Keys: where a decoded key lives, and their byte order, decided by an eight-byte prefix and by
//! the whole keys only on a tie.

use super::Transcoder;
use crate::codec::json;

/// Where a decoded key lives: in the input (no escapes, valid UTF-8) or in the scratch buffer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Key {
    Input(usize, usize),
    Scratch(usize, usize),
}

/// `a < b` for keys, which mostly differ in their first bytes: a byte loop beats a call to
/// `memcmp` there.
#[inline(always)]
pub(super) fn key_less(a: &[u8], b: &[u8]) -> bool {
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
pub(super) fn key_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// For a key whose content starts at `b[i]`: the index of its closing quote and its
/// [`key_prefix`], when no byte of it needs a look (see [`json::plain_string_end`]) and it ends
/// eight bytes or more before the body does. A key of under eight bytes (most) ends in the first
/// word the scan reads, and its prefix is that word masked to the key's bytes.
#[inline(always)]
pub(super) fn plain_key(b: &[u8], i: usize) -> Option<(usize, u64)> {
    let word = |j: usize| b.get(j..)?.first_chunk::<8>().map(|w| u64::from_le_bytes(*w));
    let mut j = i;
    // A loop even for the first word, as `json::scan_words`: written straight, LLVM computes
    // the marks in vector registers, and the round trip from and back to the general ones on
    // every key costs more time than the vector operations save (BENCHMARKS.md).
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

impl Transcoder<'_> {
    /// A range of the input as text (input ranges are only recorded for plain strings, whose
    /// characters were each checked as UTF-8 on the way).
    fn input_str(&self, start: usize, end: usize) -> &str {
        std::str::from_utf8(&self.b[start..end]).unwrap_or_default()
    }

    pub(super) fn key_text(&self, key: Key) -> &str {
        match key {
            Key::Input(s, e) => self.input_str(s, e),
            Key::Scratch(s, e) => &self.scratch[s..e],
        }
    }

    /// [`key_prefix`] of a key; for a key in the input, one eight-byte load masked to its
    /// length (a copy of a variable length is a call to `memcpy`).
    #[inline(always)]
    pub(super) fn key_prefix(&self, key: Key) -> u64 {
        if let Key::Input(s, e) = key
            && let Some(Ok(word)) = self.b.get(s..s + 8).map(<[u8; 8]>::try_from)
        {
            let n = (e - s).min(8);
            return if n == 0 { 0 } else { u64::from_be_bytes(word) & (u64::MAX << (8 * (8 - n))) };
        }
        key_prefix(self.key_bytes(key))
    }

    pub(super) fn key_bytes(&self, key: Key) -> &[u8] {
        match key {
            Key::Input(s, e) => &self.b[s..e],
            Key::Scratch(s, e) => &self.scratch.as_bytes()[s..e],
        }
    }

    /// Whether `key` sorts strictly after `prev` (their [`Transcoder::key_prefix`]es given): one
    /// integer comparison unless the prefixes tie.
    #[inline(always)]
    pub(super) fn key_follows(&self, prev: Key, prev_prefix: u64, key: Key, prefix: u64) -> bool {
        if prefix != prev_prefix { prev_prefix < prefix } else { key_less(self.key_bytes(prev), self.key_bytes(key)) }
    }
}
