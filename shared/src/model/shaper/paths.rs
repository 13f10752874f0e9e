//! Dot paths (`a.b.0.*`) split once at start-up into [`Segment`]s, so that no request ever
//! re-parses a path. Owns only the path syntax; it must not know what a path does to a body.

/// The segment that matches every key of an object or every element of an array.
pub(crate) const WILDCARD: &str = "*";

/// One step of a dot path, with its array index precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    text: String,
    /// `Some(i)` when `text` is exactly how Go prints the integer `i` (`"0"`, `"12"`, never
    /// `"01"` or `"+1"`): only then does the segment address array element `i`.
    index: Option<usize>,
}

impl Segment {
    pub(crate) fn new(text: &str) -> Segment {
        Segment { text: text.to_owned(), index: canonical_index(text) }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn index(&self) -> Option<usize> {
        self.index
    }

    pub(crate) fn is_wildcard(&self) -> bool {
        self.text == WILDCARD
    }
}

/// Splits a dot path like Go's `strings.Split(path, ".")`: empty segments are kept, and the
/// empty string is one empty segment.
pub(crate) fn split(path: &str) -> Vec<Segment> {
    path.split('.').map(Segment::new).collect()
}

/// The array index a label stands for, if it is a canonical decimal number.
pub(crate) fn canonical_index(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let canonical = match bytes {
        [] => false,
        [b'0'] => true,
        [first, ..] => *first != b'0' && bytes.iter().all(u8::is_ascii_digit),
    };
    if canonical { text.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_empty_segments_like_go() {
        let texts = |p: &str| split(p).iter().map(|s| s.text().to_owned()).collect::<Vec<_>>();
        assert_eq!(texts("a.b.c"), ["a", "b", "c"]);
        assert_eq!(texts(""), [""]);
        assert_eq!(texts("a..b."), ["a", "", "b", ""]);
    }

    #[test]
    fn only_canonical_decimals_are_array_indices() {
        assert_eq!(canonical_index("0"), Some(0));
        assert_eq!(canonical_index("7"), Some(7));
        assert_eq!(canonical_index("120"), Some(120));
        for not_index in ["", "01", "00", "+1", "-1", "1a", " 1", "*", "1.0"] {
            assert_eq!(canonical_index(not_index), None, "{not_index:?}");
        }
    }

    #[test]
    fn index_that_overflows_is_not_an_index() {
        assert_eq!(canonical_index("99999999999999999999999999"), None);
    }

    #[test]
    fn wildcard_is_only_the_lone_star() {
        assert!(Segment::new("*").is_wildcard());
        assert!(!Segment::new("**").is_wildcard());
        assert!(!Segment::new("a*").is_wildcard());
    }
}
