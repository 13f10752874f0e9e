//! Strings: a plain one stays owed as it is, HTML characters and U+2028/U+2029 are escaped on
//! the way, and one with escapes or invalid UTF-8 is decoded and written again.

use super::Transcoder;
use super::keys::Key;
use crate::codec::json;

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

impl Transcoder<'_> {
    /// Reads the string whose opening quote is at `i`. A plain string stays owed as it is, with
    /// only HTML characters and U+2028/U+2029 escaped on the way; one with escapes or invalid
    /// UTF-8 is decoded and written again with `json`'s rules (its key kept in `scratch`).
    #[inline(always)]
    pub(super) fn string(&mut self, is_key: bool) -> Result<Key, ()> {
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
    pub(super) fn special_string(&mut self, is_key: bool, mut i: usize) -> Result<Key, ()> {
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
                // ASCII, and a pass over the whole body would cost every body what only
                // non-ASCII strings need.
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
