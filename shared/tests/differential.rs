//! Differential and round-trip property tests on stable: the fuzz targets' checks
//! (`tests/checks/`, against the independent references in `tests/oracle/`) run on inputs that
//! proptest generates, 2,000 cases each (500 for whole configs). The same checks run for as long as one likes
//! under `scripts/fuzz`.

mod checks;
mod oracle;

use arbitrary::{Arbitrary, Unstructured};
use proptest::collection::vec;
use proptest::prelude::*;

/// Feeds proptest's bytes to a check through its `arbitrary` input, as libFuzzer does.
fn run<'a, T: Arbitrary<'a>>(bytes: &'a [u8], check: impl FnOnce(T)) {
    if let Ok(input) = T::arbitrary_take_rest(Unstructured::new(bytes)) {
        check(input);
    }
}

/// Bytes that look like JSON: mostly its structural characters, keys and escapes.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&b"{"[..]),
        Just(&b"}"[..]),
        Just(&b"["[..]),
        Just(&b"]"[..]),
        Just(&b","[..]),
        Just(&b":"[..]),
        Just(&b" "[..]),
        Just(&b"\"a\""[..]),
        Just(&b"\"b\""[..]),
        Just(&b"\"<&>\\u00e9\\ud83d\\ude00\""[..]),
        Just(&b"\"\\ud800\xff\""[..]),
        Just(&b"1.50"[..]),
        Just(&b"-0e+1"[..]),
        Just(&b"12345678901234567890"[..]),
        Just(&b"true"[..]),
        Just(&b"null"[..]),
        Just(&b"\"\xe2\x80\xa8\""[..]),
    ];
    (any::<u8>(), vec(piece, 0..48)).prop_map(|(depth, pieces)| {
        let mut out = vec![depth];
        pieces.iter().for_each(|p| out.extend_from_slice(p));
        out
    })
}

/// Objects that decode: a generated tree written compactly, spaced, or with keys reversed.
fn json_object() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::json!(null)),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        "[a-c<>&\u{e9}\u{2028}\\\\\"/ ]{0,6}".prop_map(serde_json::Value::String),
    ];
    let value = leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map("[abc]{0,2}|<k>", inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    (proptest::collection::btree_map("[abcd]{1,2}", value, 0..6), any::<u8>(), any::<bool>()).prop_map(
        |(m, depth, pretty)| {
            let object = serde_json::Value::Object(m.into_iter().collect());
            let mut out = vec![depth];
            if pretty {
                out.extend(serde_json::to_vec_pretty(&object).expect("serialisable"));
            } else {
                out.extend(serde_json::to_vec(&object).expect("serialisable"));
            }
            out
        },
    )
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn transcoder_tree_decoder_and_serde_json_agree_on_json_like_bytes(body in jsonish()) {
        checks::json::check(&body);
    }

    #[test]
    fn transcoder_tree_decoder_and_serde_json_agree_on_generated_objects(body in json_object()) {
        checks::json::check(&body);
    }

    #[test]
    fn shaping_trees_and_bytes_matches_the_krakend_oracle(input in bytes(512)) {
        run(&input, checks::shape::check);
    }

    #[test]
    fn go_durations_parse_as_go_parses_them(text in "[+-]?([0-9]{0,20}(\\.[0-9]{0,20})?(ns|us|µs|ms|s|m|h|d|)){1,3}") {
        checks::go_duration::check(text.as_bytes());
    }

    #[test]
    fn cache_control_and_http_dates_parse_as_httpcache_does(input in bytes(256)) {
        run(&input, checks::cache_headers::check);
    }

    #[test]
    fn route_lookups_and_path_decoding_agree_with_the_route_table(input in bytes(256)) {
        run(&input, checks::router::check);
    }

    #[test]
    fn xml_output_is_well_formed_and_reads_back_as_the_data(input in bytes(512)) {
        run(&input, checks::xml::check);
    }

    #[test]
    fn yaml_output_reads_back_as_the_data(input in bytes(512)) {
        run(&input, checks::yaml::check);
    }

    #[test]
    fn jwt_validation_refuses_unsigned_tokens_and_enforces_plain_claims(input in bytes(256)) {
        run(&input, checks::jwt::check);
    }
}

proptest! {
    // Each case compiles a whole config: fewer of them.
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn configs_mutated_from_real_ones_compile_or_fail_without_panicking(input in bytes(128)) {
        checks::config::check(&input);
    }
}
