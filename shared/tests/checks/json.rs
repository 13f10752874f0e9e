//! The JSON transcoder (`codec::canonical`) and the tree decoder (`json`) against each other and
//! against serde_json, on arbitrary bytes: the same acceptance and the same canonical bytes.

use crate::oracle;
use serde::Deserialize;
use serde_json::Value;
use tributary_core::fuzz_api::{self, Transcoded};

pub fn check(data: &[u8]) {
    // The first byte picks how deep the transcoder keeps members (shaping asks for up to a few).
    let (split_depth, body) = match data.split_first() {
        Some((d, rest)) => (usize::from(d % 4), rest),
        None => (0, data),
    };
    check_body(body, split_depth);
}

fn check_body(body: &[u8], split_depth: usize) {
    let tree = fuzz_api::decode_first(body);
    let transcoded = fuzz_api::transcode(body, split_depth);
    match (&tree, &transcoded) {
        (Ok(Value::Object(_)), Transcoded::Object(bytes)) => {
            let want = fuzz_api::encode(tree.as_ref().unwrap());
            assert_eq!(String::from_utf8_lossy(bytes), String::from_utf8_lossy(&want), "transcoder != tree encoder");
        }
        (Ok(Value::Null), Transcoded::Null) => {}
        (Ok(Value::Object(_) | Value::Null), Transcoded::Refused) => {
            panic!("the transcoder refused what the tree decoder accepts")
        }
        (Ok(_), Transcoded::Refused) | (Err(_), Transcoded::Refused) => {}
        (_, other) => panic!("the transcoder gave {other:?} where the tree decoder gave {tree:?}"),
    }
    // The key-order hint changes how a body is read, never the result.
    let hint = fuzz_api::TranscodeHint::default();
    for _ in 0..2 {
        assert_eq!(fuzz_api::transcode_hinted(body, split_depth, &hint), transcoded);
    }

    // serde_json reads the first value the same way (it leaves trailing bytes unread), except
    // where Go (and so the gateway) is more lenient: invalid UTF-8 and lone surrogates become
    // U+FFFD, and nesting deeper than serde_json's limit of 128.
    let mut de = serde_json::Deserializer::from_slice(body);
    let serde = Value::deserialize(&mut de);
    match (&tree, &serde) {
        (Ok(ours), Ok(theirs)) => assert!(oracle::json::same(ours, theirs), "{ours} != serde_json's {theirs}"),
        (Err(e), Ok(theirs)) => panic!("refused ({e}) what serde_json reads as {theirs}"),
        (Ok(ours), Err(e)) => {
            let msg = e.to_string();
            let lenient = ["recursion limit", "surrogate", "invalid unicode code point", "hex escape"];
            // Go reads a top-level `0` from `01` (the `1` is left for the next read); serde_json
            // refuses the number.
            let top_number = ours.is_number() && msg.contains("invalid number");
            assert!(
                lenient.iter().any(|m| msg.contains(m)) || std::str::from_utf8(body).is_err() || top_number,
                "accepted {ours} where serde_json says {msg}"
            );
        }
        (Err(_), Err(_)) => {}
    }

    // What the encoder writes is JSON that reads back as the same value, and encoding is stable.
    if let Ok(value) = &tree {
        let bytes = fuzz_api::encode(value);
        let again = fuzz_api::decode_first(&bytes).expect("the encoder's output decodes");
        assert_eq!(fuzz_api::encode(&again), bytes, "encoding is not stable");
        if oracle::json::depth(value) < 120 {
            let theirs: Value = serde_json::from_slice(&bytes).expect("the encoder's output is JSON for serde_json");
            assert!(oracle::json::same(value, &theirs));
        }
    }
}
