//! The transcoder's lazy output: input already canonical is owed to the output and paid in one
//! copy when something must differ; where input lands in the output; whitespace, which the
//! output drops.

use super::Transcoder;
use crate::codec::json;

impl Transcoder<'_> {
    /// Where the byte at `i` lands in the output.
    pub(super) fn vpos(&self) -> usize {
        self.out.len() + self.i - self.pending
    }

    /// Pays what is owed up to `to`.
    pub(super) fn flush_to(&mut self, to: usize) {
        self.out.extend_from_slice(&self.b[self.pending..to]);
        self.pending = to;
    }

    /// [`Transcoder::flush_to`] for the few bytes spaced JSON (`", "`, `": "`, indentation) owes
    /// before every token: a copy of a constant sixteen bytes, trimmed back, is inlined moves
    /// where a copy of the exact length is a call to `memcpy`.
    #[inline(always)]
    pub(super) fn flush_short_to(&mut self, to: usize) {
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
    pub(super) fn ws(&mut self) {
        if matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.drop_ws();
        }
    }

    /// The byte at `i` after any whitespace (dropped). One comparison when there is none, the
    /// common case: a byte above the space is never whitespace.
    #[inline(always)]
    pub(super) fn peek(&mut self) -> Option<u8> {
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

    /// The position after the whitespace at `i` (dropped from the output), for loops that keep
    /// their position in a local.
    #[inline(never)]
    pub(super) fn ws_at(&mut self, i: usize) -> usize {
        self.i = i;
        self.ws();
        self.i
    }

    /// Moves `i` past any whitespace to `byte`, which must follow (`b` is `self.b`): one
    /// comparison when it follows at once, as in compact JSON.
    #[inline(always)]
    pub(super) fn expect_at(&mut self, b: &[u8], i: &mut usize, byte: u8) -> Result<(), ()> {
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
    pub(super) fn byte_at(&mut self, b: &[u8], i: &mut usize) -> Option<u8> {
        match b.get(*i) {
            Some(&c) if c > b' ' => Some(c),
            _ => {
                *i = self.ws_at(*i);
                b.get(*i).copied()
            }
        }
    }
}
