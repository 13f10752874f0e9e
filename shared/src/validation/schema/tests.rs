//! The body check's texts (gojsonschema's words for each keyword), its refusals of bodies that
//! are empty, not JSON, deep or large, and the schema compiler's errors with their place.

use super::{EMPTY_BODY, JsonSchema, MAX_DEPTH};
use serde_json::Value;

fn schema(text: &str) -> JsonSchema {
    let v: Value = serde_json::from_str(text).expect("test schema is JSON");
    match JsonSchema::new(&v) {
        Ok(s) => s,
        Err(e) => panic!("schema {text} does not compile: {e:?}"),
    }
}

/// The refusal text for `body` against `schema_text`, or `None` when it passes.
fn refusal(schema_text: &str, body: &str) -> Option<String> {
    schema(schema_text).check(body.as_bytes()).err()
}

#[test]
fn each_common_keyword_is_worded_as_gojsonschema_words_it() {
    let cases = [
        (r#"{"type":"number"}"#, r#"{"foo":42}"#, "- (root): Invalid type. Expected: number, given: object"),
        (r#"{"type":"string"}"#, "12", "- (root): Invalid type. Expected: string, given: integer"),
        (r#"{"type":"string"}"#, "1.5", "- (root): Invalid type. Expected: string, given: number"),
        (r#"{"type":"string"}"#, "null", "- (root): Invalid type. Expected: string, given: null"),
        (r#"{"type":["string","null"]}"#, "true", "- (root): Invalid type. Expected: [string,null], given: boolean"),
        (r#"{"required":["contents"]}"#, "{}", "- (root): contents is required"),
        (r#"{"properties":{"a":{"required":["b"]}}}"#, r#"{"a":{}}"#, "- a: b is required"),
        (r#"{"properties":{"age":{"minimum":0}}}"#, r#"{"age":-1}"#, "- age: Must be greater than or equal to 0"),
        (r#"{"properties":{"age":{"maximum":2.5}}}"#, r#"{"age":3}"#, "- age: Must be less than or equal to 2.5"),
        (r#"{"exclusiveMinimum":1000000}"#, "5", "- (root): Must be greater than 1e+06"),
        (r#"{"exclusiveMaximum":0.00001}"#, "5", "- (root): Must be less than 1e-05"),
        (r#"{"multipleOf":3}"#, "5", "- (root): Must be a multiple of 3"),
        (
            r#"{"properties":{"name":{"minLength":3}}}"#,
            r#"{"name":"ab"}"#,
            "- name: String length must be greater than or equal to 3",
        ),
        (r#"{"maxLength":2}"#, r#""abc""#, "- (root): String length must be less than or equal to 2"),
        (
            r#"{"properties":{"code":{"pattern":"^[A-Z]+$"}}}"#,
            r#"{"code":"ab"}"#,
            "- code: Does not match pattern '^[A-Z]+$'",
        ),
        (
            r#"{"properties":{"kind":{"enum":["a","b"]}}}"#,
            r#"{"kind":"c"}"#,
            r#"- kind: kind must be one of the following: "a", "b""#,
        ),
        (
            r#"{"enum":[1,2.50,{"b":1,"a":[true]}]}"#,
            "3",
            r#"- (root): (root) must be one of the following: 1, 2.5, {"a":[true],"b":1}"#,
        ),
        (r#"{"properties":{"k":{"const":"x"}}}"#, r#"{"k":"y"}"#, r#"- k: k does not match: "x""#),
        (
            r#"{"additionalProperties":false,"properties":{"a":{}}}"#,
            r#"{"a":1,"x":2}"#,
            "- (root): Additional property x is not allowed",
        ),
        (r#"{"format":"email"}"#, r#""nope""#, "- (root): Does not match format 'email'"),
        (r#"{"format":"date-time"}"#, r#""yesterday""#, "- (root): Does not match format 'date-time'"),
        (r#"{"format":"ipv4"}"#, r#""300.1.1.1""#, "- (root): Does not match format 'ipv4'"),
        (r#"{"format":"uuid"}"#, r#""x""#, "- (root): Does not match format 'uuid'"),
        (r#"{"minItems":2}"#, "[1]", "- (root): Array must have at least 2 items"),
        (r#"{"maxItems":1}"#, "[1,2]", "- (root): Array must have at most 1 items"),
        (r#"{"uniqueItems":true}"#, "[1,2,1]", "- (root): array items[0,2] must be unique"),
        (r#"{"items":{"type":"string"}}"#, r#"["a",2]"#, "- 1: Invalid type. Expected: string, given: integer"),
        (
            r#"{"properties":{"l":{"items":[{"type":"string"}],"additionalItems":false}}}"#,
            r#"{"l":["a","b"]}"#,
            "- l: No additional items allowed on array",
        ),
        (r#"{"minProperties":2}"#, r#"{"a":1}"#, "- (root): Must have at least 2 properties"),
        (r#"{"maxProperties":0}"#, r#"{"a":1}"#, "- (root): Must have at most 0 properties"),
        (r#"{"dependencies":{"a":["b"]}}"#, r#"{"a":1}"#, "- (root): Has a dependency on b"),
        (r#"{"not":{"type":"string"}}"#, r#""s""#, "- (root): Must not validate the schema (not)"),
        (r#"{"properties":{"x":false}}"#, r#"{"x":1}"#, "- x: False always fails validation"),
        (r#"{"contains":{"type":"string"}}"#, "[1,2]", "- (root): At least one of the items must match"),
        (
            r#"{"allOf":[{"minimum":10},{"multipleOf":2}]}"#,
            "3",
            "- (root): Must be greater than or equal to 10\n- (root): Must be a multiple of 2\n- (root): Must validate all the schemas (allOf)",
        ),
        (
            r#"{"allOf":[{"minimum":1},{"multipleOf":2}]}"#,
            "3",
            "- (root): Must be a multiple of 2\n- (root): Must validate all the schemas (allOf)",
        ),
        (
            r#"{"anyOf":[{"type":"string"},{"minimum":10}]}"#,
            "3",
            "- (root): Must validate at least one schema (anyOf)\n- (root): Must be greater than or equal to 10",
        ),
        (
            r#"{"oneOf":[{"minimum":1},{"multipleOf":3}]}"#,
            "3",
            "- (root): Must validate one and only one schema (oneOf)",
        ),
        (
            r#"{"if":{"properties":{"a":{"const":1}}},"then":{"required":["b"]}}"#,
            r#"{"a":1}"#,
            "- (root): Must validate \"then\" as \"if\" was valid\n- (root): b is required",
        ),
        (
            r#"{"if":{"properties":{"a":{"const":1}}},"else":{"required":["c"]}}"#,
            r#"{"a":2}"#,
            "- (root): Must validate \"else\" as \"if\" was not valid\n- (root): c is required",
        ),
        (
            r##"{"definitions":{"pos":{"minimum":0}},"properties":{"n":{"$ref":"#/definitions/pos"}}}"##,
            r#"{"n":-2}"#,
            "- n: Must be greater than or equal to 0",
        ),
        (
            r#"{"properties":{"a":{"properties":{"b":{"items":{"type":"null"}}}}}}"#,
            r#"{"a":{"b":[null,0]}}"#,
            "- a.b.1: Invalid type. Expected: null, given: integer",
        ),
    ];
    for (schema_text, body, want) in cases {
        assert_eq!(refusal(schema_text, body).as_deref(), Some(want), "schema {schema_text}, body {body}");
    }
}

#[test]
fn several_violations_give_one_line_each() {
    let text = refusal(
        r#"{"type":"object","required":["contents","id"],"properties":{"age":{"minimum":0},"name":{"minLength":3}}}"#,
        r#"{"age":-1,"name":"ab"}"#,
    )
    .expect("refused");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "- (root): contents is required",
            "- (root): id is required",
            "- age: Must be greater than or equal to 0",
            "- name: String length must be greater than or equal to 3",
        ]
    );
}

#[test]
fn valid_bodies_pass_and_trailing_bytes_after_the_first_value_are_ignored() {
    let s = r#"{"type":"object","required":["contents"],"properties":{"contents":{"type":"string"}}}"#;
    assert_eq!(refusal(s, r#"{"contents":"hello"}"#), None);
    // Go's json.Decoder reads the first value only.
    assert_eq!(refusal(s, r#"{"contents":"hello"} trailing"#), None);
    assert_eq!(refusal("true", "[1]"), None);
    // Draft 7 by default; `$schema` picks another draft (draft 4's boolean exclusiveMinimum).
    assert_eq!(
        refusal(r#"{"$schema":"http://json-schema.org/draft-04/schema#","minimum":1,"exclusiveMinimum":true}"#, "2"),
        None
    );
    assert!(
        refusal(r#"{"$schema":"http://json-schema.org/draft-04/schema#","minimum":1,"exclusiveMinimum":true}"#, "1")
            .is_some()
    );
    // Without `$schema`, draft 4's boolean exclusive bounds work too, as in gojsonschema's
    // mix of drafts.
    let hybrid = r#"{"properties":{"n":{"minimum":1,"exclusiveMinimum":true,"maximum":5,"exclusiveMaximum":false}}}"#;
    assert_eq!(refusal(hybrid, r#"{"n":2}"#), None);
    assert_eq!(refusal(hybrid, r#"{"n":5}"#), None);
    assert_eq!(refusal(hybrid, r#"{"n":1}"#).as_deref(), Some("- n: Must be greater than 1"));
    assert_eq!(refusal(hybrid, r#"{"n":6}"#).as_deref(), Some("- n: Must be less than or equal to 5"));
    // A property named like a keyword keeps its schema.
    assert_eq!(
        refusal(r#"{"properties":{"exclusiveMinimum":false}}"#, r#"{"exclusiveMinimum":1}"#).as_deref(),
        Some("- exclusiveMinimum: False always fails validation")
    );
    // 2019-09/2020-12 keywords are read when the schema says so.
    assert!(
        refusal(
            r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","dependentRequired":{"a":["b"]}}"#,
            r#"{"a":1}"#
        )
        .is_some()
    );
    // RE2 syntax in patterns, as the playground config writes them.
    let play = r#"{"properties":{"c":{"not":{"pattern":"(?i)password\\s*(is)?\\s*[:=]"}}}}"#;
    assert_eq!(refusal(play, r#"{"c":"hello"}"#), None);
    assert!(refusal(play, r#"{"c":"my PASSWORD is: x"}"#).is_some());
}

#[test]
fn empty_and_non_json_bodies_are_refused_with_the_decoders_words() {
    let s = r#"{"type":"object"}"#;
    assert_eq!(refusal(s, "").as_deref(), Some(EMPTY_BODY));
    assert_eq!(refusal(s, "   ").as_deref(), Some("EOF"));
    assert_eq!(refusal(s, "hello").as_deref(), Some("invalid character 'h' looking for beginning of value"));
    assert_eq!(refusal(s, r#"{"a":"#).as_deref(), Some("unexpected EOF"));
    assert_eq!(
        schema(s).check(b"\xff\xfe").err().as_deref(),
        Some("invalid character '\\xff' looking for beginning of value")
    );
}

#[test]
fn a_deeply_nested_body_is_refused_by_the_depth_limit_without_overflowing_the_stack() {
    // A recursive schema walks as deep as the body goes: the depth limit bounds it.
    let s = schema(r##"{"type":"array","items":{"$ref":"#"}}"##);
    let too_deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let refused = s.check(too_deep.as_bytes()).expect_err("too deep");
    assert!(refused.starts_with("exceeded max depth"), "{refused}");
    let one_too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert_eq!(s.check(one_too_deep.as_bytes()), Err(format!("exceeded max depth of {MAX_DEPTH}")));
    // At the limit, validated on a thread with tokio's default stack (2 MiB).
    let depth = MAX_DEPTH;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || schema(r##"{"type":"array","items":{"$ref":"#"}}"##).check(deep.as_bytes()))
        .expect("thread");
    assert_eq!(handle.join().expect("no stack overflow"), Ok(()));
    let deep_bad = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || schema(r##"{"type":"array","items":{"$ref":"#"}}"##).check(deep_bad.as_bytes()))
        .expect("thread");
    let refused = handle.join().expect("no stack overflow").expect_err("the innermost 1 is not an array");
    assert!(refused.contains("Invalid type. Expected: array, given: integer"), "{refused}");
}

#[test]
fn a_large_body_is_checked_in_one_pass() {
    let s = schema(r#"{"type":"array","items":{"type":"object","required":["id"]}}"#);
    let items: Vec<String> = (0..50_000).map(|i| format!(r#"{{"id":{i},"name":"item {i}"}}"#)).collect();
    let body = format!("[{}]", items.join(","));
    assert!(body.len() > 1 << 20);
    assert_eq!(s.check(body.as_bytes()), Ok(()));
    let bad = body.replacen(r#"{"id":49999,"#, r#"{"#, 1);
    assert_eq!(s.check(bad.as_bytes()), Err("- 49999: id is required".to_owned()));
}

#[test]
fn schema_errors_name_their_place_in_the_schema() {
    let err = |text: &str| {
        let v: Value = serde_json::from_str(text).expect("JSON");
        match JsonSchema::new(&v) {
            Ok(_) => panic!("{text} compiled"),
            Err(e) => (e.at.join("/"), e.message),
        }
    };
    let (at, msg) = err(r#"{"type": 12}"#);
    assert_eq!(at, "type");
    assert!(msg.starts_with("not a valid JSON schema"), "{msg}");
    let (at, _) = err(r#"{"properties":{"a":{"minLength":-1}}}"#);
    assert_eq!(at, "properties/a/minLength");
    let (at, msg) = err(r#"{"properties":{"a":{"pattern":"(unclosed"}}}"#);
    assert_eq!(at, "properties/a/pattern");
    assert_eq!(msg, "`(unclosed` is not a valid regular expression: unclosed group");
    let (at, msg) = err(r##"{"properties":{"a":{"$ref":"http://example.com/s.json#/x"}}}"##);
    assert_eq!(at, "properties/a/$ref");
    assert!(msg.contains("http://example.com/s.json") && msg.contains("not loaded"), "{msg}");
    let (at, msg) = err(r#"{"items":{"$ref":"file:///etc/passwd"}}"#);
    assert_eq!(at, "items/$ref");
    assert!(msg.contains("file:///etc/passwd"), "{msg}");
    let (at, msg) = err(r#"{"$ref":"other.json"}"#);
    assert_eq!(at, "$ref");
    assert!(msg.contains("`other.json`"), "{msg}");
    let (at, msg) = err(r##"{"items":{"$ref":"#/definitions/missing"}}"##);
    assert_eq!(at, "items/$ref");
    assert_eq!(msg, "`$ref` to `#/definitions/missing`: nothing in the schema at that place");
    let (at, msg) = err(r#"{"$schema":"http://example.com/my-meta#"}"#);
    assert_eq!(at, "$schema");
    assert!(msg.contains("http://example.com/my-meta"), "{msg}");
    let (at, _) = err(r#""not a schema""#);
    assert_eq!(at, "");
}
