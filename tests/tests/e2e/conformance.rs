//! The KrakenD conformance cases (`fixtures/cases.json`) through every door of Tributary, and the
//! checks that the case table and the comparison are sound whatever the gateway does.

use bytes::Bytes;
use tributary_e2e::case::{Body, HeaderValues, body_value};
use tributary_e2e::{Case, Door, Response, assert_all_pass, compare, family, load_cases, selected_cases};

/// Families not run: none. Every family (CORS, rate limits and circuit breakers included) runs
/// through every door.
const SKIPPED_FAMILIES: &[&str] = &[];

#[tokio::test(flavor = "multi_thread")]
async fn every_case_passes_in_process() {
    assert_all_pass(Door::InProcess, selected_cases(SKIPPED_FAMILIES)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_case_passes_over_the_local_server() {
    assert_all_pass(Door::LocalServer, selected_cases(SKIPPED_FAMILIES)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_case_passes_through_the_lambda_adapter() {
    assert_all_pass(Door::Lambda, selected_cases(SKIPPED_FAMILIES)).await;
}

#[test]
fn the_fixture_holds_89_uniquely_named_cases() {
    let cases = load_cases();
    assert_eq!(cases.len(), 89);
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 89, "case names must be unique");
    let skipped = cases.iter().filter(|c| SKIPPED_FAMILIES.contains(&family(&c.name))).count();
    assert!(skipped < cases.len(), "the skip list must leave cases to run");
}

/// A response that meets every expectation of `case`: the expected status, headers (and any value
/// for the names that only need to be present) and body.
fn response_meeting(case: &Case) -> Response {
    let mut headers = Vec::new();
    for (name, want) in case.expect.headers.iter().flat_map(|h| &h.0) {
        let lines = match want {
            None => Vec::new(),
            Some(HeaderValues::One(value)) => vec![value.clone()],
            Some(HeaderValues::Many(values)) => values.clone(),
        };
        headers.extend(lines.into_iter().map(|v| (name.to_ascii_lowercase(), v)));
    }
    for name in case.expect.headers_present.iter().flatten() {
        headers.push((name.clone(), "Version synthetic".to_owned()));
    }
    let body = match (&case.expect.body_raw, body_value(case.expect.body.as_deref()).unwrap()) {
        (Some(raw), _) => raw.clone().into_bytes(),
        (None, Some(Body::Text(text))) => text.into_bytes(),
        (None, Some(Body::Json(value))) => value.to_compact().into_bytes(),
        (None, None) => b"unchecked".to_vec(),
    };
    Response { status: case.expect.status.unwrap_or(200), headers, body: Bytes::from(body) }
}

#[test]
fn the_comparison_accepts_what_each_case_expects_and_reports_an_altered_status() {
    for mut case in load_cases() {
        let response = response_meeting(&case);
        assert_eq!(compare(&case.expect, &response), Vec::<String>::new(), "case {}", case.name);

        let status = case.expect.status.expect("every case expects a status");
        case.expect.status = Some(if status == 200 { 500 } else { 200 });
        let problems = compare(&case.expect, &response);
        assert_eq!(
            problems,
            vec![format!("status: expected {}, got {status}", case.expect.status.unwrap())],
            "case {}",
            case.name
        );
    }
}

#[test]
fn the_comparison_reports_a_wrong_body_and_a_missing_header() {
    let case =
        load_cases().into_iter().find(|c| c.name == "single_backend_object").expect("the single_backend_object case");
    let mut response = response_meeting(&case);
    response.body = Bytes::from_static(b"{\"unexpected\":true}");
    response.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("x-krakend-completed"));
    let problems = compare(&case.expect, &response);
    assert!(problems.iter().any(|p| p.starts_with("header X-Krakend-Completed: expected")), "{problems:#?}");
    assert!(problems.iter().any(|p| p.starts_with("body: $.")), "{problems:#?}");
}
