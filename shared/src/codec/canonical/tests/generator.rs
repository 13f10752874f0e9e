//! A deterministic generator of awkward JSON texts for the transcoder's tests (and shaping's).

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
