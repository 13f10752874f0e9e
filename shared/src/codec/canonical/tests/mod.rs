//! The transcoder against the tree path (`json::decode_first` then `json::encode_object_into`),
//! the reference for every byte it writes and every body it accepts.

mod generator;

pub(crate) use generator::Gen;

use super::transcoder::Restart;
use super::{Data, KeyOrderHint, RawObject, RawValue};
use crate::codec::json::{self, MAX_DEPTH};
use bytes::Bytes;
use serde_json::Value;
use std::sync::atomic::Ordering;

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
    assert!(matches!(RawObject::transcode(&bytes_of(bodies[4]), 0, false, &mut read_again), Err(Restart::Unsorted)));
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
    assert!(via_tree(format!(r#"{{"a":{}1{}}}"#, "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH)).as_bytes()).is_none());
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
    let a = Data::Raw(RawObject::from_body(&Bytes::from_static(br#"{"b":1,"a":{"y":2,"x":1}}"#), 1).unwrap().unwrap());
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
