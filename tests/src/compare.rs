//! The response a door received and its comparison with a case's `expect`, with the semantics of
//! `run_cases.py`'s `compare` and `header_ok`.

use crate::case::{Body, Expect, HeaderValues, body_value};
use crate::json::{self, json_diff, short, short_text};
use bytes::Bytes;

/// A received response: status, every header line in order (values decoded as ISO-8859-1, like
/// Python's http.client), body bytes.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Response {
    /// All values of a header (case-insensitive name), in order; `None` when absent.
    pub fn header_values(&self, name: &str) -> Option<Vec<String>> {
        header_values(&self.headers, name)
    }
}

/// All values of a header in a list of header lines; `None` when absent.
pub fn header_values(headers: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let values: Vec<String> =
        headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).collect();
    (!values.is_empty()).then_some(values)
}

/// Text of a header value as Python's http.client sees it (ISO-8859-1).
pub fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// `header_ok`: `want` None = must be absent; a list = all values in order; a string = the value
/// (several received values are compared joined with ", ").
pub fn header_ok(got: Option<&[String]>, want: Option<&HeaderValues>) -> bool {
    match (got, want) {
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some(got), Some(HeaderValues::Many(want))) => got == want.as_slice(),
        (Some(got), Some(HeaderValues::One(want))) => got.join(", ") == *want,
    }
}

/// `show_header`: "(absent)", the single value, or the list of values.
pub fn show_header(values: Option<&[String]>) -> String {
    match values {
        None => "(absent)".to_owned(),
        Some([one]) => format!("{one:?}"),
        Some(many) => format!("{many:?}"),
    }
}

/// Every way `got` differs from `expect`, one human-readable line each (empty = it matches).
pub fn compare(expect: &Expect, got: &Response) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(status) = expect.status
        && status != got.status
    {
        problems.push(format!("status: expected {status}, got {}", got.status));
    }
    for (name, want) in expect.headers.iter().flat_map(|h| &h.0) {
        let values = got.header_values(name);
        if !header_ok(values.as_deref(), want.as_ref()) {
            let want = want.as_ref().map_or("(absent)".to_owned(), |w| w.to_string());
            problems.push(format!("header {name}: expected {want}, got {}", show_header(values.as_deref())));
        }
    }
    for name in expect.headers_present.iter().flatten() {
        if got.header_values(name).is_none() {
            problems.push(format!("header {name}: expected present, got (absent)"));
        }
    }
    if let Some(raw) = &expect.body_raw
        && got.body.as_ref() != raw.as_bytes()
    {
        problems.push(format!(
            "body_raw: expected {}, got {}",
            short_text(raw.as_bytes(), 300),
            short_text(&got.body, 300)
        ));
    }
    match body_value(expect.body.as_deref()) {
        Err(e) => problems.push(format!("body: malformed expectation in the case: {e}")),
        Ok(None) => {}
        Ok(Some(Body::Text(text))) => {
            if got.body.as_ref() != text.as_bytes() {
                problems.push(format!(
                    "body: expected {}, got {}",
                    short_text(text.as_bytes(), 300),
                    short_text(&got.body, 300)
                ));
            }
        }
        Ok(Some(Body::Json(want))) => {
            let parsed = json::parse_bytes(&got.body).and_then(|value| match value.duplicate_key() {
                Some(key) => Err(format!("duplicate object key {key:?}")),
                None => Ok(value),
            });
            let diffs = match parsed {
                Ok(value) => json_diff(&want, &value, "$"),
                Err(e) => {
                    vec![format!("expected JSON {}, got {} ({e})", short(&want, 300), short_text(&got.body, 300))]
                }
            };
            problems.extend(diffs.iter().take(6).map(|d| format!("body: {d}")));
            if diffs.len() > 1 {
                problems.push(format!("body: got {}", short_text(&got.body, 300)));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(text: &str) -> Expect {
        serde_json::from_str(text).unwrap()
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    #[test]
    fn headers_are_a_case_insensitive_subset_with_null_absent_and_lists() {
        let e = expect(
            r#"{"status": 200, "headers": {"content-type": "a", "X-Gone": null,
                "Set-Cookie": ["x=1", "y=2"], "Vary": "A, B"}, "headers_present": ["X-KrakenD"]}"#,
        );
        let ok = response(
            200,
            &[
                ("Content-Type", "a"),
                ("set-cookie", "x=1"),
                ("Set-Cookie", "y=2"),
                ("vary", "A"),
                ("Vary", "B"),
                ("x-krakend", "Version 1"),
                ("X-Other", "z"),
            ],
            "",
        );
        assert_eq!(compare(&e, &ok), Vec::<String>::new());
        let bad = response(200, &[("Content-Type", "a; x"), ("X-Gone", ""), ("Set-Cookie", "y=2, x=1")], "");
        let problems = compare(&e, &bad);
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert_eq!(problems[0], r#"header content-type: expected "a", got "a; x""#);
        assert_eq!(problems[1], r#"header X-Gone: expected (absent), got """#);
        assert_eq!(problems[4], "header X-KrakenD: expected present, got (absent)");
    }

    #[test]
    fn bodies_compare_as_text_json_or_raw_bytes() {
        let text = expect(r#"{"body": ""}"#);
        assert!(compare(&text, &response(200, &[], "")).is_empty());
        assert_eq!(compare(&text, &response(200, &[], "x")), vec![r#"body: expected "", got "x""#]);

        let json = expect(r#"{"body": {"a": 1, "b": [true]}}"#);
        assert!(compare(&json, &response(200, &[], r#" {"b":[true],"a":1.0}"#)).is_empty());
        assert_eq!(
            compare(&json, &response(200, &[], r#"{"a":1,"b":[1]}"#)),
            vec!["body: $.b[0]: expected true, got 1"]
        );
        let dup = compare(&json, &response(200, &[], r#"{"a":1,"a":1,"b":[true]}"#));
        assert_eq!(dup.len(), 1);
        assert!(dup[0].starts_with("body: expected JSON"), "{dup:?}");
        let two = compare(&json, &response(200, &[], r#"{"c":1}"#));
        assert_eq!(two.len(), 4, "3 diffs and the received body: {two:?}");
        assert_eq!(two[3], r#"body: got "{\"c\":1}""#);

        let raw = expect(r#"{"body_raw": "{\"f\":1.50}"}"#);
        assert!(compare(&raw, &response(200, &[], r#"{"f":1.50}"#)).is_empty());
        assert_eq!(compare(&raw, &response(200, &[], r#"{"f":1.5}"#)).len(), 1);

        let unchecked = expect(r#"{"status": null, "body": null}"#);
        assert!(compare(&unchecked, &response(500, &[], "anything")).is_empty());
    }
}
